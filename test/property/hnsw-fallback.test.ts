import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { hnswKind } from '../../src/index/hnsw.js';
import { METRICS, distance, prepareData, prepareQuery } from '../../src/index/kernels.js';
import { useSimd } from '../../src/index/simd.js';
import { TopK } from '../../src/index/topk.js';

describe('HNSW without WebAssembly SIMD (JS kernels)', () => {
  // Files share a worker process (isolate: false): the switch is put back for the files after this one.
  beforeAll(() => useSimd(false));
  afterAll(() => useSimd(true));

  it('reaches the same recall bound and offers exact distances, built or updated in place', () => {
    const r = seededRandom('fallback');
    const dim = 24;
    const n = 1200;
    const centres = Array.from({ length: 12 }, () => Float64Array.from({ length: dim }, () => r.gaussian()));
    const point = (): Float32Array => Float32Array.from(centres[Math.floor(r.next() * 12)], (x) => x + 0.3 * r.gaussian());
    const raw = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) raw.set(point(), i * dim);
    for (const metric of METRICS) {
      const data = prepareData(metric, raw, dim);
      expect(data.byteOffset).toBe(0);
      const space = { metric, dim, data, rows: n, slotToRow: null };
      const params = { m: 8, ef_construction: 64, ef_search: 32 };
      const built = hnswKind.build(space, params, { random: seededRandom(1) });
      const first = hnswKind.build({ ...space, rows: 900 }, params, { random: seededRandom(2) });
      const update = hnswKind.update!(first, space, Array.from({ length: n - 900 }, (_, i) => 900 + i), params, { random: seededRandom(3) });
      if (!('index' in update)) throw new Error(update.rebuild);
      for (const index of [built, update.index]) {
        let hits = 0;
        for (let t = 0; t < 30; t++) {
          const q = prepareQuery(metric, point());
          const want = new TopK(10);
          for (let row = 0; row < n; row++) want.push(distance(metric, q, data, row * dim, dim), row);
          const kth = want.worst();
          const got = new TopK(10);
          index.search(q, space, got);
          const { keys, dists } = got.drain();
          keys.forEach((row, i) => expect(dists[i]).toBe(distance(metric, q, data, row * dim, dim)));
          hits += Array.from(dists).filter((d) => d <= kth).length;
        }
        expect(hits / 300).toBeGreaterThanOrEqual(0.9);
      }
    }
  });
});
