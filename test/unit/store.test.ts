import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot, Locked } from '../../src/domain/errors.js';
import type { Database } from '../../src/domain/model.js';
import { seededRandom } from '../../src/domain/random.js';
import { VdbService } from '../../src/service/service.js';
import { encodeSnapshot } from '../../src/store/snapshot.js';
import { SnapshotStore } from '../../src/store/store.js';
import type { StoreTuning } from '../../src/store/store.js';
import { ROOT, tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const NOW = () => '2023-11-14T22:13:20.000Z';
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };

function service(path: string, storage: StoreTuning = SIDECARS): VdbService {
  return new VdbService({ path, seed: 'store-test', now: NOW, storage });
}

/** A database as it loads in a fresh process. */
function load(path: string, storage: StoreTuning = SIDECARS): Database {
  return new SnapshotStore(path, undefined, storage).read();
}

function bits(a: Float32Array | Uint32Array | Int32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function manifest(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function sidecars(path: string): string[] {
  return existsSync(`${path}.d`) ? readdirSync(`${path}.d`).sort() : [];
}

/** Every file of the database, by name, for byte comparisons. */
function allFiles(path: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = { manifest: readFileSync(path) };
  for (const f of sidecars(path)) out[f] = readFileSync(join(`${path}.d`, f));
  return out;
}

function randomVector(rnd: { next(): number }, dim: number): number[] {
  return Array.from({ length: dim }, () => rnd.next() * 2 - 1);
}

/** A v2 database with an index and some log records on top. */
async function seeded(path: string, storage: StoreTuning = SIDECARS): Promise<VdbService> {
  const svc = service(path, storage);
  const rnd = seededRandom(5);
  await svc.createLibrary({ name: 'v', dim: 8, metric: 'l2' });
  await svc.addChunks('v', Array.from({ length: 40 }, (_, i) => ({ text: `c${i}`, embedding: randomVector(rnd, 8) })));
  await svc.buildIndex('v', { type: 'kdtree', params: { leaf_size: 4 } });
  await svc.addChunks('v', [{ text: 'logged 1', embedding: randomVector(rnd, 8) }]);
  await svc.addChunks('v', [{ text: 'logged 2', embedding: randomVector(rnd, 8) }]);
  return svc;
}

describe('v2 manifest with sidecars', () => {
  it('round-trips vectors and index arrays bit for bit', async () => {
    const path = fresh();
    const svc = service(path);
    await svc.createLibrary({ name: 'v', dim: 4, metric: 'dot' });
    const special = [0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38, 0.1];
    const rnd = seededRandom(1);
    const rows = [special.slice(0, 4), special.slice(4), ...Array.from({ length: 30 }, () => randomVector(rnd, 4))];
    await svc.addChunks('v', rows.map((embedding, i) => ({ text: `r${i}`, embedding })));
    await svc.buildIndex('v', { type: 'lsh', params: { tables: 3, bits: 4 } });
    const mem = svc.store.read().libraries[0];
    const doc = manifest(path);
    expect(doc).toMatchObject({ format: 'vdb-snapshot', version: 2 });
    expect(JSON.stringify(doc)).not.toContain('base64":"A');
    const back = load(path).libraries[0];
    expect(bits(back.vectors())).toEqual(bits(Float32Array.from(rows.flat())));
    expect(bits(back.indexState!.slotSeqs)).toEqual(bits(mem.indexState!.slotSeqs));
    const [a, b] = [mem.indexState!.index.serialize(), back.indexState!.index.serialize()];
    expect(b.params).toEqual(a.params);
    for (const name of Object.keys(a.arrays)) expect(bits(b.arrays[name])).toEqual(bits(a.arrays[name]));
    expect(encodeSnapshot(load(path))).toBe(encodeSnapshot(svc.store.read()));
  });

  it('keeps small databases in v1 (the fixture still loads) and moves to v2 past the threshold', async () => {
    const fixture = load(join(ROOT, 'fixtures', 'sentences.vdb.json'), { sidecarMinBytes: 1 << 20, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 });
    expect(fixture.libraries[0].size).toBe(120);
    const path = fresh();
    const storage = { sidecarMinBytes: 4096, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
    const svc = service(path, storage);
    await svc.createLibrary({ name: 'v', dim: 64, metric: 'l2' });
    const rnd = seededRandom(2);
    await svc.addChunks('v', Array.from({ length: 10 }, () => ({ embedding: randomVector(rnd, 64) })));
    expect(manifest(path).version).toBe(1);
    expect(existsSync(`${path}.d`)).toBe(false);
    await svc.addChunks('v', Array.from({ length: 10 }, () => ({ embedding: randomVector(rnd, 64) })));
    expect(manifest(path)).toMatchObject({ version: 2, generation: 1 });
    // Chunk records, their ids, offsets and seqs, the vectors, their row codes and params, the filter columns;
    // the generation's log exists from its commit on, header only.
    expect(sidecars(path)).toEqual(['g000001-0000.json', 'g000001-0001.u32', 'g000001-0002.u32', 'g000001-0003.u32', 'g000001-0004.f32', 'g000001-0005.u32', 'g000001-0006.f32', 'g000001-0007.u32', 'g000001.log']);
    expect(load(path, storage).libraries[0].size).toBe(20);
  });

  it('is deterministic: the same commands give identical manifest, sidecars and log', async () => {
    const run = async () => {
      const path = fresh();
      // A small log budget: the run also folds the log on its own.
      const svc = await seeded(path, { sidecarMinBytes: 0, logMinBytes: 600, logMaxBytes: 8 << 20 });
      await svc.updateChunk((await svc.listChunks('v')).chunks[3].id, { text: 'edited', embedding: [1, 2, 3, 4, 5, 6, 7, 8] });
      await svc.deleteChunks([(await svc.listChunks('v')).chunks[5].id]);
      return allFiles(path);
    };
    const [a, b] = [await run(), await run()];
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(Object.keys(a).some((f) => f.endsWith('.log'))).toBe(true);
    for (const f of Object.keys(a)) expect(a[f].equals(b[f]), f).toBe(true);
  });

  it('leaves rows on disk until used: id checks use the id table, appends read no rows', async () => {
    const path = fresh();
    const svc = await seeded(path);
    await svc.compact();
    const known = svc.listChunks('v').chunks[7].id;
    // A hit reads the one record it names; the others stay on disk.
    const intact = load(path).libraries[0];
    expect(intact.rowOf(known)).toBe(7);
    expect(intact.chunks.length).toBe(42);
    // Damage every row file: anything that read rows would fail.
    const lib = (manifest(path).libraries as { chunks: { file: string }; vectors: { file: string } }[])[0];
    for (const f of [lib.chunks.file, lib.vectors.file]) flip(join(`${path}.d`, f), 0);
    const db = load(path);
    expect(db.libraries[0].size).toBe(42);
    expect(db.hasId('chk_0000000000000000')).toBe(false);
    expect(db.hasId('not-a-generated-id')).toBe(false);
    await service(path).addChunks('v', [{ text: 'appended', embedding: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    await service(path).addChunks('v', [{ id: 'my own id', text: 'appended', embedding: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    expect(() => load(path).libraries[0].rowOf(known)).toThrow(CorruptSnapshot);
    expect(() => load(path).libraries[0].chunks).toThrow(CorruptSnapshot);
  });

  it('keeps the previous generation for readers and removes older ones', async () => {
    const path = fresh();
    const svc = await seeded(path);
    await svc.compact();
    await svc.compact();
    const gens = new Set(sidecars(path).map((f) => f.slice(0, 7)));
    const g = (manifest(path).generation as number);
    expect([...gens].sort()).toEqual([`g${String(g - 1).padStart(6, '0')}`, `g${String(g).padStart(6, '0')}`]);
  });
});

describe('damaged sidecars and logs are reported, never overwritten', () => {
  // [name, damage, message, found before any row is read]
  const cases: [string, (dir: string, files: string[]) => void, RegExp, boolean][] = [
    ['flipped byte in the vectors', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.f32'))!), 5), /vectors: sidecar .*\.f32 fails its checksum \(damaged\)/, false],
    ['flipped byte in the chunk records', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.json'))!), 3), /chunks: sidecar .*\.json fails its checksum/, false],
    ['flipped byte in the id table', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.u32'))!), 3), /id_hashes: sidecar .*\.u32 fails its checksum/, true],
    ['flipped byte in the row seqs', (dir) => flip(join(dir, chunkRef(dir, 'seqs')), 9), /seqs: sidecar .*\.u32 fails its checksum/, false],
    ['short sidecar', (dir, files) => truncateSync(join(dir, files.find((f) => f.endsWith('.f32'))!), 12), /has 12 bytes, the manifest says \d+ \(truncated\)/, true],
    ['missing sidecar', (dir, files) => unlinkSync(join(dir, files.find((f) => f.endsWith('.f32'))!)), /sidecar .*\.f32 is missing/, true],
    ['corrupt log record', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.log'))!), 40), /log .* is corrupt: record 1 at byte 16 fails its checksum/, true],
    ['damaged record length', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.log'))!), 17), /record 1 at byte 16 has a damaged length/, true],
    ['foreign log', (dir, files) => flip(join(dir, files.find((f) => f.endsWith('.log'))!), 8), /belongs to generation/, true],
  ];
  it.each(cases)('%s', async (_name, damage, pattern, atLoad) => {
    const path = fresh();
    await seeded(path);
    const dir = `${path}.d`;
    const g = `g${String(manifest(path).generation).padStart(6, '0')}`;
    damage(dir, sidecars(path).filter((f) => f.startsWith(g)));
    const before = allFiles(path);
    let err: unknown;
    let loaded = false;
    try {
      const db = load(path);
      loaded = true;
      for (const lib of db.libraries) lib.vectors().length + lib.chunks.length;
    } catch (e) {
      err = e;
    }
    expect(loaded).toBe(!atLoad);
    expect(err).toBeInstanceOf(CorruptSnapshot);
    expect((err as CorruptSnapshot).display).toMatch(pattern);
    expect((err as CorruptSnapshot).display).not.toMatch(/\n/);
    // Queries and compaction refuse too, and no damaged file is ever rewritten.
    await expect(service(path).query('v', { embedding: [1, 1, 1, 1, 1, 1, 1, 1] })).rejects.toBeInstanceOf(CorruptSnapshot);
    await expect(service(path).compact()).rejects.toBeInstanceOf(CorruptSnapshot);
    // A one-chunk add reads no rows: with damage found only when rows are read, it may still log its record.
    const add = service(path).addChunks('v', [{ embedding: [1, 1, 1, 1, 1, 1, 1, 1] }]);
    if (atLoad) await expect(add).rejects.toBeInstanceOf(CorruptSnapshot);
    else await add;
    const after = allFiles(path);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const f of Object.keys(before)) if (atLoad || !f.endsWith('.log')) expect(after[f].equals(before[f]), f).toBe(true);
  });
});

describe('damaged record offsets', () => {
  it('are reported by the reads that use them (a record read alone, a compaction), and nothing is rewritten', async () => {
    const path = fresh();
    await seeded(path);
    const dir = `${path}.d`;
    flip(join(dir, chunkRef(dir, 'offsets')), 6);
    const before = allFiles(path);
    // Reading every record at once needs no offsets.
    expect(load(path).libraries[0].chunks).toHaveLength(42);
    const err = (() => {
      try {
        load(path).libraries[0].chunkAt(3);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CorruptSnapshot);
    expect((err as CorruptSnapshot).display).toMatch(/offsets: sidecar .*\.u32 fails its checksum/);
    await expect(service(path).compact()).rejects.toBeInstanceOf(CorruptSnapshot);
    const after = allFiles(path);
    for (const f of Object.keys(before)) expect(after[f].equals(before[f]), f).toBe(true);
  });
});

/** The sidecar file of the first library's chunks.<member> (read from the manifest beside the sidecar folder). */
function chunkRef(dir: string, member: 'offsets' | 'seqs'): string {
  const libs = manifest(dir.slice(0, -'.d'.length)).libraries as { chunks: Record<string, { file: string }> }[];
  return libs[0].chunks[member].file;
}

function flip(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] ^= 0xff;
  writeFileSync(file, b);
}

describe('index arrays on disk', () => {
  it('are read on first use: an append and lib show never read them, a query finds their damage', async () => {
    const path = fresh();
    const svc = service(path);
    await svc.createLibrary({ name: 'v', dim: 8, embedder: null });
    await svc.addChunks('v', Array.from({ length: 64 }, (_, i) => ({ embedding: Array.from({ length: 8 }, (_, d) => Math.sin(i * 8 + d)) })));
    await svc.buildIndex('v', { type: 'kdtree', params: { leaf_size: 4 } });
    const perm = (manifest(path).libraries as { index: { arrays: { perm: { file: string } } } }[])[0].index.arrays.perm.file;
    flip(join(`${path}.d`, perm), 0);
    await service(path).addChunks('v', [{ embedding: [1, 1, 1, 1, 1, 1, 1, 1] }]);
    expect(service(path).getLibrary('v')).toMatchObject({ chunk_count: 65, index: { type: 'kdtree', params: { leaf_size: 4 }, indexed: 64, unindexed: 1 } });
    await expect(service(path).query('v', { embedding: [1, 1, 1, 1, 1, 1, 1, 1] })).rejects.toThrow(/corrupt.*index.*(checksum|damaged)/);
  });
});

describe('chunk records read one at a time', () => {
  it('are read whole once enough were read alone: the same chunks, and damage past the switch is still found', async () => {
    const path = fresh();
    const svc = service(path);
    await svc.createLibrary({ name: 'v', dim: 4, embedder: null });
    // ~40 pages of records: the file is read whole after a quarter of that many single reads.
    const added = await svc.addChunks('v', Array.from({ length: 2000 }, (_, i) => ({ embedding: [i, 1, 2, 3], text: `chunk ${i} ${'x'.repeat(60)}`, metadata: { i } })));
    await svc.compact();
    const rnd = seededRandom(4);
    const order = added.map((c) => c.id);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const reader = service(path);
    for (const id of order) expect(reader.getChunk(id)).toMatchObject({ id, text: expect.stringMatching(/^chunk \d+ x+$/) });
    expect(order.map((id) => reader.getChunk(id).metadata.i)).toEqual(order.map((id) => added.findIndex((c) => c.id === id)));
    const records = join(`${path}.d`, (manifest(path).libraries as { chunks: { file: string } }[])[0].chunks.file);
    flip(records, 20_000);
    const damaged = service(path);
    await expect(async () => {
      for (const id of order) damaged.getChunk(id);
    }).rejects.toThrow(/checksum|damaged/);
  });
});

describe('rows added since the index was built', () => {
  it('are found among stored rows with ascending seqs (bisected) and with a re-embedded row among them (scanned)', async () => {
    const path = fresh();
    const svc = service(path);
    const vec = (i: number) => Array.from({ length: 8 }, (_, d) => Math.sin(i * 8 + d) + (d === i % 8 ? 3 : 0));
    await svc.createLibrary({ name: 'v', dim: 8, embedder: null });
    const first = await svc.addChunks('v', Array.from({ length: 60 }, (_, i) => ({ embedding: vec(i) })));
    await svc.buildIndex('v', { type: 'hnsw', params: { m: 4 } });
    await service(path).addChunks('v', Array.from({ length: 5 }, (_, i) => ({ embedding: vec(100 + i) })));
    // Compacted: the added rows are stored ones now, after the covered ones.
    await service(path).compact();
    const found = async (i: number) => (await service(path).query('v', { embedding: vec(i), k: 1 })).hits[0].distance;
    expect(service(path).getLibrary('v').index).toMatchObject({ indexed: 60, unindexed: 5 });
    for (let i = 100; i < 105; i++) expect(await found(i)).toBeCloseTo(0, 6);
    // A re-embedded stored row takes a new seq where it stands: seqs no longer ascend.
    const moved = first[3].id;
    await service(path).updateChunk(moved, { embedding: vec(200) }, 'v');
    await service(path).compact();
    expect(service(path).getLibrary('v').index).toMatchObject({ unindexed: 6 });
    expect(await found(200)).toBeCloseTo(0, 6);
    for (let i = 100; i < 105; i++) expect(await found(i)).toBeCloseTo(0, 6);
  });
});

describe('the log', () => {
  it('chunk writes append records; replaying them equals the compacted state', async () => {
    const path = fresh();
    const svc = await seeded(path);
    const rnd = seededRandom(9);
    const ids = () => svc.listChunks('v').chunks.map((c) => c.id);
    for (let step = 0; step < 40; step++) {
      const r = rnd.next();
      const all = ids();
      const pick = () => all[Math.floor(rnd.next() * all.length)];
      if (r < 0.4) await svc.addChunks('v', Array.from({ length: 1 + Math.floor(rnd.next() * 3) }, (_, i) => ({ text: `s${step}.${i}`, embedding: randomVector(rnd, 8), tags: ['t'] })));
      else if (r < 0.6) await svc.updateChunk(pick(), { metadata: { step } });
      else if (r < 0.8) await svc.updateChunk(pick(), { text: `re ${step}`, embedding: randomVector(rnd, 8) });
      else await svc.deleteChunks([pick(), pick()]);
    }
    const gen = manifest(path).generation;
    const log = `g${String(gen).padStart(6, '0')}.log`;
    expect(readFileSync(join(`${path}.d`, log)).length).toBeGreaterThan(1000);
    const replayed = encodeSnapshot(load(path));
    expect(replayed).toBe(encodeSnapshot(svc.store.read()));
    const stats = await svc.compact();
    expect(stats).toMatchObject({ format_version: 2, generation: (gen as number) + 1 });
    expect(stats.log_records_folded).toBeGreaterThanOrEqual(40);
    expect(encodeSnapshot(load(path))).toBe(replayed);
    // Queries through the index agree too.
    const q = { embedding: [0.1, -0.2, 0.3, 0, 0.5, -0.6, 0.7, 0.05], k: 5 };
    const fromLog = await new VdbService({ path, storage: SIDECARS }).query('v', q);
    expect(fromLog.hits.length).toBe(5);
  });

  it('ignores a torn tail on load and truncates it before the next append', async () => {
    const path = fresh();
    const svc = await seeded(path);
    const log = join(`${path}.d`, `g${String(manifest(path).generation).padStart(6, '0')}.log`);
    const whole = readFileSync(log);
    const count = load(path).libraries[0].size;
    // Half of a copy of the last record, as a writer killed mid-append leaves it.
    const last = whole.subarray(whole.length - (whole.length - 16) / 2);
    appendFileSync(log, last.subarray(0, last.length >> 1));
    expect(load(path).libraries[0].size).toBe(count);
    await service(path).addChunks('v', [{ text: 'after the tear', embedding: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    const after = readFileSync(log);
    expect(after.subarray(0, whole.length).equals(whole)).toBe(true);
    const lib = load(path).libraries[0];
    expect(lib.size).toBe(count + 1);
    expect(lib.chunks.at(-1)!.text).toBe('after the tear');
  });

  it('folds itself into a new generation past its budget', async () => {
    const path = fresh();
    const svc = await seeded(path, { sidecarMinBytes: 0, logMinBytes: 0, logMaxBytes: 8 << 20 });
    // logMinBytes 0: the budget is 1/8 of the data, about two single-chunk records here.
    const g0 = manifest(path).generation as number;
    for (let i = 0; i < 10; i++) await svc.addChunks('v', [{ text: `x${i}`, embedding: [i, 1, 1, 1, 1, 1, 1, 1] }]);
    expect(manifest(path).generation as number).toBeGreaterThan(g0);
    expect(load(path, { sidecarMinBytes: 0, logMinBytes: 0, logMaxBytes: 8 << 20 }).libraries[0].size).toBe(52);
  });

  it('rewrites instead of logging library and index changes', async () => {
    const path = fresh();
    const svc = await seeded(path);
    const g = manifest(path).generation as number;
    await svc.updateLibrary('v', { name: 'w' });
    expect(manifest(path).generation).toBe(g + 1);
    await svc.createLibrary({ name: 'other', dim: 2 });
    expect(manifest(path).generation).toBe(g + 2);
    expect(load(path).libraries.map((l) => l.name)).toEqual(['w', 'other']);
  });
});

describe('fencing at the commit point', () => {
  it('a writer whose files changed under it (a writer without the lock) commits nothing', async () => {
    for (const storage of [SIDECARS, { ...SIDECARS, sidecarMinBytes: 1 << 30 }]) {
      const path = fresh();
      await seeded(path, storage);
      const svc = service(path, storage);
      const before = allFiles(path);
      // Rewritten with the same bytes, as an unlocked writer or a restore would: another file now.
      const swap = () => writeFileSync(`${path}.tmp`, readFileSync(path));
      const update = svc.store.update(async (db) => {
        swap();
        renameSync(`${path}.tmp`, path);
        db.libraries[0].name = 'renamed';
      });
      await expect(update).rejects.toBeInstanceOf(Locked);
      await expect(update).rejects.toThrow(/changed while this writer held its lock .*; nothing was written/);
      const after = allFiles(path);
      expect(Object.keys(after)).toEqual(Object.keys(before));
      for (const f of Object.keys(before)) expect(after[f].equals(before[f]), f).toBe(true);
      expect(load(path, storage).libraries[0].name).toBe('v');
    }
  });

  it('a log append is refused when its log was replaced under it', async () => {
    const path = fresh();
    await seeded(path);
    const log = join(`${path}.d`, `g${String(manifest(path).generation).padStart(6, '0')}.log`);
    const svc = service(path);
    const add = svc.store.update(async (db) => {
      writeFileSync(`${log}.x`, readFileSync(log));
      renameSync(`${log}.x`, log);
      db.libraries[0].updated_at = 'later';
    });
    await expect(add).rejects.toBeInstanceOf(Locked);
  });
});

describe('manifests of older vdb (no checksum, no log made at commit)', () => {
  const legacy = (path: string) => writeFileSync(path, readFileSync(path, 'utf8').replace(/,"manifest_crc32":\d+/, ''));

  it('get their log on the first append, or its header when a killed older writer left it short', async () => {
    for (const logStart of [null, Buffer.from('VDBLOG1')]) {
      const path = fresh();
      await seeded(path);
      await service(path).compact();
      legacy(path);
      const log = join(`${path}.d`, `g${String(manifest(path).generation).padStart(6, '0')}.log`);
      if (logStart === null) unlinkSync(log);
      else writeFileSync(log, logStart);
      expect(load(path).libraries[0].size).toBe(42);
      await service(path).addChunks('v', [{ text: 'after', embedding: [1, 2, 3, 4, 5, 6, 7, 8] }]);
      expect(readFileSync(log).subarray(0, 8).toString('latin1')).toBe('VDBLOG1\n');
      expect(load(path).libraries[0].chunks.map((c) => c.text).slice(-2)).toEqual(['logged 2', 'after']);
    }
  });
});
