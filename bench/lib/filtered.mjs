/**
 * Filtered workloads. The datasets' vectors carry no metadata, so every row
 * gets synthetic fields, seeded, the same in every run:
 *   u, v   independent uniforms in [0, 1) (6 decimals): ranges on u give any
 *          selectivity, u and v together an AND of two
 *   cat    one of 100 categories "c00".."c99", uniform (string equality)
 *   cl     the nearest of 10 centroids (seeded base rows): a category that
 *          is a region of the data, queried from the other regions
 * Shapes (FILTER_SHAPES) are the issue's: single conditions at 50/20/10/1/0.1 %,
 * ANDs of two ~20 % and ~10 % conditions (~4 %, ~1 %), a 1 % string
 * equality, and the correlated region.
 */
import { seededRandom } from '../../dist/domain/random.js';
import { TRUTH_K } from './data.mjs';

const CATEGORIES = 100;
const CENTROIDS = 10;

/** Per-row synthetic metadata of a dataset (needs its base vectors). */
export function syntheticMetadata(ds) {
  const r = seededRandom('bench-filters');
  const n = ds.n;
  const round = (x) => Math.round(x * 1e6) / 1e6;
  const u = new Float64Array(n);
  const v = new Float64Array(n);
  const cat = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    u[i] = round(r.next());
    v[i] = round(r.next());
    cat[i] = Math.floor(r.next() * CATEGORIES);
  }
  const centroids = Array.from({ length: CENTROIDS }, () => Math.floor(r.next() * n));
  const nearestCentroid = (vec, off) => {
    let best = -Infinity;
    let at = 0;
    for (let c = 0; c < CENTROIDS; c++) {
      const o = centroids[c] * ds.dim;
      let s = 0;
      for (let d = 0; d < ds.dim; d++) s += vec[off + d] * ds.base[o + d];
      if (s > best) {
        best = s;
        at = c;
      }
    }
    return at;
  };
  const cl = new Uint8Array(n);
  for (let i = 0; i < n; i++) cl[i] = nearestCentroid(ds.base, i * ds.dim);
  const sizes = new Array(CENTROIDS).fill(0);
  for (let i = 0; i < n; i++) sizes[cl[i]]++;
  // The region closest to 10 % of the rows is the correlated category.
  let region = 0;
  for (let c = 1; c < CENTROIDS; c++) if (Math.abs(sizes[c] / n - 0.1) < Math.abs(sizes[region] / n - 0.1)) region = c;
  const queryRegion = Uint8Array.from({ length: ds.nq }, (_, q) => nearestCentroid(ds.queries, q * ds.dim));
  return { u, v, cat, cl, region, queryRegion };
}

/** The metadata object of row `i`, as chunks carry it. */
export function metadataOf(meta, i) {
  return { row: i, u: meta.u[i], v: meta.v[i], cat: `c${String(meta.cat[i]).padStart(2, '0')}`, cl: `k${meta.cl[i]}` };
}

/** The shapes: vdb filter, the same test per row, and which queries run it. */
export function filterShapes(meta, ds) {
  const all = (q) => q < ds.nq;
  const region = `k${meta.region}`;
  return [
    { label: 'u < 0.5 (50%)', filter: { u: { $lt: 0.5 } }, test: (i) => meta.u[i] < 0.5, use: all },
    { label: 'u < 0.2 (20%)', filter: { u: { $lt: 0.2 } }, test: (i) => meta.u[i] < 0.2, use: all },
    { label: 'u < 0.1 (10%)', filter: { u: { $lt: 0.1 } }, test: (i) => meta.u[i] < 0.1, use: all },
    { label: 'u < 0.01 (1%)', filter: { u: { $lt: 0.01 } }, test: (i) => meta.u[i] < 0.01, use: all },
    { label: 'u < 0.001 (0.1%)', filter: { u: { $lt: 0.001 } }, test: (i) => meta.u[i] < 0.001, use: all },
    { label: 'u < 0.2 AND v < 0.2 (4%)', filter: { u: { $lt: 0.2 }, v: { $lt: 0.2 } }, test: (i) => meta.u[i] < 0.2 && meta.v[i] < 0.2, use: all },
    { label: 'u < 0.1 AND v < 0.1 (1%)', filter: { u: { $lt: 0.1 }, v: { $lt: 0.1 } }, test: (i) => meta.u[i] < 0.1 && meta.v[i] < 0.1, use: all },
    { label: 'cat = "c07" (1%, string)', filter: { cat: 'c07' }, test: (i) => meta.cat[i] === 7, use: all },
    { label: `cl = "${region}" (a region), queried from the others`, filter: { cl: region }, test: (i) => meta.cl[i] === meta.region, use: (q) => meta.queryRegion[q] !== meta.region },
  ];
}

