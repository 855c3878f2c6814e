/**
 * Snapshots written by vdb before documents and user ids (test/fixtures/formats,
 * made at 2bd2c26; see make.mjs there) load, answer as that vdb did, and take
 * writes of the new kinds; a rewrite moves them to the new id table.
 */
import { cpSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { VdbService } from '../../src/service/service.js';
import { SnapshotStore } from '../../src/store/store.js';
import { ROOT, tempDir } from '../helpers/cli.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'formats');
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const NOW = () => '2024-01-01T00:00:00.000Z';
const SIDECARS = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };

type Before = Record<string, Record<string, { library: object; chunks: object[]; query: { hits: object[] } }>>;
const before = JSON.parse(readFileSync(join(FIXTURES, 'expected-before.json'), 'utf8')) as Before;

function copy(name: string): string {
  const dir = join(tmp.dir, `${name}-${Math.random().toString(36).slice(2)}`);
  cpSync(FIXTURES, dir, { recursive: true });
  return join(dir, name);
}

describe.each(['v1.vdb.json', 'v2.vdb.json'])('a %s snapshot of vdb before documents', (file) => {
  it('loads and answers as that vdb did, with doc_id null and no documents', async () => {
    const svc = new VdbService({ path: copy(file), storage: SIDECARS });
    for (const [name, want] of Object.entries(before[file])) {
      expect(svc.getLibrary(name)).toEqual({ ...want.library, document_count: 0, text_index: null });
      expect(svc.listChunks(name, { withEmbedding: true }).chunks).toEqual(want.chunks.map((c) => ({ ...c, doc_id: null })));
      const lib = svc.getLibrary(name);
      const q = await svc.query(name, { embedding: lib.dim === 26 ? Array.from({ length: 26 }, (_, i) => (i % 3) + 1) : [0.3, -0.2, 0.5, 0.1], k: 5 });
      // `score` came later than these files (another column of the same distance).
      expect(q.hits.map(({ score: _, ...h }) => h)).toEqual(want.query.hits.map((h) => ({ ...h, doc_id: null })));
      expect(svc.documents.list(name).total).toBe(0);
    }
  });

  it('takes documents, user ids and upserts, and keeps them after a rewrite', async () => {
    const path = copy(file);
    const svc = new VdbService({ path, seed: 'old', now: NOW, storage: SIDECARS });
    const [name] = Object.keys(before[file]);
    const old = before[file][name].chunks as { id: string; text: string }[];
    await svc.documents.add(name, [{ id: 'notes/a.md', title: 'A' }]);
    const dim = svc.getLibrary(name).dim;
    const embedding = Array.from({ length: dim }, (_, i) => i + 1);
    await svc.addChunks(name, [{ id: '42', doc_id: 'notes/a.md', text: 'mine', embedding }]);
    const put = await svc.putChunks(name, [{ id: old[1].id, text: 'replaced', embedding }], { onConflict: 'replace' });
    expect(put.outcomes).toEqual(['replaced']);
    const check = (s: VdbService) => {
      expect(s.getChunk('42', false, name)).toMatchObject({ doc_id: 'notes/a.md', text: 'mine' });
      expect(s.getChunk(old[0].id)).toMatchObject({ text: old[0].text, doc_id: null });
      expect(s.getChunk(old[1].id).text).toBe('replaced');
      expect(s.documents.get('notes/a.md', name)).toMatchObject({ title: 'A', chunk_count: 1 });
    };
    check(new VdbService({ path, storage: SIDECARS }));
    await svc.compact();
    check(new VdbService({ path, storage: SIDECARS }));
    if (file === 'v2.vdb.json') {
      const manifest = JSON.parse(readFileSync(path, 'utf8'));
      expect(Object.keys(manifest.libraries[0].chunks)).toEqual(['dtype', 'file', 'bytes', 'crc32', 'count', 'id_hashes', 'offsets', 'seqs']);
      expect(manifest.libraries[0].documents).toMatchObject({ dtype: 'json', count: 1 });
      // The new table finds an old generated id without reading every record.
      const lib = new SnapshotStore(path, undefined, SIDECARS).read().libraries[0];
      expect(lib.rowOf(old[0].id)).toBe(0);
    }
  });
});

it('a v2 snapshot with the older u64 id table rules ids out without reading records', () => {
  const path = copy('v2.vdb.json');
  const id = (before['v2.vdb.json'].big.chunks[2] as { id: string }).id;
  expect(new SnapshotStore(path, undefined, SIDECARS).read().libraries[0].rowOf(id)).toBe(2);
  // Damaged records: ruling an id out must not read them; finding one (no rows in that table) reads them all.
  // (The log's edits would read them at load: keep only its header.)
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  truncateSync(join(`${path}.d`, `g${String(manifest.generation).padStart(6, '0')}.log`), 16);
  const records = join(`${path}.d`, manifest.libraries[0].chunks.file);
  const bytes = readFileSync(records);
  bytes[10] ^= 0xff;
  writeFileSync(records, bytes);
  const lib = new SnapshotStore(path, undefined, SIDECARS).read().libraries[0];
  expect(lib.rowOf('chk_0000000000000000')).toBe(-1);
  expect(lib.rowOf('not a generated id')).toBe(-1);
  expect(() => lib.rowOf(id)).toThrow(CorruptSnapshot);
});
