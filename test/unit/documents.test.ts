import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Conflict, CorruptSnapshot, InvalidInput, NotFound, UsageError } from '../../src/domain/errors.js';
import { VdbService } from '../../src/service/service.js';
import { encodeSnapshot } from '../../src/store/snapshot.js';
import { SnapshotStore } from '../../src/store/store.js';
import type { StoreTuning } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const NOW = () => '2023-11-14T22:13:20.000Z';
const ONE_FILE: StoreTuning = { sidecarMinBytes: 1 << 30, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const service = (path: string, storage: StoreTuning) => new VdbService({ path, seed: 'docs-test', now: NOW, storage });
const reload = (path: string, storage: StoreTuning) => new VdbService({ path, storage });

function files(path: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = { manifest: readFileSync(path) };
  if (existsSync(`${path}.d`)) for (const f of readdirSync(`${path}.d`)) out[f] = readFileSync(join(`${path}.d`, f));
  return out;
}

function expectSameFiles(a: Record<string, Buffer>, b: Record<string, Buffer>): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const f of Object.keys(a)) expect(b[f].equals(a[f]), f).toBe(true);
}

/** Library "v" (dim 2, l2) with documents a.md (3 chunks) and b.md (2), and one chunk in none. */
async function withDocuments(path: string, storage: StoreTuning): Promise<VdbService> {
  const svc = service(path, storage);
  await svc.createLibrary({ name: 'v', dim: 2, metric: 'l2' });
  await svc.documents.add('v', [{ id: 'a.md', title: 'A', metadata: { lang: 'en' } }, { id: 'b.md' }]);
  await svc.addChunks('v', [
    { id: 'a1', doc_id: 'a.md', text: 'a one', embedding: [1, 0] },
    { id: 'b1', doc_id: 'b.md', text: 'b one', embedding: [0, 1] },
    { id: 'a2', doc_id: 'a.md', text: 'a two', embedding: [1, 1] },
    { id: 'loose', text: 'no document', embedding: [2, 2] },
    { id: 'a3', doc_id: 'a.md', text: 'a three', embedding: [3, 1] },
    { id: 'b2', doc_id: 'b.md', text: 'b two', embedding: [1, 3] },
  ]);
  return svc;
}

