import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { hnswKind } from '../../src/index/hnsw.js';
import { METRICS, distance, prepareData, prepareQuery } from '../../src/index/kernels.js';
import type { Metric } from '../../src/index/kernels.js';
import { TopK } from '../../src/index/topk.js';
import type { SearchSpace, SerializedIndex, VectorIndex } from '../../src/index/types.js';
import { decodeArray, encodeArray } from '../../src/store/codec.js';

const SEED = 20261124;

/** Gaussian clusters: centres N(0,1), points centre + N(0, spread²); rows then queries. */
function clustered(seed: number, n: number, nq: number, dim: number, clusters: number, spread: number): { data: Float32Array; queries: Float32Array[] } {
  const r = seededRandom(seed);
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: dim }, () => r.gaussian()));
  const point = (): Float32Array => {
    const c = centres[Math.floor(r.next() * clusters)];
    return Float32Array.from(c, (x) => x + spread * r.gaussian());
  };
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) data.set(point(), i * dim);
  return { data, queries: Array.from({ length: nq }, point) };
}

/** The brute-force oracle over live rows: the same kernel and TopK the indexes use. */
function oracle(q: Float32Array, space: SearchSpace, k: number, live?: (row: number) => boolean): { keys: number[]; dists: number[] } {
  const top = new TopK(Math.min(k, space.rows));
  for (let r = 0; r < space.rows; r++) {
    if (live && !live(r)) continue;
    top.push(distance(space.metric, q, space.data, r * space.dim, space.dim), r);
  }
  const { keys, dists } = top.drain();
  return { keys: Array.from(keys), dists: Array.from(dists) };
}

function query(index: VectorIndex, q: Float32Array, space: SearchSpace, k: number): { keys: number[]; dists: number[] } {
  const top = new TopK(Math.min(k, space.rows));
  index.search(q, space, top);
  const { keys, dists } = top.drain();
  return { keys: Array.from(keys), dists: Array.from(dists) };
}

function spaceOf(metric: Metric, raw: Float32Array, dim: number): SearchSpace {
  return { metric, dim, data: prepareData(metric, raw, dim), rows: raw.length / dim, slotToRow: null };
}

const metricArb = fc.constantFrom(...METRICS);

describe('HNSW against the brute-force oracle', () => {
  it('reaches recall@10 >= 0.9 on clustered data (mean over queries, every metric)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 300, max: 1500 }),
        fc.integer({ min: 4, max: 48 }),
        fc.integer({ min: 3, max: 30 }),
        fc.integer({ min: 4, max: 16 }),
        metricArb,
        fc.integer(),
        (n, dim, clusters, m, metric, seed) => {
          const { data, queries } = clustered(seed, n, 30, dim, clusters, 0.3);
          const space = spaceOf(metric, data, dim);
          const index = hnswKind.build(space, { m, ef_construction: 100, ef_search: 48 }, { random: seededRandom(seed) });
          let hits = 0;
          for (const raw of queries) {
            const q = prepareQuery(metric, raw);
            const want = oracle(q, space, 10);
            const got = query(index, q, space, 10);
            const kth = want.dists[want.dists.length - 1];
            // Tie-aware: any row as near as the true k-th counts.
            hits += got.dists.filter((d) => d <= kth).length;
            // Whatever is offered carries its exact distance.
            got.keys.forEach((row, i) => expect(got.dists[i]).toBe(distance(metric, q, space.data, row * dim, dim)));
          }
          expect(hits / (10 * queries.length)).toBeGreaterThanOrEqual(0.9);
        },
      ),
      { seed: SEED, numRuns: 12 },
    );
  });

  it('is exact on tiny sets (n <= ef), duplicates and k > n included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 50 }),
        metricArb,
        fc.boolean(),
        fc.integer(),
        (n, dim, k, metric, dups, seed) => {
          const { data, queries } = clustered(seed, n, 5, dim, 2, 0.5);
          // Zero rows are rejected on insert; duplicates are not.
          if (dups && n > 1) data.copyWithin(0, (n - 1) * dim, n * dim);
          const space = spaceOf(metric, data, dim);
          const index = hnswKind.build(space, { m: 4, ef_construction: 16, ef_search: 40 }, { random: seededRandom(seed) });
          for (const raw of queries) {
            const q = prepareQuery(metric, raw);
            expect(query(index, q, space, k)).toEqual(oracle(q, space, k));
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('never returns a dead slot and keeps recall when slots die or move', () => {
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 1200 }), fc.integer({ min: 8, max: 32 }), fc.double({ min: 0.05, max: 0.5, noNaN: true }), metricArb, fc.integer(), (n, dim, deadShare, metric, seed) => {
        const { data, queries } = clustered(seed, n, 20, dim, 10, 0.3);
        const built = spaceOf(metric, data, dim);
        const index = hnswKind.build(built, { m: 8, ef_construction: 64, ef_search: 40 }, { random: seededRandom(seed) });
        // The library now: dead slots' rows are gone, the live ones shifted (as after deletes).
        const r = seededRandom(seed ^ 0x5eed);
        const slotToRow = new Int32Array(n);
        const rows: number[] = [];
        for (let s = 0; s < n; s++) {
          if (r.next() < deadShare) slotToRow[s] = -1;
          else {
            slotToRow[s] = rows.length;
            rows.push(s);
          }
        }
        const now = new Float32Array(rows.length * dim);
        rows.forEach((s, row) => now.set(built.data.subarray(s * dim, (s + 1) * dim), row * dim));
        const space: SearchSpace = { metric, dim, data: now, rows: rows.length, slotToRow };
        let hits = 0;
        let wanted = 0;
        for (const raw of queries) {
          const q = prepareQuery(metric, raw);
          const got = query(index, q, space, 10);
          const want = oracle(q, space, 10);
          for (const row of got.keys) expect(row >= 0 && row < rows.length).toBe(true);
          expect(new Set(got.keys).size).toBe(got.keys.length);
          got.keys.forEach((row, i) => expect(got.dists[i]).toBe(distance(metric, q, now, row * dim, dim)));
          const kth = want.dists[want.dists.length - 1];
          hits += got.dists.filter((d) => d <= kth).length;
          wanted += want.keys.length;
        }
        expect(hits / wanted).toBeGreaterThanOrEqual(0.85);
      }),
      { seed: SEED, numRuns: 10 },
    );
  });

  it('returns nothing when every slot is dead', () => {
    const { data, queries } = clustered(7, 200, 3, 8, 4, 0.3);
    const built = spaceOf('l2', data, 8);
    const index = hnswKind.build(built, { m: 6, ef_construction: 32, ef_search: 16 }, { random: seededRandom(7) });
    const space: SearchSpace = { metric: 'l2', dim: 8, data: new Float32Array(0), rows: 0, slotToRow: new Int32Array(200).fill(-1) };
    for (const q of queries) {
      const top = new TopK(5);
      index.search(q, space, top);
      expect(top.size).toBe(0);
    }
  });
});

