// Exact linear scan: JS kernels on a plain array vs the bit-exact f64x2 WebAssembly
// kernels on an allocRows block, same process, interleaved; checks identical results.
// Usage: npx tsc -p . && node scripts/bench-linear.mjs [queries=200]
import fs from 'node:fs';
import { prepareData, scan } from '../dist/index/kernels.js';
import { TopK } from '../dist/index/topk.js';

const dir = new URL('../../shared/data/wordnet-lsa384/', import.meta.url).pathname;
const read = (f) => { const b = fs.readFileSync(dir + f); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const dim = 384;
const raw = read('base.f32');
const qs = read('queries.f32');
const nq = Number(process.argv[2] ?? 200);
const rows = raw.length / dim;
const resident = prepareData('cosine', raw, dim);
const plain = Float32Array.from(resident);
function run(data) {
  const t = performance.now();
  const out = [];
  for (let q = 0; q < nq; q++) {
    const top = new TopK(10);
    scan('cosine', qs.subarray(q * dim, (q + 1) * dim), data, dim, 0, rows, top);
    out.push(top.drain());
  }
  return { qps: nq / ((performance.now() - t) / 1000), out };
}
const best = { plain: 0, resident: 0 };
let a, b;
for (let round = 0; round < 4; round++) {
  a = run(plain);
  b = run(resident);
  if (round > 0) {
    best.plain = Math.max(best.plain, a.qps);
    best.resident = Math.max(best.resident, b.qps);
  }
}
const same = a.out.every((x, i) => x.keys.join() === b.out[i].keys.join() && x.dists.join() === b.out[i].dists.join());
const gbs = (qps) => ((qps * rows * dim * 4) / 1e9).toFixed(2);
console.log(`wordnet ${rows} x ${dim}, ${nq} queries, exact cosine top-10, best of 3 rounds`);
console.log(`JS 4-way kernels (plain array):     ${best.plain.toFixed(1)} q/s  ${gbs(best.plain)} GB/s`);
console.log(`wasm f64x2 kernels (allocRows):     ${best.resident.toFixed(1)} q/s  ${gbs(best.resident)} GB/s  (${(best.resident / best.plain).toFixed(2)}x)`);
console.log(`identical results (keys and distances): ${same}`);
