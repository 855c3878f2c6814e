/**
 * Filtered kNN against the exact oracle over the matching rows: linear and
 * kdtree exactly (ties included), lsh its recall bound, hnsw exactly
 * min(k, matches) hits always and a recall bound at every selectivity, and
 * the service's planner and unindexed-rows merge on top.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { Library } from '../../src/domain/model.js';
import type { Chunk } from '../../src/domain/model.js';
import { RowBitmap } from '../../src/filter/bitmap.js';
import { parseFilter } from '../../src/filter/parse.js';
import type { Metric } from '../../src/index/kernels.js';
import { FILTERED } from '../../src/index/hnsw.js';
import { INDEX_KINDS } from '../../src/index/registry.js';
import { TopK } from '../../src/index/topk.js';
import type { IndexType, RowFilter, SearchSpace, VectorIndex } from '../../src/index/types.js';
import { answer, refreshIndex } from '../../src/service/service.js';
import { clustered, makeSpace, oracle, prepareQuery, recall } from '../helpers/oracle.js';

const METRICS: Metric[] = ['l2', 'cosine', 'dot'];

/** Small integer coordinates (ties and duplicates), a random filter, some dead slots. */
const datasetOf = (maxN: number) => fc
  .record({
    dim: fc.integer({ min: 1, max: 24 }),
    n: fc.integer({ min: 1, max: maxN }),
    k: fc.integer({ min: 1, max: 40 }),
    share: fc.constantFrom(0, 0.01, 0.1, 0.5, 1),
    dead: fc.constantFrom(0, 0.2),
    seed: fc.integer({ min: 0, max: 1e9 }),
  })
  .map(({ dim, n, k, share, dead, seed }) => {
    const rnd = seededRandom(seed);
    const raw = new Float32Array(n * dim);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rnd.next() * 5) - 2;
    for (let r = 1; r < n; r += 4) raw.copyWithin(r * dim, (r - 1) * dim, r * dim);
    for (let r = 0; r < n; r++) if (raw.subarray(r * dim, (r + 1) * dim).every((x) => x === 0)) raw[r * dim] = 1;
    const q = Float32Array.from({ length: dim }, () => Math.floor(rnd.next() * 5) - 2);
    if (q.every((x) => x === 0)) q[0] = 1;
    const bits = new RowBitmap(n);
    for (let r = 0; r < n; r++) if (rnd.next() < share) bits.set(r);
    const slotToRow = dead > 0 ? Int32Array.from({ length: n }, (_, i) => (rnd.next() < dead ? -1 : i)) : null;
    return { dim, n, k, raw, q, bits, slotToRow, seed };
  });
const dataset = datasetOf(150);

function run(index: VectorIndex, space: SearchSpace, q: Float32Array, k: number, bits: RowBitmap, ef?: number) {
  const live = (r: number) => space.slotToRow === null || space.slotToRow[r] >= 0;
  let count = 0;
  for (let r = 0; r < space.rows; r++) if (live(r) && bits.has(r)) count++;
  const filter: RowFilter = { bits: bits.words, count };
  const top = new TopK(Math.min(k, space.rows));
  index.search(q, space, top, ef, filter);
  const { keys, dists } = top.drain();
  return { got: { rows: Array.from(keys), dists: Array.from(dists) }, want: oracle(space, q, k, (r) => live(r) && bits.has(r)), count };
}

describe.each(['linear', 'kdtree'] as const)('filtered %s equals the oracle over the matching rows', (type) => {
  it.each(METRICS)('%s', (metric) => {
    fc.assert(
      fc.property(dataset, ({ dim, k, raw, q, bits, slotToRow }) => {
        const space = makeSpace(metric, raw, dim);
        const index = INDEX_KINDS[type].build(space, type === 'kdtree' ? { leaf_size: 4 } : {}, { random: seededRandom(1) });
        // Linear covers every row, so dead slots are kdtree's only.
        const { got, want } = run(index, type === 'kdtree' ? { ...space, slotToRow } : space, prepareQuery(metric, q), k, bits);
        expect(got).toEqual(want);
      }),
      { seed: 515, numRuns: 60 },
    );
  });
});

