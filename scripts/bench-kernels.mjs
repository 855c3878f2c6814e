// Kernel micro-benchmark, all variants in one process, interleaved rounds.
// Usage: npx tsc -p . && node scripts/bench-kernels.mjs [dim=384] [rows=30000] [--seq]
// GB/s counts float32 row bytes (dim·4) for every variant, int8 included (it reads a quarter of that).
import { dot } from '../dist/index/kernels.js';
import { WasmF32 } from '../dist/index/simd.js';

const dim = Number(process.argv[2] ?? 384);
const rows = Number(process.argv[3] ?? 30000);

function dot8(a, aOff, b, bOff, n) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  let i = 0;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
    s4 += a[aOff + i + 4] * b[bOff + i + 4];
    s5 += a[aOff + i + 5] * b[bOff + i + 5];
    s6 += a[aOff + i + 6] * b[bOff + i + 6];
    s7 += a[aOff + i + 7] * b[bOff + i + 7];
  }
  for (; i < n; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}
function dot1(a, aOff, b, bOff, n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

const data = new Float32Array(rows * dim);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.7311) * 0.1;
const q = new Float32Array(dim);
for (let i = 0; i < dim; i++) q[i] = Math.cos(i * 0.37);
const w = new WasmF32(dim + rows * dim + 4);
w.f32.set(q, 0);
w.f32.set(data, dim);
const OUT = (dim + rows * dim) * 4;
// int8 copy (bytes) for idot4: dim rounded to 16, one block per row.
const b16 = (dim + 15) & ~15;
const w8 = new WasmF32((b16 * (rows + 1)) / 4 + 4);
const i8 = new Int8Array(w8.f32.buffer);
for (let i = 0; i < dim; i++) i8[i] = Math.round(q[i] * 127);
for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) i8[b16 * (r + 1) + i] = Math.round(data[r * dim + i] * 1270);
const OUT8 = b16 * (rows + 1);
// Random visiting order, like a graph walk; --seq for a scan.
const order = new Int32Array(rows);
let s = 12345;
for (let i = 0; i < rows; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; order[i] = process.argv.includes('--seq') ? i : s % rows; }

const variants = {
  'js 1-way': () => { let t = 0; for (let r = 0; r < rows; r++) t += dot1(q, 0, data, order[r] * dim, dim); return t; },
  'js 4-way (kernels.dot)': () => { let t = 0; for (let r = 0; r < rows; r++) t += dot(q, 0, data, order[r] * dim, dim); return t; },
  'js 8-way': () => { let t = 0; for (let r = 0; r < rows; r++) t += dot8(q, 0, data, order[r] * dim, dim); return t; },
  'wasm f64x2 (bit-exact)': () => { let t = 0; for (let r = 0; r < rows; r++) t += w.dotExact(0, dim + order[r] * dim, dim); return t; },
  'wasm f32x4 dot4 (x4 rows)': () => {
    let t = 0;
    const f = w.f32;
    for (let r = 0; r + 3 < rows; r += 4) {
      w.dot4(0, (dim + order[r] * dim) * 4, (dim + order[r + 1] * dim) * 4, (dim + order[r + 2] * dim) * 4, (dim + order[r + 3] * dim) * 4, dim & ~3, OUT);
      t += f[OUT / 4];
    }
    return t;
  },
  'wasm int8 idot4 (x4 rows)': () => {
    let t = 0;
    for (let r = 0; r + 3 < rows; r += 4) {
      w8.idot4(0, b16 * (order[r] + 1), b16 * (order[r + 1] + 1), b16 * (order[r + 2] + 1), b16 * (order[r + 3] + 1), b16, OUT8);
      t += i8[OUT8];
    }
    return t;
  },
  'wasm simd f32x4': () => { let t = 0; for (let r = 0; r < rows; r++) t += w.dot(0, dim + order[r] * dim, dim); return t; },
};
const best = {};
for (let round = 0; round < 7; round++) {
  for (const [name, fn] of Object.entries(variants)) {
    const reps = Math.max(2, Math.ceil(200000 / rows));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0) / (reps * rows);
    if (round > 0) best[name] = Math.min(best[name] ?? Infinity, ns);
  }
}
const base = best['js 4-way (kernels.dot)'];
console.log(`dim ${dim}, ${rows} rows in ${process.argv.includes('--seq') ? 'sequential' : 'random'} order; best of 6 rounds (ns per distance, GB/s of rows)`);
for (const [name, ns] of Object.entries(best)) {
  console.log(`${name.padEnd(24)} ${ns.toFixed(1).padStart(7)} ns  ${((dim * 4) / ns).toFixed(2).padStart(6)} GB/s  ${(base / ns).toFixed(2)}x vs 4-way`);
}
