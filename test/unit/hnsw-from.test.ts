import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { hnswKind } from '../../src/index/hnsw.js';
import { prepareData } from '../../src/index/kernels.js';
import type { SerializedIndex } from '../../src/index/types.js';

// A reopened index is walked by WebAssembly over its arrays: any link or level that does not fit must be
// refused when the index is opened, not read out of bounds by the first query.
describe('HnswIndex.from refuses inconsistent arrays', () => {
  const dim = 8;
  const n = 400;
  const r = seededRandom('from');
  const data = prepareData('cosine', Float32Array.from({ length: n * dim }, () => r.gaussian()), dim);
  const built = hnswKind.build({ metric: 'cosine', dim, data, rows: n, slotToRow: null }, { m: 4, ef_construction: 32, ef_search: 16 }, { random: seededRandom(1) });
  const saved = built.serialize();
  const levels = saved.arrays.levels as Int32Array;
  const upper = saved.arrays.upper as Int32Array;
  const level0 = saved.arrays.level0 as Int32Array;
  const m = saved.params.m;
  const stride = level0.length / n;
  const tall = levels.findIndex((l) => l >= 1);
  const offsetOf = (slot: number): number => levels.subarray(0, slot).reduce((sum, l) => sum + l * (1 + m), 0);
  /** A copy of the saved index with `change` applied to copies of its arrays. */
  const damaged = (change: (a: { levels: Int32Array; upper: Int32Array; level0: Int32Array }) => void, params: Partial<SerializedIndex['params']> = {}): SerializedIndex => {
    const arrays = { ...saved.arrays, levels: levels.slice(), upper: upper.slice(), level0: level0.slice() };
    change(arrays);
    return { params: { ...saved.params, ...params }, arrays };
  };

  it('reopens its own arrays, and answers as the built index does', () => {
    const reopened = hnswKind.from(damaged(() => undefined), dim);
    expect(reopened.serialize().arrays.level0).toEqual(level0);
  });

  it.each([
    ['a level below 0', (a: { levels: Int32Array }) => (a.levels[3] = -1), /hnsw level out of range/],
    ['a level past the maximum', (a: { levels: Int32Array }) => (a.levels[3] = 1000), /hnsw level out of range/],
    ['levels that need more upper words than stored', (a: { levels: Int32Array }) => (a.levels[levels.indexOf(0)] = 1), /upper links have the wrong length|link count out of range|missing node/],
    ['an upper count past m', (a: { upper: Int32Array }) => (a.upper[offsetOf(tall)] = m + 1), /link count out of range/],
    ['a negative upper count', (a: { upper: Int32Array }) => (a.upper[offsetOf(tall)] = -1), /link count out of range/],
    ['an upper link past the last slot', (a: { upper: Int32Array }) => ((a.upper[offsetOf(tall)] = 1), (a.upper[offsetOf(tall) + 1] = n)), /missing node/],
    ['an upper link to a slot below that level', (a: { upper: Int32Array }) => ((a.upper[offsetOf(tall)] = 1), (a.upper[offsetOf(tall) + 1] = levels.indexOf(0))), /missing node/],
    ['a level-0 count past 2m', (a: { level0: Int32Array }) => (a.level0[5 * stride] = 2 * m + 1), /link count out of range/],
    ['a level-0 link past the last slot', (a: { level0: Int32Array }) => (a.level0[5 * stride + 1] = n + 7), /missing node/],
  ])('%s', (_what, change, message) => {
    expect(() => hnswKind.from(damaged(change as never), dim)).toThrow(message);
  });

  it('an entry point that is not on the top level', () => {
    expect(() => hnswKind.from(damaged(() => undefined, { entry: levels.indexOf(0) }), dim)).toThrow(/entry point is invalid/);
  });
});
