/**
 * Filter columns on disk: stored with a v2 snapshot, read instead of the
 * chunk records, kept right by log writes, rewritten by compaction, built
 * from the records for a manifest that has none.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { VdbService } from '../../src/service/service.js';
import type { StoreTuning } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const NOW = () => '2024-05-01T00:00:00.000Z';

/** A service on a fresh process's view of the database. */
const open = (path: string) => new VdbService({ path, seed: 'filter-store', now: NOW, storage: SIDECARS });

const CATS = ['a', 'b', 'c', 'd'];
const item = (i: number) => ({ text: `c${i}`, embedding: [i % 7, 1, i % 3], metadata: { cat: CATS[i % 4], n: i, ...(i % 10 === 0 ? { rare: true } : {}) }, tags: i % 5 === 0 ? ['five'] : [] });

async function seeded(path: string): Promise<VdbService> {
  const svc = open(path);
  await svc.createLibrary({ name: 'v', dim: 3, metric: 'l2' });
  await svc.addChunks('v', Array.from({ length: 200 }, (_, i) => item(i)));
  await svc.buildIndex('v', { type: 'hnsw' });
  return svc;
}

const count = (path: string, where: string[]) => open(path).countChunks('v', { where }).count;
const columnsFile = (path: string) => (JSON.parse(readFileSync(path, 'utf8')).libraries[0].filter_columns as { file: string } | null)?.file;
const recordsFile = (path: string) => (JSON.parse(readFileSync(path, 'utf8')).libraries[0].chunks as { file: string }).file;

