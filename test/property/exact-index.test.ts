import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INDEX_KINDS } from '../../src/index/registry.js';
import { seededRandom } from '../../src/domain/random.js';
import { TopK } from '../../src/index/topk.js';
import type { Metric } from '../../src/index/kernels.js';
import type { IndexType, SearchSpace, VectorIndex } from '../../src/index/types.js';
import { encodeArray, decodeArray } from '../../src/store/codec.js';
import { makeSpace, oracle, prepareQuery } from '../helpers/oracle.js';

const METRICS: Metric[] = ['l2', 'cosine', 'dot'];

/** Small integer coordinates make duplicates and exact distance ties common. */
const dataset = fc
  .record({
    dim: fc.integer({ min: 1, max: 64 }),
    n: fc.integer({ min: 1, max: 120 }),
    k: fc.integer({ min: 1, max: 140 }),
    leaf: fc.integer({ min: 1, max: 20 }),
    seed: fc.integer({ min: 0, max: 1e9 }),
    duplicates: fc.boolean(),
  })
  .map(({ dim, n, k, leaf, seed, duplicates }) => {
    const rnd = seededRandom(seed);
    const raw = new Float32Array(n * dim);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rnd.next() * 7) - 3;
    if (duplicates) for (let r = 1; r < n; r += 3) raw.copyWithin(r * dim, (r - 1) * dim, r * dim);
    // Cosine needs non-zero vectors (the service rejects zero ones).
    for (let r = 0; r < n; r++) if (raw.subarray(r * dim, (r + 1) * dim).every((x) => x === 0)) raw[r * dim] = 1;
    const q = new Float32Array(dim);
    for (let i = 0; i < dim; i++) q[i] = Math.floor(rnd.next() * 7) - 3;
    if (q.every((x) => x === 0)) q[0] = 2;
    return { dim, n, k, leaf, raw, q };
  });

function search(index: VectorIndex, space: SearchSpace, q: Float32Array, k: number) {
  const top = new TopK(Math.min(k, space.rows));
  index.search(prepareQuery(space.metric, q), space, top);
  const { keys, dists } = top.drain();
  return { rows: Array.from(keys), dists: Array.from(dists) };
}

function roundTrip(type: IndexType, index: VectorIndex, dim: number): VectorIndex {
  const s = index.serialize();
  const arrays = Object.fromEntries(Object.entries(s.arrays).map(([k, a]) => [k, decodeArray(JSON.parse(JSON.stringify(encodeArray(a))))]));
  return INDEX_KINDS[type].from({ params: JSON.parse(JSON.stringify(s.params)), arrays }, dim);
}

describe.each(['linear', 'kdtree'] as const)('%s index equals the brute-force oracle', (type) => {
  it.each(METRICS)('metric %s', (metric) => {
    fc.assert(
      fc.property(dataset, ({ dim, k, leaf, raw, q }) => {
        const space = makeSpace(metric, raw, dim);
        const params = type === 'kdtree' ? { leaf_size: leaf } : {};
        const index = INDEX_KINDS[type].build(space, params, { random: seededRandom(1) });
        const want = oracle(space, prepareQuery(metric, q), k);
        expect(search(index, space, q, k)).toEqual(want);
        expect(search(roundTrip(type, index, dim), space, q, k)).toEqual(want);
      }),
      { seed: 4242, numRuns: 120 },
    );
  });
});

describe('kdtree with dead slots', () => {
  it.each(METRICS)('skips dead slots and stays exact over the live ones (%s)', (metric) => {
    fc.assert(
      fc.property(dataset, fc.integer({ min: 0, max: 1e9 }), ({ dim, k, leaf, raw, q }, killSeed) => {
        const space = makeSpace(metric, raw, dim);
        const index = INDEX_KINDS.kdtree.build(space, { leaf_size: leaf }, { random: seededRandom(1) });
        const rnd = seededRandom(killSeed);
        const slotToRow = Int32Array.from({ length: space.rows }, (_, i) => (rnd.next() < 0.3 ? -1 : i));
        const live = { ...space, slotToRow };
        const want = oracle(space, prepareQuery(metric, q), k, (r) => slotToRow[r] >= 0);
        const top = new TopK(Math.min(k, space.rows));
        index.search(prepareQuery(metric, q), live, top);
        const { keys, dists } = top.drain();
        expect({ rows: Array.from(keys), dists: Array.from(dists) }).toEqual(want);
      }),
      { seed: 777, numRuns: 80 },
    );
  });
});
