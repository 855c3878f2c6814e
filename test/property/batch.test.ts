/**
 * Batched exact search equals the oracle exactly: rows, distances and the tie
 * order, for every metric, odd dims, k > rows, on one thread and on several.
 * The multi-thread cases run the compiled worker (dist/index/batch-worker.js,
 * built by `npm test`; run `npm run build` first when running this file alone).
 */
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { BatchSearch, approxCut } from '../../src/index/batch.js';
import type { Metric } from '../../src/index/kernels.js';
import { useSimd } from '../../src/index/simd.js';
import { ROOT } from '../helpers/cli.js';
import { makeSpace, oracle, prepareQuery } from '../helpers/oracle.js';

const METRICS: Metric[] = ['cosine', 'l2', 'dot'];
const WORKER = new URL(`file://${ROOT}/dist/index/batch-worker.js`);

/**
 * Three kinds of rows: small integer coordinates (duplicates and exact ties);
 * near-duplicates, a few vectors each with coordinates a few float32 ulps
 * apart (float32 cannot rank them, float64 can: the filter's margins must
 * keep them all); Gaussian coordinates at a scale from tiny (float32 products
 * underflow) to huge (the float32 pass would overflow, so those queries are
 * scanned exactly).
 */
const batchCase = fc
  .record({
    dim: fc.oneof(fc.constantFrom(1, 3, 17), fc.integer({ min: 1, max: 40 })),
    n: fc.integer({ min: 1, max: 150 }),
    queries: fc.integer({ min: 1, max: 14 }),
    kMax: fc.integer({ min: 1, max: 170 }),
    seed: fc.integer({ min: 0, max: 1e9 }),
    kind: fc.constantFrom('grid', 'near', 'gauss'),
    scale: fc.constantFrom(1, 1e-30, 1e12, 1e30),
  })
  .map(({ dim, n, queries, kMax, seed, kind, scale }) => {
    const rnd = seededRandom(seed);
    const grid = kind === 'grid';
    const value = () => (grid ? Math.floor(rnd.next() * 5) - 2 : scale * rnd.gaussian());
    const raw = Float32Array.from({ length: n * dim }, value);
    if (grid) for (let r = 1; r < n; r += 4) raw.copyWithin(r * dim, (r - 1) * dim, r * dim);
    if (kind === 'near') {
      const bases = Math.min(n, 3);
      for (let i = bases * dim; i < raw.length; i++) raw[i] = raw[i % (bases * dim)] * (1 + (Math.floor(rnd.next() * 9) - 4) * 2 ** -23);
    }
    // Cosine needs non-zero vectors (the service rejects zero ones).
    const nonZero = (v: Float32Array) => (v.every((x) => x === 0) ? (v[0] = 1, v) : v);
    for (let r = 0; r < n; r++) nonZero(raw.subarray(r * dim, (r + 1) * dim));
    const qs = Array.from({ length: queries }, (_, i) => (grid && i % 3 === 0 ? raw.slice(0, dim) : nonZero(Float32Array.from({ length: dim }, value))));
    const ks = qs.map(() => 1 + Math.floor(rnd.next() * kMax));
    return { dim, n, raw, qs, ks };
  });

async function checkBatch(metric: Metric, c: { dim: number; n: number; raw: Float32Array; qs: Float32Array[]; ks: number[] }, threads: number) {
  const space = makeSpace(metric, c.raw, c.dim);
  const prepared = c.qs.map((q) => prepareQuery(metric, q));
  const batch = new BatchSearch(space, { threads, minFloatsPerThread: 1, workerUrl: WORKER });
  try {
    const got = await batch.search(prepared, c.ks);
    got.forEach((r, i) => expect({ rows: Array.from(r.keys), dists: Array.from(r.dists) }).toEqual(oracle(space, prepared[i], c.ks[i])));
  } finally {
    await batch.close();
  }
}

describe('batched exact search equals the brute-force oracle', () => {
  it.each(METRICS)('one thread, %s', async (metric) => {
    await fc.assert(
      fc.asyncProperty(batchCase, (c) => checkBatch(metric, c, 1)),
      { seed: 2024, numRuns: 150 },
    );
  });

  it.runIf(existsSync(WORKER))('several threads (rows split across workers), every metric', async () => {
    await fc.assert(
      fc.asyncProperty(batchCase, fc.constantFrom(...METRICS), fc.integer({ min: 2, max: 3 }), (c, metric, threads) => checkBatch(metric, c, threads)),
      { seed: 99, numRuns: 25 },
    );
  });

  describe('without WebAssembly SIMD (JS fallback)', () => {
    afterAll(() => useSimd(true));
    it.each(METRICS)('%s', async (metric) => {
      useSimd(false);
      await fc.assert(
        fc.asyncProperty(batchCase, (c) => checkBatch(metric, c, 1)),
        { seed: 7, numRuns: 30 },
      );
    });
  });

  it('larger blocks: many tiles and query groups, near-ties of Gaussian data', async () => {
    const rnd = seededRandom('tiles');
    for (const [metric, dim, n] of [['cosine', 384, 1200], ['l2', 33, 5000], ['dot', 7, 9000]] as const) {
      const raw = Float32Array.from({ length: n * dim }, () => rnd.gaussian());
      raw.copyWithin(dim * 10, 0, dim * 10);
      const qs = Array.from({ length: 20 }, (_, i) => (i === 0 ? raw.slice(0, dim) : Float32Array.from({ length: dim }, () => rnd.gaussian())));
      await checkBatch(metric, { dim, n, raw, qs, ks: qs.map((_, i) => [1, 10, 100, 2 * n][i % 4]) }, 1);
    }
  });
});

describe('approxCut', () => {
  it('gives up (exact scan) only when the float32 pass could overflow', () => {
    expect(approxCut('dot', 384, 1, 1)).not.toBeNull();
    expect(approxCut('dot', 384, 2 ** 60, 2 ** 41)).toBeNull();
    expect(approxCut('l2', 384, 2 ** 49, 2 ** 49)).toBeNull();
  });

  it('keeps more than the k-th key: the float32 error and the rounding margin', () => {
    const cut = approxCut('cosine', 384, 1, 1) as (kth: number) => number;
    expect(cut(-0.5)).toBeGreaterThan(-0.5 + 2 * 2 * (96 + 4) * 2 ** -24);
    const l2 = approxCut('l2', 3, 1, 1) as (kth: number) => number;
    expect(l2(0)).toBeGreaterThan(0);
    expect(l2(1)).toBeGreaterThan(1 + 2 * 2 * 5 * 2 ** -24);
  });
});
