// vdb HNSW next to hnswlib-node, same process, same data, same M / efConstruction / ef.
// Usage: npx tsc -p . && node scripts/hnsw-vs-hnswlib.mjs [wordnet|synth100k] [--queries N] [--no-hnswlib] [--del 0.1]
//   wordnet:   ../shared/data/wordnet-lsa384 (30k x 384, tie-aware truth from its README)
//   synth100k: 100 gaussian clusters (PEERS.md recipe), 100k x 384, truth by exact float64 scan
//   --del f:   also measure vdb recall with a fraction f of slots dead (against the live-only truth)
import fs from 'node:fs';
import { hnswKind } from '../dist/index/hnsw.js';
import { prepareData } from '../dist/index/kernels.js';
import { TopK } from '../dist/index/topk.js';
import { seededRandom } from '../dist/domain/random.js';
import { peer } from '../bench/peers.mjs';

const args = process.argv.slice(2);
const dataset = args.find((a) => !a.startsWith('--') && !/^[\d.]+$/.test(a)) ?? 'wordnet';
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const M = opt('--m', 16);
const EFC = opt('--efc', 200);
const EFS = [10, 16, 24, 32, 48, 64, 80, 120, 160, 240, 320];
const K = 10;
const withHnswlib = !args.includes('--no-hnswlib');
const delFrac = opt('--del', 0);

function readF32(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

let dim, base, queries, nq, truthIds, truthSim;
if (dataset === 'wordnet') {
  const dir = new URL('../../shared/data/wordnet-lsa384/', import.meta.url).pathname;
  dim = 384;
  base = readF32(dir + 'base.f32');
  queries = readF32(dir + 'queries.f32');
  nq = Math.min(opt('--queries', 1000), queries.length / dim);
  const tb = fs.readFileSync(dir + 'truth-cosine.i32');
  truthIds = new Int32Array(tb.buffer.slice(tb.byteOffset, tb.byteOffset + tb.byteLength));
  truthSim = readF32(dir + 'truth-cosine.f32');
} else {
  const n = dataset === 'synth100k' ? 100000 : Number(dataset.replace(/^synth/, '').replace(/k$/, '000'));
  dim = 384;
  nq = opt('--queries', 200);
  const unit = (v) => {
    let s = 0;
    for (const x of v) s += x * x;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  };
  const rc = seededRandom(12345);
  const centres = [];
  for (let c = 0; c < 100; c++) {
    const v = new Float64Array(dim);
    for (let i = 0; i < dim; i++) v[i] = rc.gaussian();
    unit(v);
    centres.push(v);
  }
  const gen = (count, seed) => {
    const r = seededRandom(seed);
    const out = new Float32Array(count * dim);
    const v = new Float64Array(dim);
    for (let p = 0; p < count; p++) {
      const c = centres[Math.floor(r.next() * 100)];
      for (let i = 0; i < dim; i++) v[i] = c[i] + 0.05 * r.gaussian();
      unit(v);
      out.set(v, p * dim);
    }
    return out;
  };
  base = gen(n, 777);
  queries = gen(nq, 999);
  const cache = `/tmp/vdb-hnsw-truth-${dataset}-${nq}.bin`;
  if (fs.existsSync(cache)) {
    const b = fs.readFileSync(cache);
    const all = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    truthIds = new Int32Array(all.buffer, 0, nq * 100);
    truthSim = new Float32Array(all.buffer, nq * 400, nq * 100);
  } else {
    const t0 = Date.now();
    truthIds = new Int32Array(nq * 100);
    truthSim = new Float32Array(nq * 100);
    const sims = new Float64Array(n);
    const idx = new Int32Array(n);
    for (let q = 0; q < nq; q++) {
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let i = 0; i < dim; i++) s += queries[q * dim + i] * base[r * dim + i];
        sims[r] = s;
        idx[r] = r;
      }
      const top = Array.from(idx).sort((a, b) => sims[b] - sims[a] || a - b).slice(0, 100);
      top.forEach((r, j) => {
        truthIds[q * 100 + j] = r;
        truthSim[q * 100 + j] = sims[r];
      });
    }
    const all = new Int32Array(nq * 200);
    all.set(truthIds, 0);
    new Float32Array(all.buffer).set(truthSim, nq * 100);
    fs.writeFileSync(cache, Buffer.from(all.buffer));
    console.error(`truth computed in ${((Date.now() - t0) / 1000).toFixed(1)} s (cached in ${cache})`);
  }
}
const n = base.length / dim;
const query = (q) => queries.subarray(q * dim, (q + 1) * dim);
const cosine = (q, r) => {
  let s = 0;
  for (let i = 0; i < dim; i++) s += queries[q * dim + i] * base[r * dim + i];
  return s;
};
/** Tie-aware recall@K: a returned row is a hit if its cosine >= the K-th true cosine - 1e-6. */
function recallOf(results) {
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const kth = truthSim[q * 100 + K - 1] - 1e-6;
    for (const r of results[q]) if (cosine(q, r) >= kth) hits++;
  }
  return hits / (nq * K);
}

console.log(`dataset ${dataset}: ${n} x ${dim}, ${nq} queries, M=${M}, efConstruction=${EFC}, k=${K}, node ${process.version}`);
// As the service does: cosine rows re-normalised into an allocRows (WebAssembly) block.
const space = { metric: 'cosine', dim, data: prepareData('cosine', base, dim), rows: n, slotToRow: null };

