/**
 * Row codes: an int8 code of every prepared row (unit rows for cosine) with a
 * bound on its error, so an exact query over a library still on disk reads a
 * quarter of the bytes of its float rows, and then only the float rows that
 * can still rank in the top k (a provably exact candidate set).
 *
 * Layout (two sidecars of a version 2 manifest, `"row_codes"` of a library):
 *
 *   codes:  rows × stride bytes, stride = dim rounded up to 16; row r is
 *           c_r (int8, two's complement), zero padded
 *   params: rows × 3 float32: s_r, E_r, N_r
 *
 * with x_r the prepared row (what `prepareRows` makes, to the bit):
 *   s_r = fround(max|x_r| / 127), c_r = clamp(round(x_r / s_r), ±127),
 *   E_r ≥ ‖x_r − s_r·c_r‖ (rounded up to float32), N_r = fround(‖x_r‖²).
 *
 * Candidate bound. The query q is coded alike: t = max|q| / 127,
 * d = round(q / t), and F ≥ ‖q − t·d‖ in float64. D = d·c_r is an exact
 * integer (idot4, |D| ≤ dim·127²), and with P = t·s_r·D:
 *   q·x_r − P = q·e_r + s_r·(f·c_r),  e_r = x_r − s_r c_r,  f = q − t d,
 * so |q·x_r − P| ≤ ‖q‖·E_r + F·(‖x_r‖ + E_r) = B_r (Cauchy-Schwarz, and
 * s_r‖c_r‖ ≤ ‖x_r‖ + E_r). Each row's key (1 − q·x, −q·x, or ‖q − x‖² for l2,
 * whose square root is monotone) then lies in [lo_r, hi_r]; both are widened
 * by a relative 1e-9, far above the float64 rounding of the exact kernels and
 * of these bounds (~1e-13), so the computed distances lie inside too. Let T be
 * the k-th smallest hi_r. A row with lo_r > T is strictly farther than k rows,
 * whatever the tie order: it cannot rank. Every other row is re-scored from its
 * float row by the exact kernels, so the answer is the scan's, bit for bit.
 */
import { allocRows, norm, prepareRows } from './kernels.js';
import type { Metric } from './kernels.js';
import { WasmF32 } from './simd.js';
import { TopK } from './topk.js';

/** Floats of params per row. */
export const CODE_PARAMS = 3;

/** Bytes per row of codes: dim rounded up to the 16 bytes of a SIMD load. */
export function codeStride(dim: number): number {
  return (dim + 15) & ~15;
}

/** Relative slack of every bound: see the top of this file. */
const SLACK = 1e-9;

/**
 * Writes the codes of rows [from, to) of `data` (rows as stored, row-major)
 * into `codes` and `params` from row `at` on.
 */
export function encodeRowCodes(metric: Metric, data: Float32Array, dim: number, from: number, to: number, codes: Int8Array, params: Float32Array, at: number): void {
  const stride = codeStride(dim);
  // Rows are prepared a block at a time by prepareRows itself (its SIMD kernels on a resident block), so the
  // codes are of the very rows a query scores.
  const blockRows = Math.max(1, Math.floor(2 ** 17 / Math.max(1, dim)));
  const block = prepareBlock(blockRows, dim);
  for (let r0 = from; r0 < to; r0 += blockRows) {
    const n = Math.min(blockRows, to - r0);
    block.set(data.subarray(r0 * dim, (r0 + n) * dim));
    prepareRows(metric, block, dim, 0, n);
    for (let j = 0; j < n; j++) {
      const off = j * dim;
      let max = 0;
      let n2 = 0;
      for (let i = 0; i < dim; i++) {
        const v = block[off + i];
        const a = v < 0 ? -v : v;
        if (a > max) max = a;
        n2 += v * v;
      }
      // The codes may be any integers: E is measured from the ones stored, so only it must be right.
      const s = Math.fround(max / 127);
      const k = s === 0 ? 0 : 1 / s;
      const o = (at + r0 - from + j) * stride;
      let e2 = 0;
      for (let i = 0; i < dim; i++) {
        const v = block[off + i];
        // Rounded half away from zero, within ±127 (|v·k| ≤ 127 up to rounding).
        let c = (v * k + (v < 0 ? -0.5 : 0.5)) | 0;
        c = c > 127 ? 127 : c < -127 ? -127 : c;
        codes[o + i] = c;
        const e = v - s * c;
        e2 += e * e;
      }
      const p = (at + r0 - from + j) * CODE_PARAMS;
      params[p] = s;
      params[p + 1] = roundUp(Math.sqrt(e2) * (1 + SLACK));
      params[p + 2] = Math.fround(n2);
    }
  }
}

let scratch: Float32Array | null = null;

/** A block of `rows` rows for prepareRows, kept for the next call (one memory, not one per call). */
function prepareBlock(rows: number, dim: number): Float32Array {
  if (scratch === null || scratch.length !== rows * dim) scratch = allocRows(rows * dim, dim);
  return scratch;
}