function dot64(a, ao, b, bo, dim) {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[ao + d] * b[bo + d];
  return s;
}

/**
 * The exact filtered top-k of query q: the first k matching rows of the
 * unfiltered top-100 truth when it holds k of them, else a scan of every
 * matching row. Returns their cosines (f64), best first.
 */
export function filteredTruth(ds, q, k, test, matching) {
  const ids = ds.truthIds.subarray(q * TRUTH_K, (q + 1) * TRUTH_K);
  const inTruth = [];
  for (const row of ids) if (test(row)) inTruth.push(row);
  let rows = inTruth;
  if (inTruth.length < k && matching.length > inTruth.length) {
    const scored = matching.map((row) => [dot64(ds.queries, q * ds.dim, ds.base, row * ds.dim, ds.dim), row]);
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    rows = scored.slice(0, k).map((s) => s[1]);
  }
  return rows.slice(0, k).map((row) => dot64(ds.queries, q * ds.dim, ds.base, row * ds.dim, ds.dim));
}

/** Tie-aware recall of `got` rows against the truth cosines; a query with m < k matches counts m. */
export function filteredRecall(ds, q, got, truthCos) {
  if (truthCos.length === 0) return 1;
  const bound = truthCos[truthCos.length - 1] - 1e-6;
  const seen = new Set();
  let hits = 0;
  for (const row of got.slice(0, truthCos.length)) {
    if (seen.has(row)) continue;
    seen.add(row);
    if (dot64(ds.queries, q * ds.dim, ds.base, row * ds.dim, ds.dim) >= bound) hits++;
  }
  return hits / truthCos.length;
}

/** Unfiltered q/s at recall `r`, interpolated on a measured (recall, qps) curve; past its best recall, its slowest point. */
export function qpsAtRecall(curve, r) {
  const pts = [...curve].sort((a, b) => a.recall - b.recall);
  if (pts.length === 0) return null;
  if (r <= pts[0].recall) return pts[0].qps;
  for (let i = 1; i < pts.length; i++) {
    if (r <= pts[i].recall) {
      const a = pts[i - 1];
      const b = pts[i];
      const t = (r - a.recall) / (b.recall - a.recall || 1);
      return a.qps + t * (b.qps - a.qps);
    }
  }
  return pts[pts.length - 1].qps;
}

/** A short name for the plan an explain reports. */
export function planLabel(explain) {
  const s = explain.search ?? '';
  if (explain.plan !== 'index') return explain.plan === 'exact-scan' ? 'exact scan' : explain.plan;
  if (/found \d+ of \d+/.test(s)) return 'graph, then exact-scan fallback';
  if (s.startsWith('exact scan')) return 'exact scan (no more than ef)';
  if (s.includes('sign codes')) return s.includes('but only') ? 'sign-code scan (correlated)' : 'sign-code scan';
  if (s.includes('int8')) return s.includes('but only') ? 'int8 scan (correlated)' : 'int8 scan';
  if (s.includes('two hops')) return 'graph, two hops (ACORN-1)';
  if (s.includes('graph')) return 'graph, walk through';
  return explain.index ?? 'index';
}
