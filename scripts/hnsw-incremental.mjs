// HNSW incremental insert against a full build, on wordnet-lsa384 (30k x 384, cosine).
// Usage: npx tsc -p . && node scripts/hnsw-incremental.mjs [--base 20000] [--del 0] [--m 16] [--efc 200] [--queries 1000]
//   Builds on the first --base rows, then (after deleting a fraction --del of all rows, seeded)
//   inserts the rest with HnswIndex.update; builds the same rows from scratch; prints recall@10
//   (tie-aware) and queries/s at ef 64 and 128 of both, and their rows/s. With --del the old
//   index with dead slots plus an exact scan of the new rows (what queries did before an update)
//   is measured too. Vectors and queries: bench/.cache (a symlink to the bench cache); truth:
//   ../shared/data/wordnet-lsa384, or an exact scan when rows were deleted.
import fs from 'node:fs';
import { hnswKind } from '../dist/index/hnsw.js';
import { distance, prepareData, rowScorer } from '../dist/index/kernels.js';
import { TopK } from '../dist/index/topk.js';
import { seededRandom } from '../dist/domain/random.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const M = opt('--m', 16);
const EFC = opt('--efc', 200);
const K = 10;
const EFS = [64, 128];
const cache = new URL('../bench/.cache/', import.meta.url).pathname;
const truthDir = new URL('../../shared/data/wordnet-lsa384/', import.meta.url).pathname;

function readEmbeddings(path, limit) {
  const lines = fs.readFileSync(path, 'utf8').split('\n').filter(Boolean).slice(0, limit);
  const dim = JSON.parse(lines[0]).embedding.length;
  const out = new Float32Array(lines.length * dim);
  lines.forEach((line, i) => out.set(JSON.parse(line).embedding, i * dim));
  return { data: out, dim, n: lines.length };
}
function readF32(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const base = readEmbeddings(cache + 'wordnet-chunks.ndjson');
const { dim, n } = base;
const queries = readEmbeddings(cache + 'wordnet-queries-1000.ndjson', opt('--queries', 1000));
const nq = queries.n;
const truthSim = readF32(truthDir + 'truth-cosine.f32');
const nBase = Math.min(opt('--base', 20000), n);
const delShare = opt('--del', 0);

// The library after the deletes: row i = all[kept[i]]; the first build's slot s = all row s.
const all = prepareData('cosine', base.data, dim);
const del = seededRandom('delete');
const kept = [];
for (let r = 0; r < n; r++) if (delShare === 0 || del.next() >= delShare) kept.push(r);
const rowOfOld = new Int32Array(n).fill(-1);
kept.forEach((r, i) => (rowOfOld[r] = i));
const rows = kept.length;
const data = delShare === 0 ? all : prepareData('cosine', Float32Array.from({ length: rows * dim }, (_, j) => base.data[kept[Math.floor(j / dim)] * dim + (j % dim)]), dim);
const space = { metric: 'cosine', dim, data, rows, slotToRow: null };
const query = (q) => queries.data.subarray(q * dim, (q + 1) * dim);
const cosine = (q, r) => 1 - distance('cosine', query(q), data, r * dim, dim);
// The K-th true cosine per query: the dataset's truth, or an exact scan of what is left.
const kthCosine = Float64Array.from({ length: nq }, (_, q) => {
  if (delShare === 0) return truthSim[q * 100 + K - 1];
  const top = new TopK(K);
  for (let r = 0; r < rows; r++) top.push(distance('cosine', query(q), data, r * dim, dim), r);
  return 1 - top.worst();
});
/** Tie-aware recall@K, as the dataset's README says: a hit if its cosine >= the K-th true cosine - 1e-6. */
function recallOf(results) {
  let hits = 0;
  for (let q = 0; q < nq; q++) for (const r of results[q]) if (cosine(q, r) >= kthCosine[q] - 1e-6) hits++;
  return hits / (nq * K);
}
function run(index, ef, searchSpace = space, scanned = []) {
  const out = new Array(nq);
  const t = performance.now();
  for (let q = 0; q < nq; q++) {
    const top = new TopK(K);
    // As the service's nearest(): the rows no index covers, scanned with the SIMD scorer.
    if (scanned.length > 0) {
      const score = rowScorer('cosine', query(q), data, dim);
      for (const r of scanned) top.push(score(r), r);
    }
    index.search(query(q), searchSpace, top, ef);
    out[q] = top.drain().keys;
  }
  return { qps: nq / ((performance.now() - t) / 1000), out };
}
const seconds = (f) => {
  const t = performance.now();
  const value = f();
  return { value, s: (performance.now() - t) / 1000 };
};

console.log(`wordnet-lsa384: ${n} x ${dim}, ${nq} queries, M=${M}, efConstruction=${EFC}, node ${process.version}`);
const params = { m: M, ef_construction: EFC };
const first = seconds(() => hnswKind.build({ ...space, data: all, rows: nBase }, params, { random: seededRandom('base') }));
const oldSpace = { ...space, slotToRow: rowOfOld.slice(0, nBase) };
const added = kept.filter((r) => r >= nBase).map((r) => rowOfOld[r]);
const inc = seconds(() => hnswKind.update(first.value, oldSpace, added, params, { random: seededRandom('insert') }));
if (!inc.value.index) throw new Error(`update refused: ${inc.value.rebuild}`);
const full = seconds(() => hnswKind.build(space, params, { random: seededRandom('full') }));
console.log(`full build of ${rows}: ${full.s.toFixed(2)} s (${(rows / full.s).toFixed(0)} rows/s)`);
console.log(`build of ${nBase}: ${first.s.toFixed(2)} s (${(nBase / first.s).toFixed(0)} rows/s), then ${n - rows} deleted and ${added.length} inserted: ${inc.s.toFixed(2)} s (${(added.length / inc.s).toFixed(0)} rows/s)`);

const runs = {
  full: (ef) => run(full.value, ef),
  incremental: (ef) => run(inc.value.index, ef),
  ...(delShare > 0 && { 'dead slots + scan': (ef) => run(first.value, ef, oldSpace, added) }),
};
for (const f of Object.values(runs)) f(40);
console.log(`ef   ${Object.keys(runs).map((name) => `${name} q/s  recall`.padStart(28)).join(' |')}`);
for (const ef of EFS) {
  const best = Object.fromEntries(Object.keys(runs).map((name) => [name, { qps: 0 }]));
  for (let round = 0; round < 3; round++) {
    for (const [name, f] of Object.entries(runs)) {
      const r = f(ef);
      if (r.qps > best[name].qps) best[name] = r;
    }
  }
  console.log(`${String(ef).padEnd(4)} ${Object.values(best).map((b) => `${b.qps.toFixed(0).padStart(19)} ${recallOf(b.out).toFixed(4)}`).join(' |')}`);
}
