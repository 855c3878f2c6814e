/**
 * Distance kernels over contiguous Float32Array rows. Every index and the test
 * oracle call `distance`, so an exact index and the oracle agree to the bit.
 *
 * Distances (smaller is nearer):
 *   cosine: 1 - cos(q, x), computed as 1 - dot on unit vectors
 *   l2:     Euclidean distance
 *   dot:    -(q · x)
 *
 * Rows made by `allocRows` (e.g. the cosine rows of `prepareData`) live in a
 * WebAssembly memory with a query scratch in front; `scan` reads those with
 * the f64x2 kernels of simd.ts, which are bit-identical to `dot`/`l2sq`
 * below, so exact indexes and the oracle still agree to the bit.
 */
import { WasmF32, blockScratch, sharedSimdAvailable, simdAvailable } from './simd.js';
import type { WasmMemory } from './simd.js';
import type { TopK } from './topk.js';
import { forEachSet } from './types.js';
import type { SearchSpace } from './types.js';

export type Metric = 'cosine' | 'l2' | 'dot';
export const METRICS: readonly Metric[] = ['cosine', 'l2', 'dot'];

/** Dot product of a[aOff..aOff+dim) and b[bOff..bOff+dim); 4 accumulators. */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < dim; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + (s2 + s3);
}

