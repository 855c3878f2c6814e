/**
 * HNSW (Malkov & Yashunin), laid out like hnswlib's `hnswalg.h`.
 *
 * Memory (one WebAssembly memory, so the SIMD kernels of simd.ts can read both
 * the query and the vectors; 4-byte words, viewed as Int32Array and Float32Array):
 *
 *   word 0 .. Q-1          query scratch, Q = dim rounded up to 4 (pad stays 0)
 *   word Q .. Q+3          4 distances out of the batch kernel
 *   word Q + 4 + e·S ..    element e (slot e), S = L + V:
 *     [count | M0 neighbour slots | pad to L]  L = 1 + M0 rounded up to 4
 *     [dim floats of the vector   | pad to V]  V = dim rounded up to 4
 *
 * Level 0 therefore sits beside each vector (locality, as in hnswlib's
 * `data_level0_memory_`). Upper levels live apart in `upper` (Int32Array):
 * element e with level l > 0 owns l lists of [count | M neighbour slots] at
 * `upperOff[e]`, levels 1..l in order. `levels` (Int32Array, one per slot) is
 * stored; `upperOff` is its prefix sum.
 *
 * The index keeps its own copy of the vectors in slot order, so it can still
 * navigate through slots whose chunks were deleted or re-embedded since the
 * build (space.slotToRow[slot] = -1): dead slots are walked through but never
 * enter the result set (hnswlib's deleted-element rule), so a query still
 * gets ef live candidates. Cost: vectors are held twice (library + index).
 *
 * Navigation uses float32-lane SIMD distances (-dot for cosine/dot, squared L2
 * for l2), four neighbours per call so their cache misses overlap (the zero
 * padding to V lets the kernel skip a scalar tail). The candidates within
 * float32 rounding of the k-th are re-scored with the f64x2 kernels, which
 * give bit for bit what `distance()` of kernels.ts (the oracle, the exact
 * indexes) computes on the library's rows, and offered to TopK as
 * (distance, row).
 *
 * When ef ≥ slots the search is a scan of the live slots, hence exact.
 *
 * Serialized: params {m, ef_construction, ef_search, slots, entry, dim} and
 * arrays {level0: i32 block of slots·S words (vectors as float bits),
 * levels: i32, upper: i32}. Levels come from ctx.random, so a build is
 * deterministic and byte-identical for a fixed seed.
 */
