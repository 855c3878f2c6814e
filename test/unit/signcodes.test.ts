import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { RowBitmap } from '../../src/filter/bitmap.js';
import { FILTERED } from '../../src/index/hnsw.js';
import { INDEX_KINDS } from '../../src/index/registry.js';
import { SignCodes, bitdotReference, keepSmallest } from '../../src/index/signcodes.js';
import { TopK } from '../../src/index/topk.js';
import { clustered, makeSpace, oracle, prepareQuery, recall } from '../helpers/oracle.js';

describe.skipIf(!SignCodes.available(384))('sign codes', () => {
  it.each([1, 7, 128, 129, 384, 500])('the SIMD kernels equal the JS reference to the bit (dim %i, 1- and 4-bit queries)', (dim) => {
    const rnd = seededRandom(`signcodes-${dim}`);
    const slots = 300;
    const stride = dim + 5;
    const i8 = Int8Array.from({ length: slots * stride }, () => Math.floor(rnd.next() * 255) - 127);
    const scales = Float32Array.from({ length: dim }, () => 0.001 + 0.01 * rnd.next());
    const codes = SignCodes.fromInt8(slots, dim, i8, (e) => e * stride, scales);
    const n = 200;
    // Repeats and any order: the list is the kernels' only guide.
    for (let i = 0; i < n; i++) codes.list[i] = Math.floor(rnd.next() * slots);
    for (const bits of [1, 4] as const) {
      codes.loadQuery(Float32Array.from({ length: dim }, () => rnd.gaussian()), bits);
      const got = codes.estimate(n).slice(0, n);
      const { query, records } = codes.layout();
      const want = bitdotReference(records, query, bits, codes.cb, codes.list.subarray(0, n));
      for (let i = 0; i < n; i++) expect(Object.is(got[i], want[i]), `entry ${i}`).toBe(true);
    }
  });

  it('estimates follow the exact dot products', () => {
    const dim = 64;
    const slots = 2000;
    const rnd = seededRandom('signcodes-rank');
    const raw = clustered(slots, dim, 10, 0.5, 3);
    const scales = new Float32Array(dim);
    for (let i = 0; i < raw.length; i++) scales[i % dim] = Math.max(scales[i % dim], Math.abs(raw[i]) / 127);
    const i8 = Int8Array.from(raw, (x, i) => Math.round(x / scales[i % dim]));
    const codes = SignCodes.fromInt8(slots, dim, i8, (e) => e * dim, scales);
    const q = Float32Array.from({ length: dim }, () => rnd.gaussian());
    for (let i = 0; i < slots; i++) codes.list[i] = i;
    codes.loadQuery(q, 4);
    const est = codes.estimate(slots).slice(0, slots);
    const exact = Float64Array.from({ length: slots }, (_, e) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[d] * raw[e * dim + d];
      return -s;
    });
    // Pearson correlation of estimate and exact distance: the codes keep most of the ranking.
    const mean = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v, 0) / x.length;
    const [me, mx] = [mean(est), mean(exact)];
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let e = 0; e < slots; e++) {
      sxy += (est[e] - me) * (exact[e] - mx);
      sxx += (est[e] - me) ** 2;
      syy += (exact[e] - mx) ** 2;
    }
    const r = sxy / Math.sqrt(sxx * syy);
    expect(r).toBeGreaterThan(0.75);
  });
});

describe('keepSmallest', () => {
  it('keeps at least min(keep, n) entries, every one no farther than any left out, d moving with its id', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 3000 }), (values, keep) => {
        const n = values.length;
        const d = Float32Array.from(values);
        const ids = Int32Array.from({ length: n }, (_, i) => i);
        const m = keepSmallest(d, ids, n, keep);
        expect(m).toBeGreaterThanOrEqual(Math.min(keep, n));
        expect([...ids].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
        for (let i = 0; i < n; i++) expect(d[i]).toBe(values[ids[i]]);
        if (m < n) expect(Math.max(...d.subarray(0, m))).toBeLessThanOrEqual(Math.min(...d.subarray(m)));
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe.skipIf(!SignCodes.available(32))('filtered hnsw: the sign-code scan', () => {
  it('keeps recall@10 >= 0.95, gives the same hits once a filter is gathered, and says what it did', () => {
    const dim = 32;
    const n = 5000;
    const raw = clustered(n + 40, dim, 25, 0.6, 21);
    const space = makeSpace('cosine', raw.subarray(0, n * dim), dim);
    const index = INDEX_KINDS.hnsw.build(space, { m: 12, ef_construction: 80 }, { random: seededRandom(9) });
    const rnd = seededRandom('signcodes-filters');
    const u = Float64Array.from({ length: n }, () => rnd.next());
    const ef = 20;
    // 50 %: a 1-bit pass, then a 4-bit one (over 2·48·ef); 30 %: the 4-bit one only (over 64·ef, where int8 scans stop).
    for (const [share, passes] of [
      [0.5, /a 1-bit query, then a 4-bit one for the nearest [\d,]+\), the nearest [\d,]+ by int8/],
      [0.3, /\(a 4-bit query\), the nearest [\d,]+ by int8/],
    ] as const) {
      const bits = new RowBitmap(n);
      for (let r = 0; r < n; r++) if (u[r] < share) bits.set(r);
      const count = bits.count();
      expect(count).toBeGreaterThan(FILTERED.scanPerEf * ef);
      const filter = { bits: bits.words, count };
      let total = 0;
      for (let i = 0; i < 40; i++) {
        const q = prepareQuery('cosine', raw.slice((n + i) * dim, (n + i + 1) * dim));
        // The same filter three times: scattered records, gathering them, gathered.
        const answers = [0, 1, 2].map(() => {
          const top = new TopK(10);
          const note = index.search(q, space, top, ef, filter);
          expect(note).toMatch(passes);
          const { keys, dists } = top.drain();
          return { rows: Array.from(keys), dists: Array.from(dists) };
        });
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        expect(answers[0].rows.length).toBe(10);
        for (const r of answers[0].rows) expect(bits.has(r)).toBe(true);
        total += recall(answers[0].rows, oracle(space, q, 10, (r) => bits.has(r)), answers[0].dists);
      }
      expect(total / 40, `share ${share}`).toBeGreaterThanOrEqual(0.95);
    }
  });
});