/** Squared Euclidean distance; same accumulator layout as `dot`. */
export function l2sq(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    const d0 = a[aOff + i] - b[bOff + i];
    const d1 = a[aOff + i + 1] - b[bOff + i + 1];
    const d2 = a[aOff + i + 2] - b[bOff + i + 2];
    const d3 = a[aOff + i + 3] - b[bOff + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[aOff + i] - b[bOff + i];
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}

/**
 * Distance from query `q` (already prepared with `prepareQuery`) to the row at
 * `off` of `data` (prepared with `prepareData`).
 */
export function distance(metric: Metric, q: Float32Array, data: Float32Array, off: number, dim: number): number {
  if (metric === 'l2') return Math.sqrt(l2sq(q, 0, data, off, dim));
  const d = dot(q, 0, data, off, dim);
  return metric === 'cosine' ? 1 - d : -d;
}

/** Euclidean norm of one row. */
export function norm(data: Float32Array, off: number, dim: number): number {
  return Math.sqrt(dot(data, off, data, off, dim));
}

/** A WebAssembly-resident row block: its kernels and where the query scratch is. */
export interface Resident {
  wasm: WasmF32;
  /** Float offset of the row block in the memory (the scratch, `blockScratch(dim)`, is in front). */
  base: number;
  dim: number;
  /** Float offset of this thread's single-query scratch (`rowScorer`, `scan`): 0, or a worker's own region of a shared block. */
  query: number;
  /** Worker query regions after the rows (a block allocated shared), else 0. */
  regions: number;
}

const up4 = (n: number): number => (n + 3) & ~3;

const RESIDENT = new WeakMap<ArrayBuffer, Resident>();
/**
 * Floats per block at most: the memory stays under 2 GiB, so every byte
 * offset the kernels take is a positive i32 (1M × 384 rows fit). Larger
 * blocks stay plain arrays and use the JS kernels.
 */
const MAX_RESIDENT_FLOATS = 2 ** 29;
/** Below 64 KiB a memory and an instance per block cost more than they save. */
const MIN_RESIDENT_FLOATS = 2 ** 14;

/**
 * A zeroed Float32Array of `length` floats for rows of `dim`, placed in its own
 * WebAssembly memory when SIMD is available so `scan` can use the SIMD
 * kernels on it; a plain Float32Array otherwise.
 */
export function allocRows(length: number, dim: number): Float32Array {
  return (length >= MIN_RESIDENT_FLOATS ? allocResident(length, dim) : undefined) ?? new Float32Array(length);
}

/**
 * Like `allocRows` whatever the size (for the batch search's own copies);
 * undefined when SIMD is unavailable or there is no address space for it.
 */
export function allocResident(length: number, dim: number): Float32Array | undefined {
  if (dim === 0 || !simdAvailable()) return undefined;
  const scratch = blockScratch(dim).floats;
  const regions = sharedFromStart > 0 && sharedSimdAvailable() ? sharedFromStart : 0;
  const floats = scratch + length + regions * up4(dim);
  if (floats > MAX_RESIDENT_FLOATS) return undefined;
  try {
    const wasm = new WasmF32(floats, { shared: regions > 0 });
    const rows = wasm.f32.subarray(scratch, scratch + length);
    RESIDENT.set(rows.buffer as ArrayBuffer, { wasm, base: scratch, dim, query: 0, regions });
    return rows;
  } catch {
    // Out of address space for another memory: fall back to the JS kernels.
    return undefined;
  }
}

/** Query regions for worker threads that blocks allocated from now on reserve; 0: blocks are not shared. */
let sharedFromStart = 0;

/**
 * From now on, row blocks go into shared memories with query regions for up to
 * `workers` worker threads, so a pool's `shareRows` adopts them instead of
 * holding a second copy (1.5 GB at 1M × 384). For processes that open pools.
 */
export function shareRowsFromStart(workers: number): void {
  sharedFromStart = Math.max(sharedFromStart, Math.max(0, Math.floor(workers)));
}

/**
 * Rows in a shared WebAssembly memory, for worker threads to re-score from
 * without a copy each: [blockScratch(dim) | rows | one query region of
 * up4(dim) floats per worker]. Posted as is; `adoptSharedRows` binds it.
 */
export interface SharedRows {
  memory: WasmMemory;
  dim: number;
  length: number;
  base: number;
  /** Float offset of each worker's query region (worker t ≥ 1 uses queries[t - 1]). */
  queries: number[];
}

/**
 * One copy of `data` (rows of `dim`) in a shared memory with query regions
 * for `workers` worker threads; undefined when shared SIMD memory is unavailable.
 */
export function shareRows(data: Float32Array, dim: number, workers: number): SharedRows | undefined {
  if (dim === 0 || !sharedSimdAvailable()) return undefined;
  const region = up4(dim);
  const regionsFrom = (at: number): number[] => Array.from({ length: workers }, (_, t) => at + t * region);
  if (sharesInPlace(data, dim, workers)) {
    // Allocated shared (shareRowsFromStart): the block itself, with the regions after its rows.
    const res = residency(data, dim)!;
    const rowsEnd = res.wasm.f32.length - res.regions * region;
    return { memory: res.wasm.memory, dim, length: data.length, base: res.base, queries: regionsFrom(rowsEnd) };
  }
  const base = blockScratch(dim).floats;
  const floats = base + data.length + workers * region;
  if (floats > MAX_RESIDENT_FLOATS) return undefined;
  try {
    const wasm = new WasmF32(floats, { shared: true });
    wasm.f32.set(data, base);
    return { memory: wasm.memory, dim, length: data.length, base, queries: regionsFrom(base + data.length) };
  } catch {
    return undefined;
  }
}

/** Whether `shareRows` hands `data` to `workers` workers as it is (a block allocated shared with room for them), not a copy. */
export function sharesInPlace(data: Float32Array, dim: number, workers: number): boolean {
  const res = residency(data, dim);
  if (res === undefined || res.regions < workers || !(res.wasm.memory.buffer instanceof SharedArrayBuffer)) return false;
  return res.wasm.f32.length - res.regions * up4(dim) - res.base === data.length;
}

/**
 * The rows of a `SharedRows` in this worker thread, as a resident block whose
 * single-query scratch is worker `t`'s region (`rowScorer` and `scan` use it).
 */
export function adoptSharedRows(shared: SharedRows, t: number): Float32Array {
  const wasm = new WasmF32(shared.base + shared.length + shared.queries.length * up4(shared.dim), { memory: shared.memory });
  const rows = wasm.f32.subarray(shared.base, shared.base + shared.length);
  RESIDENT.set(rows.buffer as ArrayBuffer, { wasm, base: shared.base, dim: shared.dim, query: shared.queries[t - 1], regions: 0 });
  return rows;
}

/** The `allocRows` block of rows of `dim` that `data` starts; undefined if it is not one. */
export function residency(data: Float32Array, dim: number): Resident | undefined {
  const res = RESIDENT.get(data.buffer as ArrayBuffer);
  return res === undefined || res.dim !== dim || data.byteOffset !== res.base * 4 ? undefined : res;
}

/**
 * The `allocRows` block `data` starts, with `q` copied into its query scratch;
 * undefined when the SIMD kernels cannot serve this (q, data, dim).
 */
function residentBlock(q: Float32Array, data: Float32Array, dim: number) {
  const res = residency(data, dim);
  if (res === undefined || q.length !== dim) return undefined;
  res.wasm.f32.set(q, res.query);
  return res;
}

/**
 * Offers rows [from, to) of `data` to `top` as (distance(metric, q, data, row·dim, dim), row):
 * the same numbers as calling `distance` per row, faster on `allocRows` blocks.
 */
export function scan(metric: Metric, q: Float32Array, data: Float32Array, dim: number, from: number, to: number, top: TopK): void {
  const res = residentBlock(q, data, dim);
  if (res === undefined) {
    for (let r = from; r < to; r++) top.push(distance(metric, q, data, r * dim, dim), r);
    return;
  }
  const { wasm: w, base, query: q0 } = res;
  if (metric === 'l2') {
    for (let r = from; r < to; r++) top.push(Math.sqrt(w.l2sqExact(q0, base + r * dim, dim)), r);
  } else if (metric === 'cosine') {
    for (let r = from; r < to; r++) top.push(1 - w.dotExact(q0, base + r * dim, dim), r);
  } else {
    for (let r = from; r < to; r++) top.push(-w.dotExact(q0, base + r * dim, dim), r);
  }
}

/**
 * Offers the rows [0, rows) whose bit is set in `bits` (see RowFilter) to
 * `top`, with the distances `scan` would give them.
 */
export function scanAllowed(score: (row: number) => number, bits: Uint32Array, rows: number, top: TopK): void {
  forEachSet(bits, rows, (row) => top.push(score(row), row));
}

/**
 * A scorer for one query over `data`: `score(row)` equals
 * distance(metric, q, data, row·dim, dim), through the SIMD kernels when
 * `data` is an `allocRows` block. The query is copied into the block's
 * scratch, so use one scorer per block at a time.
 */
export function rowScorer(metric: Metric, q: Float32Array, data: Float32Array, dim: number): (row: number) => number {
  const res = residentBlock(q, data, dim);
  if (res === undefined) return (row) => distance(metric, q, data, row * dim, dim);
  const { wasm: w, base, query: q0 } = res;
  if (metric === 'l2') return (row) => Math.sqrt(w.l2sqExact(q0, base + row * dim, dim));
  if (metric === 'cosine') return (row) => 1 - w.dotExact(q0, base + row * dim, dim);
  return (row) => -w.dotExact(q0, base + row * dim, dim);
}

/**
 * `pair(a, b)`: the distance between rows a and b of `data` (prepared with
 * `prepareData`), as `distance` gives it with row a as the query, but summed
 * in float32 lanes (WasmF32.dot/l2sq) on an `allocRows` block: for linking
 * graph nodes, not for ranking.
 */
export function rowPairDistance(metric: Metric, data: Float32Array, dim: number): (a: number, b: number) => number {
  const res = residency(data, dim);
  if (res !== undefined) {
    const { wasm: w, base } = res;
    if (metric === 'l2') return (a, b) => Math.sqrt(w.l2sq(base + a * dim, base + b * dim, dim));
    if (metric === 'cosine') return (a, b) => 1 - w.dot(base + a * dim, base + b * dim, dim);
    return (a, b) => -w.dot(base + a * dim, base + b * dim, dim);
  }
  if (metric === 'l2') return (a, b) => Math.sqrt(l2sq(data, a * dim, data, b * dim, dim));
  if (metric === 'cosine') return (a, b) => 1 - dot(data, a * dim, data, b * dim, dim);
  return (a, b) => -dot(data, a * dim, data, b * dim, dim);
}

/**
 * The matrix the indexes search: unit rows for cosine (so cosine is a dot
 * product, in an `allocRows` block), the stored rows otherwise. Returns
 * `data` itself when no copy is needed.
 */
export function prepareData(metric: Metric, data: Float32Array, dim: number): Float32Array {
  if (metric !== 'cosine') return data;
  const out = allocRows(data.length, dim);
  out.set(data);
  prepareRows(metric, out, dim, 0, dim === 0 ? 0 : data.length / dim);
  return out;
}

/** Prepares rows [from, to) of `data` in place, as `prepareData` would (unit rows for cosine). */
export function prepareRows(metric: Metric, data: Float32Array, dim: number, from: number, to: number): void {
  if (metric !== 'cosine') return;
  // On an allocRows block the norms and the scaling run in SIMD kernels that give the same bits as the JS
  // below, a few times faster: a cold exact query normalises every row of the library first.
  const res = residency(data, dim);
  for (let r = from; r < to; r++) {
    const off = r * dim;
    const n = res === undefined ? norm(data, off, dim) : Math.sqrt(res.wasm.dotExact(res.base + off, res.base + off, dim));
    // Zero rows are rejected on insert; guard anyway so a NaN never escapes.
    const inv = n > 0 ? 1 / n : 0;
    if (res !== undefined) res.wasm.scaleExact(res.base + off, dim, inv);
    else for (let i = 0; i < dim; i++) data[off + i] *= inv;
  }
}

/** `rowScorer` for a search space: rows a paged space has not read yet are read first. */
export function spaceScorer(space: SearchSpace, q: Float32Array): (row: number) => number {
  const score = rowScorer(space.metric, q, space.data, space.dim);
  const fill = space.fill;
  return fill ? (row) => (fill(row), score(row)) : score;
}

/** A query in the space of `prepareData`. */
export function prepareQuery(metric: Metric, query: Float32Array): Float32Array {
  if (metric !== 'cosine') return query;
  const n = norm(query, 0, query.length);
  const inv = n > 0 ? 1 / n : 0;
  // A loop, not query.map: a callback per element cost a --stdin run 2% of its time.
  const unit = new Float32Array(query.length);
  for (let i = 0; i < query.length; i++) unit[i] = query[i] * inv;
  return unit;
}