describe('filter columns in a v2 snapshot', () => {
  it('are stored beside the records and answer filters without reading a record', async () => {
    const path = fresh();
    await seeded(path);
    const file = columnsFile(path);
    expect(file).toMatch(/^g\d{6}-\d{4}\.u32$/);
    expect(count(path, ['cat=a'])).toBe(50);
    expect(count(path, ['tag=five', 'n>=100'])).toBe(20);
    // Damage every chunk record: filters still answer, listing refuses.
    const records = join(`${path}.d`, recordsFile(path));
    writeFileSync(records, Buffer.alloc(readFileSync(records).length, 0x20));
    expect(count(path, ['cat=b', 'has:rare'])).toBe(0);
    expect(count(path, ['cat!=b', 'has:rare'])).toBe(20);
    expect(() => open(path).listChunks('v', { filter: { where: ['cat=a'] } })).toThrow(CorruptSnapshot);
  });

  it('stay right through log writes (append, edit, delete by filter) without a rewrite', async () => {
    const path = fresh();
    const svc = await seeded(path);
    const file = columnsFile(path);
    await svc.addChunks('v', Array.from({ length: 8 }, (_, i) => item(1000 + i)));
    const edited = open(path).listChunks('v', { filter: { where: ['n=3'] } }).chunks[0];
    await open(path).updateChunk(edited.id, { metadata: { cat: 'a', n: 3 } });
    const deleted = await open(path).deleteWhere('v', { where: ['cat=c'] });
    // 50 of the first 200 and 2 of the 8 appended.
    expect(deleted).toHaveLength(52);
    expect(readdirSync(`${path}.d`).some((f) => f.endsWith('.log'))).toBe(true);
    expect(columnsFile(path)).toBe(file);
    // A fresh process replays the log onto the stored columns.
    expect(count(path, ['cat=a'])).toBe(50 + 2 + 1);
    expect(count(path, ['cat=c'])).toBe(0);
    expect(count(path, ['n>=1000'])).toBe(6);
    expect(count(path, [])).toBe(200 + 8 - 52);
    // The filtered query's hits are the matching chunks.
    const res = await open(path).query('v', { embedding: [0, 1, 0], k: 100, where: ['cat=a'] });
    expect(res.hits).toHaveLength(53);
    expect(res.hits.every((h) => h.metadata.cat === 'a')).toBe(true);
  });

  it('are rewritten by compaction with the same answers, byte for byte on a second compaction', async () => {
    const path = fresh();
    const svc = await seeded(path);
    await svc.deleteWhere('v', { filter: { n: { $lt: 10 } } });
    const before = count(path, ['cat=d']);
    await open(path).compact();
    expect(count(path, ['cat=d'])).toBe(before);
    const first = readFileSync(join(`${path}.d`, columnsFile(path)!));
    await open(path).compact();
    expect(readFileSync(join(`${path}.d`, columnsFile(path)!)).equals(first)).toBe(true);
  });

  it('are built from the records for a manifest written without them', async () => {
    const path = fresh();
    await seeded(path);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    delete doc.libraries[0].filter_columns;
    // The manifest's checksum covers the rest of it (see snapshot.ts).
    const { manifest_crc32: _, ...rest } = doc;
    doc.manifest_crc32 = crc32(JSON.stringify(rest));
    writeFileSync(path, `${JSON.stringify(doc)}\n`);
    expect(count(path, ['cat=a'])).toBe(50);
    await open(path).compact();
    expect(columnsFile(path)).toBeTruthy();
  });

  it('report damage when a filter reads them; unfiltered work never does', async () => {
    const path = fresh();
    await seeded(path);
    const file = join(`${path}.d`, columnsFile(path)!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 9] ^= 0xff;
    writeFileSync(file, bytes);
    expect(open(path).countChunks('v').count).toBe(200);
    expect(() => count(path, ['cat=a'])).toThrow(CorruptSnapshot);
  });

  it("filter on doc_id and the metadata of the chunk's document, through document edits, moves and the log", async () => {
    const path = fresh();
    const svc = open(path);
    await svc.createLibrary({ name: 'v', dim: 3, metric: 'l2' });
    await svc.documents.add('v', [{ id: 'a.md', metadata: { author: 'Ada', year: 1843 } }, { id: 'b.md', metadata: { author: 'Bob', tags: ['x'] } }]);
    const chunk = (i: number, doc?: string) => ({ text: `c${i}`, embedding: [i, 1, 0], ...(doc ? { doc_id: doc } : {}) });
    await svc.addChunks('v', [chunk(0, 'a.md'), chunk(1, 'a.md'), chunk(2, 'b.md'), chunk(3)]);
    await svc.buildIndex('v', { type: 'kdtree' });
    const ids = (where: string[]) => open(path).listChunks('v', { filter: { where } }).chunks.map((c) => c.text);
    expect(ids(['doc.author=Ada'])).toEqual(['c0', 'c1']);
    expect(ids(['doc_id=b.md'])).toEqual(['c2']);
    expect(ids(['doc_id=null'])).toEqual(['c3']);
    expect(ids(['!has:doc.author'])).toEqual(['c3']);
    expect(ids(['doc.author!=Ada'])).toEqual(['c2', 'c3']);
    expect(ids(['doc.tags=x', 'doc.author=Bob'])).toEqual(['c2']);
    expect(open(path).countChunks('v', { filter: { 'doc.year': { $lt: 1900 } } }).count).toBe(2);
    // A document edit changes what its chunks match; a chunk moved to another document follows it.
    await open(path).documents.update('b.md', { metadata: { author: 'Ada' } }, 'v');
    expect(ids(['doc.author=Ada'])).toEqual(['c0', 'c1', 'c2']);
    const c1 = open(path).listChunks('v', { filter: { where: ['id!=x'] } }).chunks[1];
    await open(path).updateChunk(c1.id, { doc_id: null }, 'v');
    expect(ids(['doc.author=Ada'])).toEqual(['c0', 'c2']);
    expect(ids(['doc_id=null'])).toEqual(['c1', 'c3']);
    // Deleting a document deletes its chunks; the query plan searches among what matches.
    await open(path).documents.delete(['a.md'], 'v');
    expect(ids(['doc.author=Ada'])).toEqual(['c2']);
    const res = await open(path).query('v', { embedding: [0, 1, 0], k: 5, where: ['!has:doc.author'], explain: true });
    expect(res.hits.map((h) => h.text)).toEqual(['c1', 'c3']);
    expect(res.explain?.matches).toBe(2);
  });
});