let t0 = performance.now();
const ours = hnswKind.build(space, { m: M, ef_construction: EFC, ef_search: 10 }, { random: seededRandom('bench') });
const oursBuild = (performance.now() - t0) / 1000;
console.log(`vdb hnsw build: ${oursBuild.toFixed(2)} s`);

let lib = null;
let libBuild = NaN;
if (withHnswlib) {
  const { HierarchicalNSW } = peer('hnswlib-node');
  const rows = Array.from({ length: n }, (_, r) => Array.from(base.subarray(r * dim, (r + 1) * dim)));
  t0 = performance.now();
  lib = new HierarchicalNSW('ip', dim);
  lib.initIndex(n, M, EFC, 100);
  for (let r = 0; r < n; r++) lib.addPoint(rows[r], r);
  libBuild = (performance.now() - t0) / 1000;
  console.log(`hnswlib-node build: ${libBuild.toFixed(2)} s  (vdb/hnswlib ${(oursBuild / libBuild).toFixed(2)}x)`);
}
const qArrays = Array.from({ length: nq }, (_, q) => Array.from(query(q)));

function runOurs(ef) {
  ours.efSearch = ef;
  const out = new Array(nq);
  const t = performance.now();
  for (let q = 0; q < nq; q++) {
    const top = new TopK(K);
    ours.search(query(q), space, top);
    out[q] = top.drain().keys;
  }
  return { qps: nq / ((performance.now() - t) / 1000), out };
}
function runLib(ef) {
  lib.setEf(ef);
  const out = new Array(nq);
  const t = performance.now();
  for (let q = 0; q < nq; q++) out[q] = lib.searchKnn(qArrays[q], K).neighbors;
  return { qps: nq / ((performance.now() - t) / 1000), out };
}

// Warm-up, then per ef the best of 3 interleaved rounds.
runOurs(40);
if (lib) runLib(40);
console.log('ef    vdb q/s   recall | hnswlib q/s  recall | vdb/hnswlib');
const curveA = [];
const curveB = [];
for (const ef of EFS) {
  let a = { qps: 0 };
  let b = { qps: 0 };
  for (let round = 0; round < 3; round++) {
    const ra = runOurs(ef);
    if (ra.qps > a.qps) a = ra;
    if (lib) {
      const rb = runLib(ef);
      if (rb.qps > b.qps) b = rb;
    }
  }
  const ra = recallOf(a.out);
  curveA.push([ra, a.qps]);
  if (lib) curveB.push([recallOf(b.out), b.qps]);
  const line = [String(ef).padEnd(4), a.qps.toFixed(0).padStart(9), ra.toFixed(4).padStart(8)];
  if (lib) line.push('|', b.qps.toFixed(0).padStart(11), recallOf(b.out).toFixed(4).padStart(7), '|', (a.qps / b.qps).toFixed(2) + 'x');
  console.log(line.join(' '));
}

/** QPS at a recall, linear between the two measured points around it (curves rise in recall with ef). */
function qpsAt(curve, target) {
  for (let i = 1; i < curve.length; i++) {
    const [r0, q0] = curve[i - 1];
    const [r1, q1] = curve[i];
    if (r0 <= target && target <= r1) return r1 === r0 ? Math.min(q0, q1) : q0 + ((q1 - q0) * (target - r0)) / (r1 - r0);
  }
  return curve[0][0] >= target ? curve[0][1] : NaN;
}
if (lib) {
  console.log('at equal recall@10:  vdb q/s | hnswlib q/s | ratio');
  for (const target of [0.9, 0.95, 0.97, 0.98, 0.99]) {
    const a = qpsAt(curveA, target);
    const b = qpsAt(curveB, target);
    console.log(`  ${target.toFixed(2)}            ${a.toFixed(0).padStart(7)} | ${b.toFixed(0).padStart(11)} | ${(a / b).toFixed(2)}x`);
  }
}

// Round trip cost.
t0 = performance.now();
const ser = ours.serialize();
const again = hnswKind.from(ser, dim);
console.log(`serialize+from: ${(performance.now() - t0).toFixed(0)} ms; level0 ${(ser.arrays.level0.byteLength / 1e6).toFixed(1)} MB, upper ${(ser.arrays.upper.byteLength / 1e6).toFixed(1)} MB`);
void again;

if (delFrac > 0) {
  // Kill a seeded fraction of slots; the truth is the exact top-K over live rows.
  const r = seededRandom('del');
  const slotToRow = new Int32Array(n);
  for (let s = 0; s < n; s++) slotToRow[s] = r.next() < delFrac ? -1 : s;
  const dspace = { ...space, slotToRow };
  for (const ef of [10, 40, 80, 160]) {
    ours.efSearch = ef;
    let hits = 0;
    let deadHits = 0;
    for (let q = 0; q < nq; q++) {
      const top = new TopK(K);
      ours.search(query(q), dspace, top);
      const got = top.drain().keys;
      const live = [];
      for (let j = 0; j < 100 && live.length < K; j++) if (slotToRow[truthIds[q * 100 + j]] >= 0) live.push(truthIds[q * 100 + j]);
      const kth = cosine(q, live[live.length - 1]) - 1e-6;
      for (const row of got) {
        if (slotToRow[row] < 0) deadHits++;
        else if (cosine(q, row) >= kth) hits++;
      }
    }
    console.log(`${(delFrac * 100).toFixed(0)}% dead, ef ${ef}: recall@10 ${(hits / (nq * K)).toFixed(4)} (dead returned: ${deadHits})`);
  }
}