describe('filtered lsh', () => {
  it('never comes back short and only returns matching live rows', () => {
    fc.assert(
      fc.property(dataset, ({ dim, k, raw, q, bits, slotToRow, seed }) => {
        const space = { ...makeSpace('cosine', raw, dim), slotToRow };
        const index = INDEX_KINDS.lsh.build(space, { tables: 2, bits: 4, probes: 1 }, { random: seededRandom(seed) });
        const { got, want, count } = run(index, space, prepareQuery('cosine', q), k, bits);
        expect(got.rows.length).toBe(Math.min(k, count));
        expect(got.rows.length).toBe(want.rows.length);
        for (const r of got.rows) expect(bits.has(r) && (slotToRow === null || slotToRow[r] >= 0)).toBe(true);
      }),
      { seed: 616, numRuns: 80 },
    );
  });

  it('keeps its documented recall bound (0.9) at 50%, 20% and 5% of matches', () => {
    const dim = 32;
    const n = 4000;
    const raw = clustered(n + 60, dim, 40, 1.0, 11);
    const space = makeSpace('cosine', raw.subarray(0, n * dim), dim);
    const index = INDEX_KINDS.lsh.build(space, {}, { random: seededRandom(11) });
    const rnd = seededRandom(3);
    for (const share of [0.5, 0.2, 0.05]) {
      const bits = new RowBitmap(n);
      for (let r = 0; r < n; r++) if (rnd.next() < share) bits.set(r);
      let total = 0;
      for (let i = 0; i < 60; i++) {
        const q = prepareQuery('cosine', raw.slice((n + i) * dim, (n + i + 1) * dim));
        const { got } = run(index, space, q, 10, bits);
        total += recall(got.rows, oracle(space, q, 10, (r) => bits.has(r)), got.dists);
      }
      expect(total / 60, `share ${share}`).toBeGreaterThanOrEqual(0.9);
    }
  });
});

/** Runs `f` with the hnsw scan limits set to 0 (every filtered search walks the graph) or left as they are. */
function walking<T>(walk: boolean, f: () => T): T {
  const saved = { ...FILTERED };
  if (walk) Object.assign(FILTERED, { scanPerEf: 0, correlatedScanPerEf: 0, signScanPerEf: 0 });
  try {
    return f();
  } finally {
    Object.assign(FILTERED, saved);
  }
}

describe('filtered hnsw', () => {
  it.each([false, true])('returns exactly min(k, matching live entries) distinct matching hits with exact distances, always (graph walks forced: %s)', (walk) => {
    fc.assert(
      fc.property(datasetOf(600), fc.integer({ min: 1, max: 6 }), fc.constantFrom(2, 4), fc.constantFrom(...METRICS), ({ dim, n, k, raw, q, bits, slotToRow, seed }, ef, m, metric) => walking(walk, () => {
        const built = makeSpace(metric, raw, dim);
        // Sparse graphs and small beams, so walks do come back with too few.
        const index = INDEX_KINDS.hnsw.build(built, { m, ef_construction: 8, ef_search: ef }, { random: seededRandom(seed) });
        const space = { ...built, slotToRow };
        const pq = prepareQuery(metric, q);
        const { got, want, count } = run(index, space, pq, k, bits, ef);
        expect(got.rows.length).toBe(Math.min(k, count));
        expect(new Set(got.rows).size).toBe(got.rows.length);
        for (const r of got.rows) expect(bits.has(r) && (slotToRow === null || slotToRow[r] >= 0)).toBe(true);
        // Exact distances, nearest first.
        const oracleAll = oracle(space, pq, n);
        got.rows.forEach((r, i) => expect(got.dists[i]).toBe(oracleAll.dists[oracleAll.rows.indexOf(r)]));
        for (let i = 1; i < got.dists.length; i++) expect(got.dists[i]).toBeGreaterThanOrEqual(got.dists[i - 1]);
        expect(want.rows.length).toBe(got.rows.length);
      })),
      { seed: 717, numRuns: 100 },
    );
  });

  // One clustered set and its graph for both recall runs.
  let shared: ReturnType<typeof recallSet> | null = null;
  function recallSet() {
    const dim = 24;
    const n = 6000;
    const clusters = 30;
    const rnd = seededRandom('filtered-hnsw');
    const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, () => rnd.gaussian()));
    const cluster = new Int32Array(n + 200);
    const raw = new Float32Array((n + 200) * dim);
    for (let i = 0; i < n + 200; i++) {
      cluster[i] = Math.floor(rnd.next() * clusters);
      for (let d = 0; d < dim; d++) raw[i * dim + d] = centres[cluster[i]][d] + 0.35 * rnd.gaussian();
    }
    const space = makeSpace('cosine', raw.subarray(0, n * dim), dim);
    const index = INDEX_KINDS.hnsw.build(space, { m: 12, ef_construction: 100 }, { random: seededRandom(5) });
    const u = Float64Array.from({ length: n }, () => rnd.next());
    const v = Float64Array.from({ length: n }, () => rnd.next());
    return { dim, n, cluster, raw, space, index, u, v };
  }

  it.each([false, true])('keeps recall@10 >= 0.95 at 50/20/10/1/0.1% of matches, an AND of two, and a filter that is a cluster (graph walks forced: %s)', (walk) => {
    shared ??= recallSet();
    const { dim, n, cluster, raw, space, index, u, v } = shared;
    const where = (test: (r: number) => boolean) => {
      const b = new RowBitmap(n);
      for (let r = 0; r < n; r++) if (test(r)) b.set(r);
      return b;
    };
    const shapes: [string, RowBitmap, (i: number) => boolean][] = [
      ['50%', where((r) => u[r] < 0.5), () => true],
      ['20%', where((r) => u[r] < 0.2), () => true],
      ['10%', where((r) => u[r] < 0.1), () => true],
      ['1%', where((r) => u[r] < 0.01), () => true],
      ['0.1%', where((r) => u[r] < 0.001), () => true],
      ['20% AND 20%', where((r) => u[r] < 0.2 && v[r] < 0.2), () => true],
      // Three clusters, queried from the others.
      ['a cluster', where((r) => cluster[r] < 3), (i) => cluster[n + i] >= 3],
    ];
    for (const [label, bits, use] of shapes) {
      let total = 0;
      let queries = 0;
      // The walks are for many matches: below 10% (and for the correlated cluster) they may miss, so they are forced only above.
      if (walk && (bits.count() < 0.1 * n || label === 'a cluster')) continue;
      for (let i = 0; i < 200 && queries < 40; i++) {
        if (!use(i)) continue;
        const q = prepareQuery('cosine', raw.slice((n + i) * dim, (n + i + 1) * dim));
        const { got, count } = walking(walk, () => run(index, space, q, 10, bits));
        expect(got.rows.length).toBe(Math.min(10, count));
        total += recall(got.rows, oracle(space, q, 10, (r) => bits.has(r)), got.dists);
        queries++;
      }
      expect(total / queries, label).toBeGreaterThanOrEqual(0.95);
    }
  });
});

