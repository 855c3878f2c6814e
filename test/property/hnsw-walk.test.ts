/**
 * The WebAssembly walk (src/index/walk.ts) against the JS walk of hnsw.ts:
 * on random small graphs with many ties (small-integer vectors, duplicates),
 * seeded builds give the same bytes, and a level-0 walk leaves the same
 * heap, entry for entry, with and without dead slots; so queries answer the same.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { METRICS, prepareData, prepareQuery } from '../../src/index/kernels.js';
import { TopK } from '../../src/index/topk.js';
import type { SearchSpace, SerializedIndex } from '../../src/index/types.js';
import { useWasmWalk, wasmWalkAvailable } from '../../src/index/walk.js';

/** The private walk of HnswIndex, reached for the comparison. */
interface Walkable {
  loadQuery(q: Float32Array): void;
  descend(q: number, ep: number, stop: number): number;
  searchLayer(q: number, ep: number, level: number, ef: number, dead: Int32Array | null): void;
  qAt: number;
  entry: number;
  walks: unknown;
  ip: boolean;
  res: { size: number; d: Float64Array; id: Int32Array };
}

function bytesOf(s: SerializedIndex): Record<string, number[]> {
  const out: Record<string, number[]> = { params: Array.from(new TextEncoder().encode(JSON.stringify(s.params))) };
  for (const [name, a] of Object.entries(s.arrays)) out[name] = Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return out;
}

/** The heap after one level-0 walk from the descent's entry, as (key, id) pairs in heap order. */
function walked(index: HnswIndex, q: Float32Array, ef: number, dead: Int32Array | null, ip: boolean): [number, number][] {
  const w = index as unknown as Walkable;
  w.ip = ip;
  w.loadQuery(q);
  const ep = w.descend(w.qAt, w.entry, 0);
  w.searchLayer(w.qAt, ep, 0, ef, dead);
  return Array.from({ length: w.res.size }, (_, i) => [w.res.d[i], w.res.id[i]]);
}

describe.runIf(wasmWalkAvailable())('hnsw walk in WebAssembly', () => {
  afterEach(() => useWasmWalk(true));

  it('builds the same bytes and leaves the same heaps as the JS walk, ties and dead slots included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 200 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 2, max: 40 }),
        fc.constantFrom(...METRICS),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, dim, m, efc, metric, seed) => {
          const r = seededRandom(seed);
          // Values in -2..2 and every fifth row a copy of an earlier one: many equal distances.
          const raw = new Float32Array(n * dim);
          for (let i = 0; i < n; i++) {
            const from = Math.floor(r.next() * i);
            if (i > 0 && i % 5 === 0) raw.copyWithin(i * dim, from * dim, (from + 1) * dim);
            else for (let j = 0; j < dim; j++) raw[i * dim + j] = Math.floor(r.next() * 5) - 2;
          }
          const data = prepareData(metric, raw, dim);
          const space: SearchSpace = { metric, dim, data, rows: n, slotToRow: null };
          const params = { m, ef_construction: efc, ef_search: 8 };
          const wasm = HnswIndex.build(space, params, { random: seededRandom(seed), threads: 1 });
          useWasmWalk(false);
          const js = HnswIndex.build(space, params, { random: seededRandom(seed), threads: 1 });
          useWasmWalk(true);
          expect((wasm as unknown as Walkable).walks).not.toBeNull();
          expect((js as unknown as Walkable).walks).toBeNull();
          expect(bytesOf(wasm.serialize())).toEqual(bytesOf(js.serialize()));
          const dead = Int32Array.from({ length: n }, (_, s) => (r.next() < 0.2 ? -1 : s));
          for (let t = 0; t < 4; t++) {
            const q = prepareQuery(metric, Float32Array.from({ length: dim }, () => Math.floor(r.next() * 5) - 2));
            for (const ef of [1, 3, 12]) {
              for (const d of [null, dead]) expect(walked(wasm, q, ef, d, metric !== 'l2')).toEqual(walked(js, q, ef, d, metric !== 'l2'));
            }
            const a = new TopK(5);
            const b = new TopK(5);
            wasm.search(q, space, a, 4);
            js.search(q, space, b, 4);
            expect(a.drain()).toEqual(b.drain());
          }
        },
      ),
      { seed: 20261201, numRuns: 40 },
    );
  });

  it('walks an index reopened from its bytes as the built one does', () => {
    const dim = 16;
    const n = 600;
    const r = seededRandom('walk-reopen');
    const raw = Float32Array.from({ length: n * dim }, () => Math.round(4 * r.gaussian()));
    const data = prepareData('cosine', raw, dim);
    const space: SearchSpace = { metric: 'cosine', dim, data, rows: n, slotToRow: null };
    const built = HnswIndex.build(space, { m: 8, ef_construction: 32 }, { random: seededRandom(1), threads: 1 });
    const reopened = HnswIndex.from(built.serialize(), dim);
    useWasmWalk(false);
    const js = HnswIndex.from(built.serialize(), dim);
    for (let t = 0; t < 20; t++) {
      const q = prepareQuery('cosine', Float32Array.from({ length: dim }, () => Math.round(4 * r.gaussian())));
      const want = walked(js, q, 24, null, true);
      expect(walked(reopened, q, 24, null, true)).toEqual(want);
      expect(walked(built, q, 24, null, true)).toEqual(want);
    }
  });
});
