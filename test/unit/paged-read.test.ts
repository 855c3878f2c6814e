/**
 * A query on a large (v2) database reads only what it touches: HNSW rows one
 * by one, single chunk records, per-page checksums. It must answer exactly as a
 * fully loaded database does, and still refuse damaged files.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { seededRandom } from '../../src/domain/random.js';
import type { Metric } from '../../src/index/kernels.js';
import { nearest, VdbService } from '../../src/service/service.js';
import { SnapshotStore } from '../../src/store/store.js';
import type { StoreTuning } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const DIM = 24;
const ROWS = 1500;

function randomVector(rnd: { next(): number }, dim = DIM): number[] {
  return Array.from({ length: dim }, () => rnd.next() * 2 - 1);
}

/** HNSW over ROWS rows, then rows added (log) and one deleted after the build. */
async function build(path: string, metric: Metric): Promise<number[][]> {
  const svc = new VdbService({ path, seed: 'paged', now: () => '2024-01-01T00:00:00.000Z', storage: SIDECARS });
  const rnd = seededRandom(11);
  await svc.createLibrary({ name: 'v', dim: DIM, metric });
  await svc.addChunks('v', Array.from({ length: ROWS }, (_, i) => ({ text: `row ${i}`, metadata: { i }, embedding: randomVector(rnd) })));
  await svc.buildIndex('v', { type: 'hnsw', params: { m: 8, ef_construction: 40, ef_search: 16 } });
  await svc.addChunks('v', Array.from({ length: 20 }, (_, i) => ({ text: `late ${i}`, embedding: randomVector(rnd) })));
  return Array.from({ length: 12 }, () => randomVector(rnd));
}

const open = (path: string) => new SnapshotStore(path, undefined, SIDECARS).read().libraries[0];

