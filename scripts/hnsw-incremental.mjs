// HNSW incremental insert against a full build, on wordnet-lsa384 (30k x 384, cosine).
// Usage: npx tsc -p . && node scripts/hnsw-incremental.mjs [--base 20000] [--m 16] [--efc 200] [--queries 1000]
//   Builds on the first --base rows, then inserts the rest with HnswIndex.update; builds all rows
//   from scratch; prints recall@10 (tie-aware, the dataset's truth) and queries/s at ef 64 and 128,
//   and the rows/s of both. Vectors and queries: bench/.cache (a symlink to the bench cache),
//   truth: ../shared/data/wordnet-lsa384.
import fs from 'node:fs';
import { hnswKind } from '../dist/index/hnsw.js';
import { prepareData } from '../dist/index/kernels.js';
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

const space = { metric: 'cosine', dim, data: prepareData('cosine', base.data, dim), rows: n, slotToRow: null };
const query = (q) => queries.data.subarray(q * dim, (q + 1) * dim);
const cosine = (q, r) => {
  let s = 0;
  for (let i = 0; i < dim; i++) s += queries.data[q * dim + i] * base.data[r * dim + i];
  return s;
};
/** Tie-aware recall@K, as the dataset's README says: a hit if its cosine >= the K-th true cosine - 1e-6. */
function recallOf(results) {
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const kth = truthSim[q * 100 + K - 1] - 1e-6;
    for (const r of results[q]) if (cosine(q, r) >= kth) hits++;
  }
  return hits / (nq * K);
}
function run(index, ef) {
  const out = new Array(nq);
  const t = performance.now();
  for (let q = 0; q < nq; q++) {
    const top = new TopK(K);
    index.search(query(q), space, top, ef);
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
const full = seconds(() => hnswKind.build(space, params, { random: seededRandom('full') }));
const first = seconds(() => hnswKind.build({ ...space, rows: nBase }, params, { random: seededRandom('base') }));
const added = Array.from({ length: n - nBase }, (_, i) => nBase + i);
const inc = seconds(() => hnswKind.update(first.value, space, added, params, { random: seededRandom('insert') }));
if (!inc.value.index) throw new Error(`update refused: ${inc.value.rebuild}`);
console.log(`full build of ${n}: ${full.s.toFixed(2)} s (${(n / full.s).toFixed(0)} rows/s)`);
console.log(`build of ${nBase}: ${first.s.toFixed(2)} s (${(nBase / first.s).toFixed(0)} rows/s), then insert of ${added.length}: ${inc.s.toFixed(2)} s (${(added.length / inc.s).toFixed(0)} rows/s)`);

const indexes = { full: full.value, incremental: inc.value.index };
run(indexes.full, 40);
run(indexes.incremental, 40);
console.log('ef   full q/s  recall | incremental q/s  recall');
for (const ef of EFS) {
  const best = { full: { qps: 0 }, incremental: { qps: 0 } };
  for (let round = 0; round < 3; round++) {
    for (const name of ['full', 'incremental']) {
      const r = run(indexes[name], ef);
      if (r.qps > best[name].qps) best[name] = r;
    }
  }
  const f = best.full;
  const i = best.incremental;
  console.log(`${String(ef).padEnd(4)} ${f.qps.toFixed(0).padStart(8)} ${recallOf(f.out).toFixed(4).padStart(7)} | ${i.qps.toFixed(0).padStart(15)} ${recallOf(i.out).toFixed(4).padStart(7)}`);
}