import { distance, dot, l2sq } from './kernels.js';
import type { Metric } from './kernels.js';
import { WasmF32, simdAvailable } from './simd.js';
import type { TopK } from './topk.js';
import type { BuildContext, IndexKind, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

const DEFAULT_M = 16;
const DEFAULT_EF_CONSTRUCTION = 200;
const DEFAULT_EF_SEARCH = 64;
/** Levels above this are clamped; P(level > 24) = M^-24, never at any n we can hold. */
const MAX_LEVEL = 24;

const up4 = (n: number): number => (n + 3) & ~3;

/** Float64 keyed binary heap over (dist, slot); `max` selects the ordering. */
class Heap {
  d: Float64Array;
  id: Int32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly max: boolean,
  ) {
    this.d = new Float64Array(Math.max(4, capacity));
    this.id = new Int32Array(Math.max(4, capacity));
  }

  /** True when a ranks above b (closer to the root). */
  private above(a: number, b: number): boolean {
    return this.max ? a > b : a < b;
  }

  push(dist: number, slot: number): void {
    if (this.size === this.d.length) {
      const d = new Float64Array(this.size * 2);
      const id = new Int32Array(this.size * 2);
      d.set(this.d);
      id.set(this.id);
      this.d = d;
      this.id = id;
    }
    const d = this.d;
    const ids = this.id;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(dist, d[p])) break;
      d[i] = d[p];
      ids[i] = ids[p];
      i = p;
    }
    d[i] = dist;
    ids[i] = slot;
  }

  /** Removes the root; read it first from d[0], id[0]. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const d = this.d;
    const ids = this.id;
    const dist = d[n];
    const slot = ids[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.above(d[r], d[l]) ? r : l;
      if (!this.above(d[c], dist)) break;
      d[i] = d[c];
      ids[i] = ids[c];
      i = c;
    }
    d[i] = dist;
    ids[i] = slot;
  }
}

export class HnswIndex implements VectorIndex {
  readonly type = 'hnsw' as const;
  /** Candidate list size at query time (at least k); may be changed between queries. */
  efSearch: number;
  readonly maxM: number;
  readonly maxM0: number;
  private readonly linkWords: number;
  private readonly stride: number;
  private readonly base: number;
  /** Word offset of the 4 batch results. */
  private readonly out: number;
  private readonly batch: Int32Array;
  private readonly wasm: WasmF32 | null;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  private readonly upperOff: Int32Array;
  private maxLevel: number;
  /** Largest vector norm (float64 of float32 rows), for navTolerance. */
  private maxNorm = 0;
  private entry: number;
  private tags: Uint16Array;
  private epoch = 0;
  private readonly cand = new Heap(256, false);
  private readonly res = new Heap(256, true);
  private readonly sel: Int32Array;
  private ip = true;

  private constructor(
    readonly slots: number,
    readonly dim: number,
    readonly m: number,
    readonly efConstruction: number,
    efSearch: number,
    entry: number,
    private readonly levels: Int32Array,
    private readonly upper: Int32Array,
  ) {
    this.efSearch = efSearch;
    this.maxM = m;
    this.maxM0 = 2 * m;
    this.linkWords = up4(1 + this.maxM0);
    this.stride = this.linkWords + up4(dim);
    this.out = up4(dim);
    this.base = this.out + 4;
    const words = this.base + slots * this.stride;
    this.wasm = residentBlock(words);
    const buf = this.wasm ? this.wasm.f32 : new Float32Array(words);
    this.f32 = buf;
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, words);
    this.upperOff = new Int32Array(slots);
    let off = 0;
    let maxLevel = -1;
    for (let e = 0; e < slots; e++) {
      this.upperOff[e] = off;
      off += levels[e] * (1 + m);
      if (levels[e] > maxLevel) maxLevel = levels[e];
    }
    this.maxLevel = maxLevel;
    this.entry = entry;
    this.tags = new Uint16Array(slots);
    this.sel = new Int32Array(this.maxM0 + 1);
    this.batch = new Int32Array(this.maxM0 + 4);
  }

  params(): Record<string, number> {
    return { m: this.m, ef_construction: this.efConstruction, ef_search: this.efSearch };
  }

  serialize(): SerializedIndex {
    return {
      params: {
        m: this.m,
        ef_construction: this.efConstruction,
        ef_search: this.efSearch,
        slots: this.slots,
        entry: this.entry,
        dim: this.dim,
      },
      arrays: {
        level0: this.i32.subarray(this.base, this.base + this.slots * this.stride),
        levels: this.levels,
        upper: this.upper,
      },
    };
  }

  private measureMaxNorm(): number {
    let max = 0;
    for (let e = 0; e < this.slots; e++) {
      const v = this.vec(e);
      const nn = dot(this.f32, v, this.f32, v, this.dim);
      if (nn > max) max = nn;
    }
    // Slightly above: the float64 norm of float32 data may round down.
    return Math.sqrt(max) * (1 + 1e-12);
  }

  /** Word offset of slot e's vector. */
  private vec(e: number): number {
    return this.base + e * this.stride + this.linkWords;
  }

  /** Word offset of slot e's [count | ids] list at `level`. */
  private links(e: number, level: number): number {
    return level === 0 ? this.base + e * this.stride : this.upperOff[e] + (level - 1) * (1 + this.maxM);
  }

  /** Navigation distance between word offsets a and b: -dot, or squared L2. */
  private dist(a: number, b: number): number {
    const w = this.wasm;
    if (w !== null) return this.ip ? -w.dot(a, b, this.dim) : w.l2sq(a, b, this.dim);
    return this.ip ? -dot(this.f32, a, this.f32, b, this.dim) : l2sq(this.f32, a, this.f32, b, this.dim);
  }

  private nextEpoch(): number {
    if (++this.epoch === 0x10000) {
      this.tags.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** Greedy walk from `ep` down to level `stop` + 1; returns the nearest slot found. */
  private descend(q: number, ep: number, stop: number): number {
    let cur = ep;
    let curD = this.dist(q, this.vec(cur));
    for (let level = this.maxLevel; level > stop; level--) {
      const arr = level === 0 ? this.i32 : this.upper;
      let changed = true;
      while (changed) {
        changed = false;
        const at = this.links(cur, level);
        const count = arr[at];
        for (let j = 1; j <= count; j++) {
          const nb = arr[at + j];
          const d = this.dist(q, this.vec(nb));
          if (d < curD) {
            curD = d;
            cur = nb;
            changed = true;
          }
        }
      }
    }
    return cur;
  }

  /**
   * Beam search at one level from `ep`; leaves up to ef nearest live slots in
   * this.res (a max-heap). `dead` (slotToRow, or null) marks slots to walk
   * through but not return.
   */
  private searchLayer(q: number, ep: number, level: number, ef: number, dead: Int32Array | null): void {
    const epoch = this.nextEpoch();
    const tags = this.tags;
    const cand = this.cand;
    const res = this.res;
    const arr = level === 0 ? this.i32 : this.upper;
    const batch = this.batch;
    const f32 = this.f32;
    const out = this.out;
    const ip = this.ip;
    cand.size = 0;
    res.size = 0;
    const d0 = this.dist(q, this.vec(ep));
    tags[ep] = epoch;
    cand.push(d0, ep);
    let bound = Infinity;
    if (dead === null || dead[ep] >= 0) {
      res.push(d0, ep);
      bound = d0;
    }
    while (cand.size > 0) {
      const cd = cand.d[0];
      const c = cand.id[0];
      if (cd > bound && res.size >= ef) break;
      cand.pop();
      const at = this.links(c, level);
      const count = arr[at];
      let nb4 = 0;
      for (let j = 1; j <= count; j++) {
        const nb = arr[at + j];
        if (tags[nb] === epoch) continue;
        tags[nb] = epoch;
        batch[nb4++] = nb;
      }
      for (let i = 0; i < nb4; i += 4) {
        this.dist4(q, batch, i, nb4);
        const lim = nb4 - i < 4 ? nb4 - i : 4;
        for (let t = 0; t < lim; t++) {
          const nb = batch[i + t];
          const d = ip ? -f32[out + t] : f32[out + t];
          if (res.size < ef || d < bound) {
            cand.push(d, nb);
            if (dead === null || dead[nb] >= 0) {
              res.push(d, nb);
              if (res.size > ef) res.pop();
              bound = res.d[0];
            }
          }
        }
      }
    }
  }

  /**
   * Raw distances (dot, or squared L2) from word offset q to the slots
   * batch[i..i+3] (fewer at the end), into f32[out..out+3].
   */
  private dist4(q: number, batch: Int32Array, i: number, n: number): void {
    const w = this.wasm;
    const dim = this.dim;
    const v0 = this.vec(batch[i]);
    const v1 = i + 1 < n ? this.vec(batch[i + 1]) : q;
    const v2 = i + 2 < n ? this.vec(batch[i + 2]) : q;
    const v3 = i + 3 < n ? this.vec(batch[i + 3]) : q;
    if (w !== null) {
      if (this.ip) w.dot4(q << 2, v0 << 2, v1 << 2, v2 << 2, v3 << 2, up4(dim), this.out << 2);
      else w.l2sq4(q << 2, v0 << 2, v1 << 2, v2 << 2, v3 << 2, up4(dim), this.out << 2);
      return;
    }
    const f = this.f32;
    const k = this.ip ? dot : l2sq;
    f[this.out] = k(f, q, f, v0, dim);
    f[this.out + 1] = k(f, q, f, v1, dim);
    f[this.out + 2] = k(f, q, f, v2, dim);
    f[this.out + 3] = k(f, q, f, v3, dim);
  }

  search(query: Float32Array, space: SearchSpace, top: TopK): void {
    if (this.slots === 0 || top.k === 0) return;
    const { metric, dim } = space;
    this.ip = metric !== 'l2';
    const ef = Math.max(this.efSearch, top.k);
    const s2r = space.slotToRow;
    this.f32.set(query, 0);
    if (ef >= this.slots) {
      // The beam would hold every slot: a scan is exact and no slower.
      for (let slot = 0; slot < this.slots; slot++) {
        const row = s2r === null ? slot : s2r[slot];
        if (row >= 0) top.push(this.exact(metric, query, slot), row);
      }
      return;
    }
    const ep = this.descend(0, this.entry, 0);
    this.searchLayer(0, ep, 0, ef, s2r);
    // Ascending by navigation distance; only those that may be within float32
    // rounding of the k-th are re-scored exactly (see navTolerance).
    const res = this.res;
    const n = res.size;
    const order = this.scratchOrder(n);
    const dists = this.scratchDists(n);
    for (let i = n - 1; i >= 0; i--) {
      order[i] = res.id[0];
      dists[i] = res.d[0];
      res.pop();
    }
    if (n === 0) return;
    const kth = dists[Math.min(top.k, n) - 1];
    const limit = kth + this.navTolerance(query, kth);
    for (let i = 0; i < n && dists[i] <= limit; i++) {
      const slot = order[i];
      top.push(this.exact(metric, query, slot), s2r === null ? slot : s2r[slot]);
    }
  }

  /**
   * distance(metric, query, rows, ·) of slot's vector, bit for bit: the f64x2
   * kernels on the query copy in the scratch, or the JS kernels.
   */
  private exact(metric: Metric, query: Float32Array, slot: number): number {
    const w = this.wasm;
    const v = this.vec(slot);
    if (w === null) return distance(metric, query, this.f32, v, this.dim);
    if (metric === 'l2') return Math.sqrt(w.l2sqExact(0, v, this.dim));
    const d = w.dotExact(0, v, this.dim);
    return metric === 'cosine' ? 1 - d : -d;
  }

  /**
   * Bound on |navigation distance - exact distance|. A float32 sum of dim
   * products errs by at most about dim·2^-24·Σ|q_i x_i| ≤ dim·2^-24·|q|·|x|
   * (Cauchy-Schwarz; |x| ≤ maxNorm); squared L2 errs relative to itself.
   * Doubled, plus a floor for sums near zero.
   */
  private navTolerance(query: Float32Array, kth: number): number {
    const u = 2 * (this.dim + 2) * 2 ** -24;
    if (!this.ip) return u * Math.abs(kth) + 1e-30;
    let qq = 0;
    for (let i = 0; i < query.length; i++) qq += query[i] * query[i];
    return u * Math.sqrt(qq) * this.maxNorm + 1e-30;
  }

  /**
   * hnswlib's getNeighborsByHeuristic2: from the candidates in this.res
   * (distances to the element being linked), keeps those nearer to the
   * element than to every one already kept, up to `max`. Leaves them in
   * this.sel[1..count], nearest first, with the count in sel[0].
   */
  private selectNeighbors(max: number): void {
    const res = this.res;
    const sel = this.sel;
    const n = res.size;
    // Pop the max-heap into ascending order in the heap's own arrays' tail.
    const order = this.scratchOrder(n);
    const dists = this.scratchDists(n);
    for (let i = n - 1; i >= 0; i--) {
      order[i] = res.id[0];
      dists[i] = res.d[0];
      res.pop();
    }
    let count = 0;
    for (let i = 0; i < n && count < max; i++) {
      const e = order[i];
      const de = dists[i];
      const ve = this.vec(e);
      let good = true;
      for (let j = 1; j <= count; j++) {
        if (this.dist(ve, this.vec(sel[j])) < de) {
          good = false;
          break;
        }
      }
      if (good) sel[++count] = e;
    }
    sel[0] = count;
  }

  private orderBuf = new Int32Array(0);
  private distBuf = new Float64Array(0);

  private scratchOrder(n: number): Int32Array {
    if (this.orderBuf.length < n) this.orderBuf = new Int32Array(Math.max(n, 2 * this.orderBuf.length));
    return this.orderBuf;
  }

  private scratchDists(n: number): Float64Array {
    if (this.distBuf.length < n) this.distBuf = new Float64Array(Math.max(n, 2 * this.distBuf.length));
    return this.distBuf;
  }

  /** Links slot e (vector already in place, level levels[e]) into the graph. */
  private insert(e: number): void {
    const level = this.levels[e];
    const q = this.vec(e);
    if (this.entry < 0) {
      this.entry = e;
      this.maxLevel = level;
      return;
    }
    const top = this.maxLevel;
    let ep = this.descend(q, this.entry, level);
    for (let l = Math.min(level, top); l >= 0; l--) {
      this.searchLayer(q, ep, l, this.efConstruction, null);
      ep = this.connect(e, l);
    }
    if (level > top) {
      this.entry = e;
      this.maxLevel = level;
    }
  }

  /** Picks e's neighbours at `level` from this.res and links both ways; returns the nearest. */
  private connect(e: number, level: number): number {
    const arr = level === 0 ? this.i32 : this.upper;
    const cap = level === 0 ? this.maxM0 : this.maxM;
    this.selectNeighbors(this.maxM);
    const sel = this.sel;
    const count = sel[0];
    const nearest = sel[1];
    const at = this.links(e, level);
    arr[at] = count;
    for (let j = 1; j <= count; j++) arr[at + j] = sel[j];
    // sel is reused by the pruning below, so keep e's list (just written) as the source.
    const ve = this.vec(e);
    for (let j = 1; j <= count; j++) {
      const nb = arr[at + j];
      const nat = this.links(nb, level);
      const ncount = arr[nat];
      if (ncount < cap) {
        arr[nat + 1 + ncount] = e;
        arr[nat] = ncount + 1;
        continue;
      }
      // Full: re-select among the old neighbours plus e, with the same heuristic.
      const vn = this.vec(nb);
      const res = this.res;
      res.size = 0;
      res.push(this.dist(vn, ve), e);
      for (let i = 1; i <= ncount; i++) {
        const o = arr[nat + i];
        res.push(this.dist(vn, this.vec(o)), o);
      }
      this.selectNeighbors(cap);
      const kept = sel[0];
      arr[nat] = kept;
      for (let i = 1; i <= kept; i++) arr[nat + i] = sel[i];
    }
    return nearest;
  }

  /**
   * Builds over rows 0..space.rows-1 (slot i = row i), inserting in slot order.
   * @throws Error when a param is out of range
   */
  static build(space: SearchSpace, params: Record<string, number>, ctx: BuildContext): HnswIndex {
    const n = space.rows;
    const dim = space.dim;
    const m = params.m ?? DEFAULT_M;
    const efc = params.ef_construction ?? DEFAULT_EF_CONSTRUCTION;
    const efs = params.ef_search ?? DEFAULT_EF_SEARCH;
    checkParams(m, efc, efs);
    const levels = new Int32Array(n);
    const mult = 1 / Math.log(m);
    let upperWords = 0;
    for (let e = 0; e < n; e++) {
      // 1 - next() is in (0, 1], so the log is finite.
      levels[e] = Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - ctx.random.next()) * mult));
      upperWords += levels[e] * (1 + m);
    }
    const index = new HnswIndex(n, dim, m, efc, efs, -1, levels, new Int32Array(upperWords));
    index.ip = space.metric !== 'l2';
    index.maxLevel = -1;
    for (let e = 0; e < n; e++) index.f32.set(space.data.subarray(e * dim, (e + 1) * dim), index.vec(e));
    index.maxNorm = index.measureMaxNorm();
    for (let e = 0; e < n; e++) {
      index.insert(e);
      if ((e & 1023) === 1023 || e === n - 1) ctx.onProgress?.(e + 1, n);
    }
    return index;
  }

  /**
   * Reopens a serialized index (copies the block into a fresh memory).
   * @throws Error when params or arrays are inconsistent
   */
  static from(s: SerializedIndex, dim: number): HnswIndex {
    const { m, ef_construction: efc, ef_search: efs, slots, entry } = s.params;
    for (const [k, v] of Object.entries({ m, ef_construction: efc, ef_search: efs, slots, entry })) {
      if (!Number.isInteger(v)) throw new Error(`hnsw param ${k} is invalid`);
    }
    checkParams(m, efc, efs);
    if (s.params.dim !== dim) throw new Error(`hnsw index has dim ${s.params.dim}, expected ${dim}`);
    if (slots < 0) throw new Error('hnsw slots is negative');
    const { level0, levels, upper } = s.arrays;
    if (!(levels instanceof Int32Array) || levels.length !== slots) throw new Error('hnsw levels have the wrong length');
    let upperWords = 0;
    let maxLevel = -1;
    for (let e = 0; e < slots; e++) {
      if (levels[e] < 0 || levels[e] > MAX_LEVEL) throw new Error('hnsw level out of range');
      upperWords += levels[e] * (1 + m);
      if (levels[e] > maxLevel) maxLevel = levels[e];
    }
    if (!(upper instanceof Int32Array) || upper.length !== upperWords) throw new Error('hnsw upper links have the wrong length');
    if (slots === 0 ? entry !== -1 : entry < 0 || entry >= slots || levels[entry] !== maxLevel) {
      throw new Error('hnsw entry point is invalid');
    }
    const index = new HnswIndex(slots, dim, m, efc, efs, entry, levels, upper);
    if (!(level0 instanceof Int32Array) || level0.length !== slots * index.stride) throw new Error('hnsw level0 has the wrong length');
    index.i32.set(level0, index.base);
    index.maxNorm = index.measureMaxNorm();
    for (let e = 0; e < slots; e++) {
      for (let l = 0; l <= levels[e]; l++) {
        const arr = l === 0 ? index.i32 : upper;
        const at = index.links(e, l);
        const count = arr[at];
        if (count < 0 || count > (l === 0 ? index.maxM0 : m)) throw new Error('hnsw link count out of range');
        for (let j = 1; j <= count; j++) {
          const nb = arr[at + j];
          if (nb < 0 || nb >= slots || levels[nb] < l) throw new Error('hnsw link points to a missing node');
        }
      }
    }
    return index;
  }
}