describe('reading a large database in part', () => {
  for (const metric of ['cosine', 'l2', 'dot'] as Metric[]) {
    it(`answers ${metric} HNSW queries from a few rows exactly as with every row in memory`, async () => {
      const path = fresh();
      const queries = await build(path, metric);
      for (const q of queries) {
        const paged = open(path);
        const got = nearest(paged, Float32Array.from(q), 10);
        // Only the rows it touched were read: the records were never all parsed.
        expect((paged as unknown as { lazy: unknown }).lazy).not.toBeNull();
        const whole = open(path);
        whole.vectors();
        expect(got).toEqual(nearest(whole, Float32Array.from(q), 10));
      }
    });
  }

  it('answers large-k queries (the graph read whole midway, many rows one by one) as with every row in memory', async () => {
    const path = fresh();
    const queries = await build(path, 'l2');
    const lib = open(path);
    const reference = open(path);
    reference.vectors();
    // Large k widens the beam past a sixteenth of the slots: the graph is read whole midway.
    for (const q of queries) expect(nearest(lib, Float32Array.from(q), 200)).toEqual(nearest(reference, Float32Array.from(q), 200));
  });

  it('refuses a damaged vector page even when it reads only that row', async () => {
    const path = fresh();
    const queries = await build(path, 'l2');
    const [top] = nearest(open(path), Float32Array.from(queries[0]), 1);
    // The nearest row is re-scored from its vector, so its page is read; late rows live in the log.
    const row = (top.metadata as { i?: number }).i;
    expect(row).toBeTypeOf('number');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const file = join(`${path}.d`, manifest.libraries[0].vectors.file);
    const bytes = readFileSync(file);
    bytes[row! * DIM * 4 + 1] ^= 0x40;
    writeFileSync(file, bytes);
    expect(() => nearest(open(path), Float32Array.from(queries[0]), 1)).toThrow(CorruptSnapshot);
    expect(() => nearest(open(path), Float32Array.from(queries[0]), 1)).toThrow(/fails its checksum/);
  });

  it('refuses a damaged graph slot even when it reads only a few slots', async () => {
    const path = fresh();
    const queries = await build(path, 'cosine');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const index = manifest.libraries[0].index;
    const file = join(`${path}.d`, index.arrays.level0.file);
    const bytes = readFileSync(file);
    // Every search starts at the entry point, so its slot is always read.
    bytes[(index.params.entry * bytes.length) / index.params.slots] ^= 0x01;
    writeFileSync(file, bytes);
    expect(() => nearest(open(path), Float32Array.from(queries[0]), 3)).toThrow(CorruptSnapshot);
  });

  it('refuses a damaged chunk record read alone', async () => {
    const path = fresh();
    const queries = await build(path, 'l2');
    const [top] = nearest(open(path), Float32Array.from(queries[0]), 1);
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const file = join(`${path}.d`, manifest.libraries[0].chunks.file);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(`"text":"${top.text}"`, `"text":"${top.text.replace('row', 'wor')}"`));
    expect(() => nearest(open(path), Float32Array.from(queries[0]), 1)).toThrow(/fails its checksum/);
  });

  it('updates an HNSW index in place on a database read in part exactly as on one read whole', async () => {
    const path = fresh();
    await build(path, 'cosine');
    const copy = (to: string, edit: (doc: string) => string) => {
      cpSync(`${path}.d`, `${to}.d`, { recursive: true });
      writeFileSync(to, edit(readFileSync(path, 'utf8')));
    };
    const whole = fresh();
    // Without row seqs (an older vdb's manifest, so without a checksum either) a library cannot be searched page by page: every row is read.
    copy(whole, (doc) => doc.replace(/,"seqs":\{[^{}]*(\{[^{}]*\})?[^{}]*\}/g, '').replace(/,"manifest_crc32":\d+/, ''));
    const paged = fresh();
    copy(paged, (doc) => doc);
    expect(readFileSync(whole, 'utf8')).not.toContain('"seqs"');
    const arrays = async (at: string) => {
      const svc = new VdbService({ path: at, seed: 'paged', now: () => '2024-01-01T00:00:00.000Z', storage: SIDECARS });
      expect((await svc.buildIndex('v', { type: 'hnsw' })).build).toMatchObject({ mode: 'incremental', inserted: 20 });
      return open(at).indexState!.index.serialize().arrays;
    };
    const [a, b] = [await arrays(paged), await arrays(whole)];
    for (const name of Object.keys(b)) expect(Buffer.from(a[name].buffer, a[name].byteOffset, a[name].byteLength).equals(Buffer.from(b[name].buffer, b[name].byteOffset, b[name].byteLength)), name).toBe(true);
  });

  it('still reads manifests without page tables, row seqs or record offsets (older vdb)', async () => {
    const path = fresh();
    const queries = await build(path, 'cosine');
    const expected = queries.map((q) => nearest(open(path), Float32Array.from(q), 5));
    const strip = (o: unknown): unknown => {
      if (Array.isArray(o)) return o.map(strip);
      if (o === null || typeof o !== 'object') return o;
      return Object.fromEntries(Object.entries(o).filter(([k]) => !['page_crc32', 'seqs', 'offsets', 'manifest_crc32'].includes(k)).map(([k, v]) => [k, strip(v)]));
    };
    writeFileSync(path, `${JSON.stringify(strip(JSON.parse(readFileSync(path, 'utf8'))))}\n`);
    queries.forEach((q, i) => expect(nearest(open(path), Float32Array.from(q), 5)).toEqual(expected[i]));
  });
});

describe('damage found when a file is read whole', () => {
  const flipAt = (file: string, at: number) => {
    const b = readFileSync(file);
    b[at] ^= 0x01;
    writeFileSync(file, b);
  };

  it('a bit flip in a page table (.pages) is reported by a whole read, which otherwise never needs the table', async () => {
    const path = fresh();
    await build(path, 'cosine');
    const vectors = JSON.parse(readFileSync(path, 'utf8')).libraries[0].vectors;
    expect(vectors.page_crc32).toBeDefined();
    flipAt(join(`${path}.d`, vectors.page_crc32.file), 5);
    expect(() => open(path).vectors()).toThrow(/vectors: sidecar .*\.f32\.pages fails its checksum \(damaged\)/);
  });

  it('damaged level-0 arrays are reported as damage on every read after the first, not as a closed file', async () => {
    const path = fresh();
    const [q] = await build(path, 'l2');
    const level0 = JSON.parse(readFileSync(path, 'utf8')).libraries[0].index.arrays.level0;
    flipAt(join(`${path}.d`, level0.file), 4096 * 3 + 7);
    const lib = open(path);
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(() => lib.preload(), `attempt ${attempt}`).toThrow(/index\.arrays\.level0: sidecar .* fails its checksum \(damaged\)/);
      expect(() => nearest(lib, Float32Array.from(q), 10), `attempt ${attempt}`).toThrow(/fails its checksum \(damaged\)/);
    }
  });
});