describe('answer(): the planner and the unindexed rows', () => {
  it.each<[IndexType, string[]]>([
    ['linear', ['cat=a', 'cat=a,b', 'n>=50', 'tag=t1', '!has:cat']],
    ['kdtree', ['cat=a', 'n<3', 'cat!=a']],
    ['lsh', ['cat=a', 'cat!=a']],
    ['hnsw', ['cat=a', 'n<3', 'cat!=a', 'n>=0']],
  ])('%s: the k nearest matching chunks, index or no index, after appends, edits and deletes', (type, exprs) => {
    const dim = 8;
    const rnd = seededRandom(`nearest-${type}`);
    const lib = new Library({ id: 'lib_x', name: 'x', dim, metric: 'l2', embedder: null, metadata: {}, created_at: '', updated_at: '', nextSeq: 0 });
    const vec = () => Float32Array.from({ length: dim }, () => Math.floor(rnd.next() * 4));
    let id = 0;
    const chunk = (i: number): Chunk => ({ id: `c${id++}`, text: '', metadata: i % 7 === 0 ? { n: i } : { cat: ['a', 'b', 'c'][i % 3], n: i }, tags: i % 5 === 0 ? ['t1'] : [], created_at: '2024-01-01', updated_at: '2024-01-01', seq: 0 });
    const add = (count: number) => {
      const chunks = Array.from({ length: count }, (_, i) => chunk(lib.size + i));
      lib.append(chunks, chunks.map(vec));
    };
    add(400);
    refreshIndex(lib, type, {}, { builtAt: '', randomKey: () => 1 });
    // Unindexed rows (appended, re-embedded), an edited one and removed ones.
    add(40);
    lib.replaceVector(3, vec());
    lib.chunks[10].metadata = { cat: 'a', n: 10 };
    lib.markEdited(10);
    lib.removeRows(new Set([0, 1, 2, 200]));
    const data = lib.prepared();
    const space = { metric: lib.metric, dim, data, rows: lib.size, slotToRow: null };
    for (const expr of exprs) {
      const filter = parseFilter({ where: [expr] });
      const bits = lib.filterRows(filter!);
      for (let t = 0; t < 10; t++) {
        const q = vec();
        const k = 1 + Math.floor(rnd.next() * 30);
        const res = answer(lib, q, k, undefined, filter, true);
        const want = oracle(space, q, k, (r) => bits.has(r));
        expect(res.hits.length, expr).toBe(want.rows.length);
        if (INDEX_KINDS[type].exact) expect(res.hits.map((h) => h.id)).toEqual(want.rows.map((r) => lib.chunkAt(r).id));
        else expect(recall(res.hits.map((h) => lib.chunks.findIndex((c) => c.id === h.id)), want, res.hits.map((h) => h.distance))).toBeGreaterThanOrEqual(0.8);
        expect(res.explain?.matches).toBe(bits.count());
      }
    }
  });
});