/** The smallest float32 at least v (v ≥ 0). */
function roundUp(v: number): number {
  const f = Math.fround(v);
  return f >= v ? f : Math.fround(v * (1 + 2 ** -23));
}

/** Where codes not held in memory are read from (a sidecar): a pass over all of them, checked once it ends, and ranges. */
export interface CodeSource {
  scan(window: Uint8Array, each: (filled: Uint8Array, offset: number) => void): void;
  readRange(into: Uint8Array, offset: number): void;
}

/** Bytes of codes a streamed pass holds at once: its reads stay in the caches and reuse one small memory. */
const STREAM_BYTES = 1 << 20;

/** Rows of a streamed pass's window: about STREAM_BYTES of codes, at least one row. */
export function streamRows(stride: number): number {
  return Math.max(1, Math.floor(STREAM_BYTES / stride));
}

/**
 * Row codes in a WebAssembly memory, ready for `candidates`: all of them, or,
 * given a source, a window that each `candidates` call fills from it in turn.
 * A cold query streams (reading 38 MB into a memory of its own cost it as much
 * as scoring them); a process that asks again holds them.
 */
export class CodedRows {
  /** Where the codes go: read the codes sidecar straight into it (all rows; with a source, the window). */
  readonly codeBytes: Uint8Array;
  private readonly wasm: WasmF32;
  private readonly bytes: Uint8Array;
  private readonly out: Int32Array;
  private readonly stride: number;
  private readonly windowRows: number;
  /** Byte offsets in the memory: the query's code, idot4's output, the rows' codes. */
  private readonly q0: number;
  private readonly out0: number;
  private readonly codes0: number;

  /**
   * @param params rows × CODE_PARAMS floats
   * @param source read the codes from here at each query instead of holding them (`windowRows` at a time)
   * @throws Error when SIMD is unavailable (callers then scan the float rows)
   */
  constructor(
    readonly metric: Metric,
    readonly dim: number,
    readonly rows: number,
    readonly params: Float32Array,
    private readonly source: CodeSource | null = null,
    windowRows = streamRows(codeStride(dim)),
  ) {
    this.stride = codeStride(dim);
    this.windowRows = source ? Math.max(1, Math.min(rows, windowRows)) : rows;
    this.q0 = 0;
    this.out0 = this.stride;
    this.codes0 = this.stride + 64;
    this.wasm = new WasmF32(Math.ceil((this.codes0 + this.windowRows * this.stride) / 4));
    this.bytes = new Uint8Array(this.wasm.memory.buffer);
    this.out = new Int32Array(this.wasm.memory.buffer, this.out0, 4);
    this.codeBytes = this.bytes.subarray(this.codes0, this.codes0 + this.windowRows * this.stride);
  }

  /** Row r's code (read from the source when they are streamed). */
  code(r: number): Int8Array {
    if (this.source) {
      const c = new Int8Array(this.dim);
      this.source.readRange(new Uint8Array(c.buffer), r * this.stride);
      return c;
    }
    return new Int8Array(this.bytes.buffer, this.codes0 + r * this.stride, this.dim);
  }