describe.each([
  ['one JSON file', ONE_FILE],
  ['manifest, sidecars and log', SIDECARS],
])('documents in a %s', (_name, storage) => {
  it('deleting a document deletes its chunks in the same change; the rest stays as it was', async () => {
    const path = fresh();
    const svc = await withDocuments(path, storage);
    if (storage === SIDECARS) await svc.compact();
    expect(svc.documents.get('a.md')).toMatchObject({ title: 'A', metadata: { lang: 'en' }, chunk_count: 3, lib_id: svc.getLibrary('v').id });
    const [deleted] = await svc.documents.delete(['a.md'], 'v');
    expect(deleted).toMatchObject({ id: 'a.md', chunk_count: 3 });
    for (const s of [svc, reload(path, storage)]) {
      expect(s.listChunks('v').chunks.map((c) => [c.id, c.doc_id])).toEqual([['b1', 'b.md'], ['loose', null], ['b2', 'b.md']]);
      expect(s.documents.list('v').documents.map((d) => [d.id, d.chunk_count])).toEqual([['b.md', 2]]);
      expect(s.getLibrary('v')).toMatchObject({ chunk_count: 3, document_count: 1 });
      await expect(s.query('v', { embedding: [1, 0], k: 10 })).resolves.toMatchObject({ hits: [{ id: 'b1' }, { id: 'loose' }, { id: 'b2' }] });
    }
    if (storage === SIDECARS) {
      // One log record carried the rows and the document: replaying it gives what was in memory.
      expect((await service(path, storage).compact()).log_records_folded).toBe(1);
    }
    expect(encodeSnapshot(new SnapshotStore(path, undefined, storage).read())).toBe(encodeSnapshot(svc.store.read()));
  });

  it('refuses a delete naming an unknown document, and changes nothing', async () => {
    const path = fresh();
    await withDocuments(path, storage);
    const before = files(path);
    await expect(service(path, storage).documents.delete(['b.md', 'nope.md'])).rejects.toBeInstanceOf(NotFound);
    expectSameFiles(before, files(path));
  });

  it('chunks may only name documents of their library; update moves a chunk or takes it out', async () => {
    const path = fresh();
    const svc = await withDocuments(path, storage);
    await expect(svc.addChunks('v', [{ doc_id: 'c.md', embedding: [0, 0] }])).rejects.toThrow(/document "c.md" not found in library "v"/);
    await expect(svc.addChunks('v', [{ doc_id: '', embedding: [0, 0] }])).rejects.toBeInstanceOf(InvalidInput);
    await expect(svc.updateChunk('a1', { doc_id: 'c.md' })).rejects.toBeInstanceOf(NotFound);
    await svc.updateChunk('a1', { doc_id: 'b.md' });
    await svc.updateChunk('b2', { doc_id: null });
    const s = reload(path, storage);
    expect(s.documents.get('a.md').chunk_count).toBe(2);
    expect(s.documents.get('b.md').chunk_count).toBe(2);
    expect(s.getChunk('b2').doc_id).toBeNull();
  });

  it('document ids conflict unless skipped or replaced; an identical replacement writes nothing', async () => {
    const path = fresh();
    const svc = await withDocuments(path, storage);
    await expect(svc.documents.add('v', [{ id: 'b.md' }])).rejects.toBeInstanceOf(Conflict);
    await expect(svc.documents.add('v', [{ id: 'x' }, { id: 'x' }])).rejects.toThrow(/id "x" is given twice \(also document 1\)/);
    const skip = await svc.documents.add('v', [{ id: 'b.md', title: 'other' }, { id: 'c.md' }], { onConflict: 'skip' });
    expect(skip.outcomes).toEqual(['skipped', 'added']);
    expect(skip.documents[0]).toMatchObject({ title: null, chunk_count: 2 });
    const before = files(path);
    const same = await svc.documents.add('v', [{ id: 'a.md', title: 'A', metadata: { lang: 'en' } }], { onConflict: 'replace' });
    expect(same.outcomes).toEqual(['unchanged']);
    expectSameFiles(before, files(path));
    const changed = await service(path, storage).documents.add('v', [{ id: 'a.md', title: 'A2' }], { onConflict: 'replace' });
    expect(changed.outcomes).toEqual(['replaced']);
    expect(reload(path, storage).documents.get('a.md')).toMatchObject({ title: 'A2', metadata: {}, chunk_count: 3 });
  });

  it('re-running an ingest of the same ids with replace is byte-identical', async () => {
    const path = fresh();
    const svc = await withDocuments(path, storage);
    const lines = [
      { id: 'a1', doc_id: 'a.md', text: 'a one, edited', embedding: [1, 0.5], tags: ['x'] },
      { id: 'new', doc_id: 'b.md', text: 'new', embedding: [5, 5] },
    ];
    expect((await svc.putChunks('v', lines, { onConflict: 'replace' })).outcomes).toEqual(['replaced', 'added']);
    const once = files(path);
    const again = await service(path, storage).putChunks('v', lines, { onConflict: 'replace' });
    expect(again.outcomes).toEqual(['unchanged', 'unchanged']);
    expectSameFiles(once, files(path));
    expect(reload(path, storage).getChunk('a1')).toMatchObject({ text: 'a one, edited', tags: ['x'], doc_id: 'a.md' });
  });
});