/** A WebAssembly memory for the block, or null (no SIMD, > 4 GiB, or out of address space). */
function residentBlock(words: number): WasmF32 | null {
  if (!simdAvailable() || words * 4 > 2 ** 32) return null;
  try {
    return new WasmF32(words);
  } catch {
    return null;
  }
}

function checkParams(m: number, efc: number, efs: number): void {
  if (!Number.isInteger(m) || m < 2 || m > 256) throw new Error('hnsw m must be an integer in 2..256');
  if (!Number.isInteger(efc) || efc < 1 || efc > 10000) throw new Error('hnsw ef_construction must be an integer in 1..10000');
  if (!Number.isInteger(efs) || efs < 1 || efs > 10000) throw new Error('hnsw ef_search must be an integer in 1..10000');
}

/** Metric of the navigation distance; exported for tests. */
export function navigatesByDot(metric: Metric): boolean {
  return metric !== 'l2';
}

export const hnswKind: IndexKind = {
  type: 'hnsw',
  exact: false,
  description: 'approximate: HNSW graph (hnswlib layout), WebAssembly SIMD distances, candidates re-scored exactly',
  options: [
    { name: 'm', description: 'links per node on upper levels (2m on level 0)', min: 2, max: 256, default: DEFAULT_M },
    { name: 'ef_construction', description: 'candidate list size while building', min: 1, max: 10000, default: DEFAULT_EF_CONSTRUCTION },
    { name: 'ef_search', description: 'candidate list size per query (at least k)', min: 1, max: 10000, default: DEFAULT_EF_SEARCH },
  ],
  build: (space, params, ctx) => HnswIndex.build(space, params, ctx),
  from: (s, dim) => HnswIndex.from(s, dim),
};
