/**
 * Batched exact search: the k nearest rows for many queries in one pass over
 * the rows, with the same answers, bit for bit, as `scan` for each query.
 *
 * 1. Filter: the float32 block kernels of simd.ts score a tile of rows
 *    against BLOCK_QUERIES queries at a time (a row is loaded once for all of
 *    them; the tile stays in L2 while every query group passes over it). Per
 *    query, a row is kept as a candidate unless its float32 score proves that
 *    k rows seen so far are strictly nearer (see `approxCut`).
 * 2. Re-score: the candidates go through `rowScorer`, the exact kernels every
 *    exact index uses, into a TopK; so distances and the tie order by row are
 *    those of `scan`.
 * 3. Parallel: the rows are split into parts, one per thread; this thread
 *    searches the first, worker threads (batch-worker.ts) the others, each on
 *    its own copy of its rows, and the exact per-part top k lists are merged.
 *    The top k of a union is the top k of the union of the parts' top k, so
 *    the merge changes nothing.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, threadCount, workerScript } from './thread.js';
import { allocResident, dot, norm, residency, rowScorer, scan } from './kernels.js';
import type { Metric } from './kernels.js';
import { BLOCK_QUERIES, blockScratch, blockTileRows, interleaveQueries } from './simd.js';
import { TopK } from './topk.js';

/** k nearest rows of one query, nearest first (as `TopK.drain`). */
export interface Ranked {
  keys: Int32Array;
  dists: Float64Array;
}

/** Rows to search: prepared as for the indexes (`prepareData`), row-major. */
export interface BatchRows {
  metric: Metric;
  dim: number;
  data: Float32Array;
  rows: number;
}

export interface BatchOptions {
  /** Threads, this one included; default: the machine's (`os.availableParallelism`). */
  threads?: number;
  /** Fewer floats than this per thread and fewer threads are used; default 2^18 (1 MiB). */
  minFloatsPerThread?: number;
  /** The worker script; default batch-worker.js next to this module. */
  workerUrl?: URL;
}

const MIN_FLOATS_PER_THREAD = 2 ** 18;

/** Searches one set of rows with batches of queries, on one or more threads. */
export class BatchSearch {
  readonly threads: number;
  private readonly main: Part;
  private readonly workers: PartWorker[] = [];

  constructor(
    readonly rows: BatchRows,
    opts: BatchOptions = {},
  ) {
    const { metric, dim, data } = rows;
    const n = rows.rows;
    const wanted = threadCount(opts.threads);
    const minFloats = opts.minFloatsPerThread ?? MIN_FLOATS_PER_THREAD;
    this.threads = Math.max(1, Math.min(wanted, n, Math.floor((n * dim) / Math.max(1, minFloats))));
    const bounds = Array.from({ length: this.threads + 1 }, (_, t) => Math.round((t * n) / this.threads));
    this.main = residentPart(metric, data, dim, 0, bounds[1]);
    const url = opts.workerUrl ?? workerScript('batch-worker', import.meta.url);
    for (let t = 1; t < this.threads; t++) {
      this.workers.push(new PartWorker(url, metric, dim, data.slice(bounds[t] * dim, bounds[t + 1] * dim), bounds[t]));
    }
  }