describe('chunk ids', () => {
  it('are unique per library; an id in two libraries needs its library named', async () => {
    const path = fresh();
    const svc = service(path, ONE_FILE);
    for (const name of ['one', 'two']) await svc.createLibrary({ name, dim: 2, metric: 'l2' });
    await svc.addChunks('one', [{ id: 'same', text: 'in one', embedding: [1, 0] }]);
    await svc.addChunks('two', [{ id: 'same', text: 'in two', embedding: [0, 1] }]);
    expect(() => svc.getChunk('same')).toThrow(UsageError);
    expect(() => svc.getChunk('same')).toThrow(/chunk id "same" is in 2 libraries \("one", "two"\); say which/);
    expect(svc.getChunk('same', false, 'two').text).toBe('in two');
    await expect(svc.updateChunk('same', { text: 'x' })).rejects.toBeInstanceOf(UsageError);
    await svc.updateChunk('same', { text: 'edited' }, 'one');
    await svc.deleteChunks(['same'], 'two');
    expect(svc.getChunk('same').text).toBe('edited');
    expect(() => svc.getChunk('same', false, 'two')).toThrow(/chunk "same" not found in library "two"/);
  });

  it('take any printable string up to 256 bytes; refuse the rest before anything is written', async () => {
    const path = fresh();
    const svc = service(path, ONE_FILE);
    await svc.createLibrary({ name: 'v', dim: 1, metric: 'dot' });
    const ok = ['42', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'docs/a b.md#3', 'ü'.repeat(128), 'https://x.org/?q=1'];
    await svc.addChunks('v', ok.map((id) => ({ id, embedding: [1] })));
    const before = files(path);
    const bad: [unknown, RegExp][] = [
      [42, /id must be a string; write it as a string, e.g. "42"/],
      ['', /id must not be empty/],
      ['a\nb', /contains the unprintable character U\+000A/],
      ['\u2028', /U\+2028/],
      ['\ud800x', /U\+D800/],
      ['x'.repeat(257), /id is 257 bytes long; the most is 256/],
    ];
    for (const [id, message] of bad) {
      await expect(svc.addChunks('v', [{ embedding: [1] }, { id: id as string, embedding: [1] }])).rejects.toThrow(message);
    }
    await expect(svc.addChunks('v', [{ id: 'z', embedding: [1] }, { id: 'z', embedding: [2] }])).rejects.toThrow(/chunk 2: id "z" is given twice \(also chunk 1\)/);
    await expect(svc.addChunks('v', [{ id: 'fresh', embedding: [1] }, { id: '42', embedding: [1] }])).rejects.toThrow(/chunk 2: chunk "42" already exists in library "v"/);
    expectSameFiles(before, files(path));
    expect(reload(path, ONE_FILE).listChunks('v').chunks.map((c) => c.id)).toEqual(ok);
  });
});

describe('documents of a large library', () => {
  it('are read one by one as chunks name them, never all for an add', async () => {
    const path = fresh();
    const svc = service(path, SIDECARS);
    await svc.createLibrary({ name: 'v', dim: 2, metric: 'l2' });
    const ids = Array.from({ length: 1500 }, (_, i) => `folder/file-${String(i).padStart(4, '0')}.md`);
    await svc.documents.add('v', ids.map((id) => ({ id, title: `title of ${id}`, metadata: { path: id } })));
    await svc.compact();
    // Damage the last page of the document records: only reads of that page may fail.
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const ref = manifest.libraries[0].documents;
    expect(ref.page_crc32).toBeDefined();
    const file = join(`${path}.d`, ref.file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 20] ^= 0xff;
    writeFileSync(file, bytes);
    const s = service(path, SIDECARS);
    await s.addChunks('v', [{ id: 'c1', doc_id: ids[3], embedding: [1, 1] }]);
    await s.documents.add('v', [{ id: 'folder/new.md' }]);
    const again = service(path, SIDECARS);
    expect(again.getChunk('c1').doc_id).toBe(ids[3]);
    expect(again.getLibrary('v').document_count).toBe(1501);
    expect(() => again.documents.list('v')).toThrow(CorruptSnapshot);
    await expect(again.addChunks('v', [{ doc_id: ids[1499], embedding: [1, 1] }])).rejects.toBeInstanceOf(CorruptSnapshot);
  });
});