  /**
   * The rows that may rank among the k nearest to `q` (prepared with
   * `prepareQuery`), ascending; every other row provably does not.
   */
  candidates(q: Float32Array, k: number): Int32Array {
    const n = this.rows;
    const dim = this.dim;
    if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
    let qmax = 0;
    for (let i = 0; i < dim; i++) qmax = Math.max(qmax, Math.abs(q[i]));
    const qn = norm(q, 0, dim) * (1 + SLACK);
    const t = qmax / 127;
    const qcode = new Int8Array(this.bytes.buffer, this.q0, this.stride);
    qcode.fill(0);
    let f2 = 0;
    for (let i = 0; i < dim; i++) {
      const d = t === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(q[i] / t)));
      qcode[i] = d;
      const f = q[i] - t * d;
      f2 += f * f;
    }
    const fn = Math.sqrt(f2) * (1 + SLACK);
    const lo = new Float64Array(n);
    const top = new TopK(k);
    if (this.source) {
      // The pass throws, after the last window, when the codes are damaged: nothing scored is used then.
      this.source.scan(this.codeBytes, (filled, offset) => {
        const w0 = offset / this.stride;
        this.scoreWindow(w0, w0 + filled.byteLength / this.stride, t, qn, fn, lo, top);
      });
    } else this.scoreWindow(0, n, t, qn, fn, lo, top);
    const cut = top.worst();
    // One pass (a cold query runs it before V8 has optimised it: each pass over 100k rows counts).
    const rows = new Int32Array(n);
    let m = 0;
    for (let r = 0; r < n; r++) if (lo[r] <= cut) rows[m++] = r;
    return rows.slice(0, m);
  }

  /** Bounds of rows [w0, w1), whose codes are at the start of codeBytes (all rows: at w0's place). */
  private scoreWindow(w0: number, w1: number, t: number, qn: number, fn: number, lo: Float64Array, top: TopK): void {
    const { params, stride, out, metric } = this;
    const qn2 = qn * qn;
    const base = this.codes0 + (this.source ? -w0 * stride : 0);
    const last = base + (w1 - 1) * stride;
    // Rows come in ascending order, so once the heap is full a row enters it exactly when its bound is below the
    // k-th best (on a tie the earlier row stays): asked here, the heap is called only for those.
    let worst = top.worst();
    for (let r0 = w0; r0 < w1; r0 += 4) {
      const a = base + r0 * stride;
      this.wasm.idot4(this.q0, a, Math.min(a + stride, last), Math.min(a + 2 * stride, last), Math.min(a + 3 * stride, last), stride, this.out0);
      for (let j = 0; j < 4 && r0 + j < w1; j++) {
        const r = r0 + j;
        const s = params[r * CODE_PARAMS];
        const e = params[r * CODE_PARAMS + 1];
        const n2 = params[r * CODE_PARAMS + 2];
        const xn = Math.sqrt(n2) * (1 + 1e-6);
        const p = t * s * out[j];
        const b = qn * e + fn * (xn + e) + SLACK * qn * xn + 1e-30;
        let low: number;
        let high: number;
        if (metric === 'l2') {
          const slack = SLACK * (qn + xn) ** 2 + 1e-30;
          low = qn2 + n2 * (1 - 1e-6) - 2 * (p + b) - slack;
          high = qn2 + n2 * (1 + 1e-6) - 2 * (p - b) + slack;
        } else {
          low = -(p + b);
          high = -(p - b);
        }
        lo[r] = low;
        if (high < worst || worst === Infinity) {
          top.push(high, r);
          worst = top.worst();
        }
      }
    }
  }

  /**
   * Whether row r's prepared float row `x` is the one its code was made from
   * (within its stored bounds): a code that does not match its row would
   * make the candidate set wrong, so a mismatch is damage.
   */
  matches(r: number, x: Float32Array, at: number): boolean {
    const s = this.params[r * CODE_PARAMS];
    const e = this.params[r * CODE_PARAMS + 1];
    const n2 = this.params[r * CODE_PARAMS + 2];
    const c = this.code(r);
    let e2 = 0;
    let x2 = 0;
    for (let i = 0; i < this.dim; i++) {
      const d = x[at + i] - s * c[i];
      e2 += d * d;
      x2 += x[at + i] * x[at + i];
    }
    return Math.sqrt(e2) <= e * (1 + 1e-6) + 1e-30 && Math.abs(x2 - n2) <= 1e-6 * n2 + 1e-30;
  }
}

/** The codes of the first `rows` rows of `data` (rows as stored): codes as u32 words (for a u32 sidecar) and params. */
export function makeRowCodes(metric: Metric, data: Float32Array, dim: number, rows: number): { codes: Uint32Array; params: Float32Array } {
  const words = new Uint32Array((rows * codeStride(dim)) / 4);
  const params = new Float32Array(rows * CODE_PARAMS);
  encodeRowCodes(metric, data, dim, 0, rows, new Int8Array(words.buffer), params, 0);
  return { codes: words, params };
}

/** Rows asked of `rowsAt` at a time: 1.5 MB of floats at dim 384. */
export const SLICE_ROWS = 1024;

/**
 * The codes of `rows` rows as a byte source for writeSidecarParts, made a
 * slice at a time as it reads them (in order) from `rowsAt(from, to)` (at most
 * SLICE_ROWS rows, as stored, row-major; the array may be reused by the next
 * call). `params` is filled as the codes are read, so it is whole once they
 * all were. No copy of all the rows or of all the codes is held.
 */
export function rowCodeSource(metric: Metric, dim: number, rows: number, rowsAt: (from: number, to: number) => Float32Array): { source: { ref: { bytes: number }; readRange(into: Uint8Array, offset: number): void }; params: Float32Array } {
  const stride = codeStride(dim);
  const params = new Float32Array(rows * CODE_PARAMS);
  let codes = new Int8Array(0);
  let some = new Float32Array(0);
  const source = {
    ref: { bytes: rows * stride },
    readRange(into: Uint8Array, offset: number): void {
      const r0 = Math.floor(offset / stride);
      const r1 = Math.min(rows, Math.ceil((offset + into.byteLength) / stride));
      const n = r1 - r0;
      if (codes.length < n * stride) codes = new Int8Array(n * stride);
      if (some.length < n * CODE_PARAMS) some = new Float32Array(n * CODE_PARAMS);
      // A few rows at a time, so what rowsAt returns (maybe a buffer it reuses) stays small.
      for (let a = r0; a < r1; a += SLICE_ROWS) {
        const b = Math.min(r1, a + SLICE_ROWS);
        encodeRowCodes(metric, rowsAt(a, b), dim, 0, b - a, codes, some, a - r0);
      }
      params.set(some.subarray(0, n * CODE_PARAMS), r0 * CODE_PARAMS);
      const from = offset - r0 * stride;
      into.set(new Uint8Array(codes.buffer, from, into.byteLength));
    },
  };
  return { source, params };
}