  /**
   * The min(ks[i], rows) nearest rows to each query, as `scan` ranks them.
   * @param queries prepared with `prepareQuery`, each of `dim` floats
   */
  async search(queries: Float32Array[], ks: number[]): Promise<Ranked[]> {
    const pending = this.workers.map((w) => w.search(queries, ks));
    const parts = [searchPart(this.main, queries, ks)];
    for (const p of await Promise.all(pending)) parts.push(p);
    if (parts.length === 1) return parts[0];
    return queries.map((_, i) => {
      const top = new TopK(Math.min(ks[i], this.rows.rows));
      for (const part of parts) {
        const { keys, dists } = part[i];
        for (let j = 0; j < keys.length; j++) top.push(dists[j], keys[j]);
      }
      return top.drain();
    });
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** A run of rows in a WebAssembly block (when SIMD is available), and the bound data its filter needs. */
export interface Part {
  metric: Metric;
  dim: number;
  /** The rows, from row `from` to row `to` (exclusive). */
  data: Float32Array;
  from: number;
  to: number;
  /** Added to every row this part returns. */
  firstRow: number;
  /** Largest Euclidean norm of the part's rows. */
  maxNorm: number;
}

/**
 * Rows [from, to) of `data` as a part: in `data` itself when it is an
 * `allocRows` block, else in a resident copy of those rows (a plain copy when
 * SIMD is unavailable: `searchPart` then scans each query).
 */
export function residentPart(metric: Metric, data: Float32Array, dim: number, from: number, to: number, firstRow = from): Part {
  let rows = data;
  let lo = from;
  if (residency(data, dim) === undefined) {
    const src = data.subarray(from * dim, to * dim);
    rows = allocResident(src.length, dim) ?? new Float32Array(src.length);
    rows.set(src);
    lo = 0;
  }
  const res = residency(rows, dim);
  const normSq = res === undefined ? (r: number) => dot(rows, r * dim, rows, r * dim, dim) : (r: number) => res.wasm.dotExact(res.base + r * dim, res.base + r * dim, dim);
  let maxNormSq = 0;
  for (let r = lo; r < lo + to - from; r++) maxNormSq = Math.max(maxNormSq, normSq(r));
  return { metric, dim, data: rows, from: lo, to: lo + to - from, firstRow, maxNorm: Math.sqrt(maxNormSq) };
}

/** The exact top k of each query over one part; rows numbered from `firstRow`. */
export function searchPart(part: Part, queries: Float32Array[], ks: number[]): Ranked[] {
  const { metric, dim, data, from, to } = part;
  const size = to - from;
  const res = residency(data, dim);
  const filters = queries.map((q, i) => (res === undefined ? null : Filter.make(metric, dim, q, part.maxNorm, Math.min(ks[i], size))));
  const fast = filters.flatMap((f, i) => (f === null ? [] : [i]));
  if (res !== undefined && fast.length > 0) {
    const { wasm, base } = res;
    const f32 = wasm.f32;
    const layout = blockScratch(dim);
    const tile = blockTileRows(dim);
    const kernel = metric === 'l2' ? wasm.l2sqBlock : wasm.dotBlock;
    // Keys in which smaller is nearer: l2sq, or -dot.
    const sign = metric === 'l2' ? 1 : -1;
    const groups: Float32Array[] = [];
    for (let g = 0; g < fast.length; g += BLOCK_QUERIES) groups.push(interleaveQueries(fast.slice(g, g + BLOCK_QUERIES).map((i) => queries[i]), dim));
    for (let r0 = from; r0 < to; r0 += tile) {
      const n = Math.min(tile, to - r0);
      for (let g = 0; g < groups.length; g++) {
        f32.set(groups[g], layout.group);
        kernel(layout.group * 4, (base + r0 * dim) * 4, n, dim * 4, dim, layout.out * 4);
        const members = Math.min(BLOCK_QUERIES, fast.length - g * BLOCK_QUERIES);
        for (let j = 0; j < members; j++) (filters[fast[g * BLOCK_QUERIES + j]] as Filter).offer(f32, layout.out + j, n, sign, r0);
      }
    }
  }
  return queries.map((q, i) => {
    const top = new TopK(Math.min(ks[i], size));
    const filter = filters[i];
    if (filter === null) scan(metric, q, data, dim, from, to, top);
    else {
      const score = rowScorer(metric, q, data, dim);
      filter.forEachCandidate((row) => top.push(score(row), row));
    }
    const ranked = top.drain();
    const shift = part.firstRow - from;
    if (shift !== 0) for (let j = 0; j < ranked.keys.length; j++) ranked.keys[j] += shift;
    return ranked;
  });
}

/**
 * The rows one query keeps from the float32 pass: every row whose key (l2sq,
 * or -dot) is at most `cut`, where cut follows the k-th smallest key so far.
 * Candidates above the cut are dropped when the list fills up.
 */
class Filter {
  cut = Infinity;
  private readonly top: TopK;
  private rows: Int32Array;
  private keys: Float32Array;
  private n = 0;

  private constructor(
    k: number,
    private readonly cutOf: (kth: number) => number,
  ) {
    this.top = new TopK(k);
    this.rows = new Int32Array(2 * k + 256);
    this.keys = new Float32Array(this.rows.length);
  }

  /** A filter for query `q`, or null when its float32 pass could overflow (the caller scans instead). */
  static make(metric: Metric, dim: number, q: Float32Array, maxNorm: number, k: number): Filter | null {
    const cutOf = approxCut(metric, dim, norm(q, 0, dim), maxNorm);
    return cutOf === null ? null : new Filter(k, cutOf);
  }

  /** Offers rows firstRow.. firstRow+n-1, whose scores are every BLOCK_QUERIES-th float of `scores` from `at`; key = sign·score. */
  offer(scores: Float32Array, at: number, n: number, sign: number, firstRow: number): void {
    let cut = this.cut;
    for (let r = 0, o = at; r < n; r++, o += BLOCK_QUERIES) {
      const key = sign * scores[o];
      if (key <= cut) cut = this.add(key, firstRow + r);
    }
  }

  /** Records a row whose key is at most the cut; returns the new cut. */
  private add(key: number, row: number): number {
    if (this.n === this.rows.length) this.compact();
    this.rows[this.n] = row;
    this.keys[this.n++] = key;
    const top = this.top;
    top.push(key, row);
    if (top.full) this.cut = this.cutOf(top.worst());
    return this.cut;
  }

  forEachCandidate(fn: (row: number) => void): void {
    for (let i = 0; i < this.n; i++) if (this.keys[i] <= this.cut) fn(this.rows[i]);
  }

  /** Drops the rows above the cut; grows the list when most rows stay (many near-ties). */
  private compact(): void {
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.keys[i] <= this.cut) {
        this.rows[w] = this.rows[i];
        this.keys[w++] = this.keys[i];
      }
    }
    this.n = w;
    if (w > this.rows.length / 2) {
      const rows = new Int32Array(2 * this.rows.length);
      const keys = new Float32Array(rows.length);
      rows.set(this.rows.subarray(0, w));
      keys.set(this.keys.subarray(0, w));
      this.rows = rows;
      this.keys = keys;
    }
  }
}