describe('HNSW persistence and determinism', () => {
  /** Through the snapshot codec, as a save and load would. */
  function roundTrip(s: SerializedIndex): SerializedIndex {
    const params = JSON.parse(JSON.stringify(s.params)) as Record<string, number>;
    const arrays = Object.fromEntries(Object.entries(s.arrays).map(([k, a]) => [k, decodeArray(JSON.parse(JSON.stringify(encodeArray(a))))]));
    return { params, arrays };
  }

  const bytesOf = (s: SerializedIndex): Record<string, string> =>
    Object.fromEntries(Object.entries(s.arrays).map(([k, a]) => [k, Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')]));

  it('serialize -> from gives identical results', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 800 }), fc.integer({ min: 1, max: 40 }), metricArb, fc.integer(), (n, dim, metric, seed) => {
        const { data, queries } = clustered(seed, n, 10, dim, 5, 0.4);
        const space = spaceOf(metric, data, dim);
        const index = hnswKind.build(space, { m: 6, ef_construction: 40, ef_search: 20 }, { random: seededRandom(seed) });
        const again = hnswKind.from(roundTrip(index.serialize()), dim);
        expect(again.params()).toEqual(index.params());
        expect(bytesOf(again.serialize())).toEqual(bytesOf(index.serialize()));
        for (const raw of queries) {
          const q = prepareQuery(metric, raw);
          expect(query(again, q, space, 10)).toEqual(query(index, q, space, 10));
        }
      }),
      { seed: SEED, numRuns: 15 },
    );
  });

  it('builds byte-identical indexes from the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 24 }), metricArb, fc.integer(), (n, dim, metric, seed) => {
        const { data } = clustered(seed, n, 0, dim, 4, 0.4);
        const space = spaceOf(metric, data, dim);
        const a = hnswKind.build(space, { m: 5, ef_construction: 30 }, { random: seededRandom(`s${seed}`) }).serialize();
        const b = hnswKind.build(space, { m: 5, ef_construction: 30 }, { random: seededRandom(`s${seed}`) }).serialize();
        expect(b.params).toEqual(a.params);
        expect(bytesOf(b)).toEqual(bytesOf(a));
      }),
      { seed: SEED, numRuns: 15 },
    );
  });

  it('rejects inconsistent arrays with plain Errors', () => {
    const { data } = clustered(3, 100, 0, 6, 3, 0.4);
    const s = hnswKind.build(spaceOf('cosine', data, 6), { m: 4, ef_construction: 20 }, { random: seededRandom(3) }).serialize();
    const level0 = s.arrays.level0 as Int32Array;
    const broken: [string, SerializedIndex, number][] = [
      ['dim', s, 7],
      ['m', { ...s, params: { ...s.params, m: 1 } }, 6],
      ['entry', { ...s, params: { ...s.params, entry: 100 } }, 6],
      ['level0 length', { ...s, arrays: { ...s.arrays, level0: level0.slice(1) } }, 6],
      ['levels type', { ...s, arrays: { ...s.arrays, levels: new Uint32Array(100) } }, 6],
      ['link target', { ...s, arrays: { ...s.arrays, level0: Int32Array.from(level0, (v, i) => (i === 1 ? 100 : v)) } }, 6],
      ['link count', { ...s, arrays: { ...s.arrays, level0: Int32Array.from(level0, (v, i) => (i === 0 ? 99 : v)) } }, 6],
    ];
    for (const [what, bad, dim] of broken) expect(() => hnswKind.from(bad, dim), what).toThrow(Error);
    expect(() => hnswKind.from(s, 6)).not.toThrow();
  });
});