/**
 * For one query: cut(kth) = the largest float32 key a row may have and still
 * rank in the exact top k, once k rows with keys ≤ kth have been seen; null
 * when the float32 pass could overflow (huge vectors: scan those exactly).
 *
 * Error of the float32 pass. Each product (and for l2 each difference) is
 * rounded once, then goes through at most h = ⌊dim/4⌋ + dim mod 4 + 2
 * additions (simd.ts `blockBody`), so with m = h + 2 roundings per term and
 * γ = m·u/(1 − m·u), u = 2⁻²⁴, the float32 result is Σ tᵢ(1 + θᵢ), |θᵢ| ≤ γ
 * (Higham, Accuracy and Stability, §3.1), up to 2⁻¹³⁰ in all from underflow.
 * The exact kernels (float64) err by under 2⁻⁴⁰ as much, and the few float64
 * operations below by less again: doubling γ covers them all.
 *  - dot, cosine: tᵢ = qᵢxᵢ and Σ|tᵢ| ≤ ‖q‖·max‖x‖ = S (Cauchy-Schwarz), so
 *    the exact key A and the float32 key a satisfy |A − a| ≤ β = 2γS + 2⁻¹²⁰.
 *  - l2: tᵢ ≥ 0, so the error is relative: a(1 − 2γ) − 2⁻¹²⁰ ≤ A ≤ a(1 + 2γ) + 2⁻¹²⁰.
 *
 * A row with lower bound L(a) > T, where T is the largest upper bound U of
 * the k smallest keys so far, is nearer than none of those k rows. The
 * distances are 1 + A (cosine), A (dot) and √A (l2), each rounded; so that
 * rounding cannot turn "A larger" into a tie that the row order would then
 * break in its favour, U carries a margin μ: 2⁻⁴⁸(1 + S) absolute for cosine
 * and dot, a factor 1 + 2⁻⁴⁸ for l2, well above the rounding of 1 + A or √A.
 * So a row is a candidate while L(a) ≤ T, i.e. a ≤ cut(kth).
 *
 * Overflow: every partial sum is at most 2S (dot) or 2(‖q‖ + max‖x‖)² (l2);
 * below 2¹⁰⁰ they stay far from float32's 2¹²⁸.
 */
export function approxCut(metric: Metric, dim: number, qNorm: number, maxNorm: number): ((kth: number) => number) | null {
  const m = (dim >> 2) + (dim & 3) + 4;
  const u = 2 ** -24;
  const gamma = (m * u) / (1 - m * u);
  const alpha = 2 ** -120;
  if (metric === 'l2') {
    if ((qNorm + maxNorm) ** 2 >= 2 ** 100) return null;
    const rho = 2 * gamma;
    const mu = 2 ** -48;
    return (kth) => ((1 + mu) * ((1 + rho) * kth + alpha) + alpha) / (1 - rho);
  }
  const s = qNorm * maxNorm;
  if (s >= 2 ** 100) return null;
  const beta = 2 * gamma * s + alpha;
  const mu = 2 ** -48 * (1 + s);
  return (kth) => kth + 2 * beta + mu;
}

/** A worker thread holding its own copy of a run of rows. Requests are answered in order. */
class PartWorker {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (r: Ranked[]) => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown = null;

  constructor(
    url: URL,
    metric: Metric,
    private readonly dim: number,
    rows: Float32Array,
    firstRow: number,
  ) {
    this.worker = startWorker(url);
    this.worker.unref();
    this.worker.on('message', (ranked: Ranked[]) => {
      this.waiting.shift()?.resolve(ranked);
      if (this.waiting.length === 0) this.worker.unref();
    });
    const fail = (err: unknown) => {
      this.failure ??= err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`batch worker exited with code ${code}`)));
    this.worker.postMessage({ metric, dim, rows, firstRow }, [rows.buffer as ArrayBuffer]);
  }

  search(queries: Float32Array[], ks: number[]): Promise<Ranked[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    // A pending answer must keep the process alive; an idle worker must not.
    this.worker.ref();
    // One buffer for all the queries: a query may be a view on a larger one, which a message would copy whole.
    const packed = new Float32Array(queries.length * this.dim);
    queries.forEach((q, i) => packed.set(q, i * this.dim));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage({ queries: packed, ks }, [packed.buffer]);
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('batch worker closed');
    await this.worker.terminate();
  }
}
