/**
 * HNSW (Malkov & Yashunin), laid out like hnswlib's `hnswalg.h`.
 *
 * Memory (one WebAssembly memory, so the SIMD kernels of simd.ts read both the
 * query and the vectors; 4-byte words, viewed as Int32Array, Float32Array and
 * Int8Array):
 *
 *   word 0 .. Q-1          query scratch (pad stays 0)
 *   word Q .. Q+3          4 results of the batch kernel
 *   word Q + 4 + e·S ..    element e (slot e), S = L + Q:
 *     [count | M0 neighbour slots | pad to L]  L = 1 + M0 rounded up to 4
 *     [the vector, zero-padded to Q words]
 *   then                   squared norms (f32, one per slot), the workers'
 *                          query scratch, a walk region per thread (walk.ts)
 *   built (and stored): int8 vectors, Q = dim rounded up to 16, / 4
 *   while building:     float32 vectors, Q = dim rounded up to 4
 *
 * Level 0 sits beside each vector (locality, as in hnswlib's
 * `data_level0_memory_`); its beam search runs in WebAssembly over this
 * block (walk.ts), with searchLayer's JS walk as the fallback. Upper levels live apart in `upper` (Int32Array):
 * element e with level l > 0 owns l lists of [count | M neighbour slots] at
 * `upperOff[e]`, levels 1..l in order. `levels` (Int32Array, one per slot) is
 * stored; `upperOff` is its prefix sum.
 *
 * Build: float32 SIMD distances (-dot for cosine/dot, squared L2 for l2),
 * hnswlib's insert and neighbour heuristic, in batches: a batch's elements
 * search the graph as it stood before the batch (on every core, see
 * build-threads.ts), then are linked with the batch's earlier elements as
 * extra candidates, on every core too but as linking them one after another
 * would (selectElement, linkGroup), so the index does not depend on the
 * thread count. Then the vectors are quantized:
 * x[i] ≈ scales[i] · int8, scales[i] = max |x[i]| / 127 over the slots. A
 * query is q[i]·scales[i] ≈ qStep · int8, so q·x ≈ qStep · Σ int8·int8
 * (i32x4.dot_i16x8_s, four neighbours per call so their cache misses
 * overlap); l2 navigates by |x|² - 2 q·x with |x|² kept per slot (`sqnorms`).
 * The ef survivors are re-scored, nearest estimate first, from the library's
 * rows (space.data) with `rowScorer`, which is bit for bit `distance()` of
 * kernels.ts (the oracle's), and offered to TopK as (distance, row); this
 * stops once an estimate is 6 standard deviations of its rounding error
 * behind the k-th exact distance.
 *
 * Dead slots (chunk deleted or re-embedded since the build, slotToRow = -1)
 * keep their int8 vector and links here, so queries walk through them, but
 * they never enter the result set (hnswlib's deleted-element rule), so a query
 * still gets ef live candidates. The index holds ~dim + 4·(2M+1) bytes per
 * slot (a quarter of the float rows at M=16, dim=384), not a second copy.
 * `update` (an index build over an existing index) drops the dead slots,
 * mends the lists around them and inserts the rows added since into the
 * quantized graph, leaving slot i = row i again.
 *
 * When ef ≥ slots the search is a scan of the live rows, hence exact.
 *
 * Serialized: params {m, ef_construction, ef_search, slots, entry, dim} and
 * arrays {level0: i32 block of slots·S words (int8 vectors as bytes),
 * levels: i32, upper: i32, scales: f32, sqnorms: f32}. Levels come from
 * ctx.random, so a build is deterministic and byte-identical for a fixed seed.
 */
import { availableParallelism } from 'node:os';
import { envNumber } from '../domain/env.js';
import { BuildThreads, LinkBuffer, PHASE, PlanBuffer } from './build-threads.js';
import { threadCount } from './thread.js';
import { dot, l2sq, rowPairDistance, spaceScorer } from './kernels.js';
import { upperLayout } from './passes.js';
import { SignCodes, keepSmallest } from './signcodes.js';
import { WasmF32, sharedSimdAvailable, simdAvailable } from './simd.js';
import { DESC, DESC_WORDS, bindWalks, wasmWalkAvailable } from './walk.js';
import type { Walks } from './walk.js';
import type { WasmMemory } from './simd.js';
import type { TopK } from './topk.js';
import { allows, forEachSet } from './types.js';
import { percent, thousands } from '../domain/format.js';
import type { ArraySource, BuildContext, IndexKind, IndexUpdate, RowFilter, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

const DEFAULT_M = 16;
const DEFAULT_EF_CONSTRUCTION = 200;
const DEFAULT_EF_SEARCH = 64;
/**
 * Re-scoring stops when an estimate is this many standard deviations of its
 * rounding error behind the k-th exact distance (a miss below 1e-9 per
 * candidate if the errors were Gaussian; a miss costs recall, never a wrong distance).
 */
const RESCORE_SIGMAS = 6;
/** How a filtered search chooses its walk (see search); tests lower the scan limits to exercise the walks. */
export const FILTERED = {
  /**
   * A filter matching up to this many entries per unit of ef is answered by a
   * scan of their int8 vectors (~120 ns an entry at 384 dims, against ~250 µs
   * for an unfiltered walk at ef 64): it costs no more than a filtered walk,
   * which at a few percent of matches also loses recall.
   */
  scanPerEf: 64,
  /**
   * The graph near the query (two hops around the level-0 entry) matching
   * less than this share of the overall share means the filter is correlated
   * with the vectors and the query lies away from its matches, where a walk
   * misses them or wanders (on synth100k, a region of 10 % queried from the
   * others: recall 0.976 at 0.3× the unfiltered q/s, against 1.000 and about
   * twice the q/s for the scan); up to correlatedScanPerEf entries per unit
   * of ef are scanned then. The shortfall must also be beyond chance (see
   * awayFromMatches): on wordnet-lsa384 at 20 % of matches, 7 % of the
   * queries otherwise took a uniform filter for a correlated one and scanned
   * 5,908 entries instead of walking.
   */
  correlated: 0.75,
  correlatedScanPerEf: 256,
  /** Estimates a scan keeps for re-scoring, at least (more with a larger ef). */
  scanKeep: 256,
  /**
   * Below this share of matching slots the walk expands two hops through
   * non-matching neighbours (ACORN-1); above it, it walks through them,
   * scoring them as navigation only (searchFiltered).
   */
  twoHopBelow: 0.6,
  /**
   * From this share of matching slots on, a two-hop expansion takes up to M
   * matching slots (not 2M): on wordnet-lsa384 at 20 % of matches, recall@10
   * 0.973 at 0.54× the unfiltered q/s, against 0.990 at 0.36× with 2M; on
   * synth100k at 20 % and 50 %, 1.000 at 0.75× and 0.82×.
   */
  narrowAbove: 0.15,
  /**
   * A scan of more than scanPerEf · ef matches (where an int8 scan stops) reads
   * their 1-bit sign codes instead of their int8 vectors (signcodes.ts: 48
   * bytes an entry at 384 dims, against 384) and scores by int8 only the
   * signShortPerEf · ef nearest estimates, with a 4-bit query. Below it the
   * int8 scan stays: cheap enough there, and on wordnet-lsa384 a region of
   * 3,177 rows or 2,931 matches at 10 % kept recall 1.000 by int8 against
   * 0.981 and 0.991 by sign codes. Over more than
   * signAbove · signWidePerEf · ef matches, a pass with a 1-bit query (a
   * quarter of the work) keeps signWidePerEf · ef of them for that one. On
   * synth100k, a region of 10,248 rows queried from the others (100 queries),
   * the 512 nearest 4-bit estimates hold 98.1 % of the true top 10 (1,024:
   * 99.2 %), the 3,072 nearest 1-bit ones 99.6 %; on wordnet-lsa384 at 20 % and
   * 50 % of matches, the 512 hold 99.9 % and 100 %.
   */
  signShortPerEf: 8,
  signWidePerEf: 48,
  signAbove: 2,
  /** With sign codes, a filter matching up to this many entries per unit of ef is scanned rather than walked. */
  signScanPerEf: 256,
};
/** Matching slots spread over the filter, scored as extra entry points: a filter correlated with the vectors may match nothing near the query. */
const FILTER_SEEDS = 16;
/** Levels above this are clamped; P(level > 24) = M^-24, never at any n we can hold. */
const MAX_LEVEL = 24;
/**
 * An update rebuilds instead when more of the slots than this are dead: the
 * local repair mends a graph around holes, not around a quarter of it.
 */
const MAX_DEAD_SHARE = 0.25;

/**
 * Elements per build batch (see build): one at a time at first (every
 * element then links to all before it, as a sequential build does), then
 * up to 1/16 of the graph so far and at most 256, so a batch's elements,
 * which do not see each other in their searches, are a sliver of the graph.
 * Depends only on the position, so a build is the same on any thread count.
 */
function batchSize(inserted: number): number {
  return Math.max(1, Math.min(256, inserted >> 4));
}
/** Fewer rows than this per thread and a build uses fewer threads. */
const MIN_ROWS_PER_BUILD_THREAD = 2048;
/** Groups of lists per build thread in a batch's link phase: a thread the scheduler holds up leaves its share to the others. */
const LINK_GROUPS_PER_THREAD = 4;

/**
 * Link units (one per element and level it links at) a batch of at most
 * `maxBatch` elements can need: the sum of levels + 1 over the `maxBatch` highest levels.
 */
function linkUnitsBound(levels: Int32Array, maxBatch: number): number {
  const count = new Int32Array(MAX_LEVEL + 1);
  for (let e = 0; e < levels.length; e++) count[levels[e]]++;
  let units = 0;
  for (let level = MAX_LEVEL, left = maxBatch; level >= 0 && left > 0; level--) {
    const take = Math.min(left, count[level]);
    units += take * (level + 1);
    left -= take;
  }
  return Math.max(units, 1);
}

/** Build threads: ctx.threads, else VDB_THREADS, else the machine's cores. */
function buildThreads(ctx: BuildContext): number {
  return threadCount(ctx.threads ?? envNumber(process.env, 'VDB_THREADS', availableParallelism(), 1));
}

const up4 = (n: number): number => (n + 3) & ~3;
const up16 = (n: number): number => (n + 15) & ~15;

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

  /** Moves the heap (emptied) onto these arrays: a walk region's, which the WebAssembly walk fills too (walk.ts). */
  bind(d: Float64Array, id: Int32Array): void {
    this.d = d;
    this.id = id;
    this.size = 0;
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

  /** Becomes the heap of `from`'s entries, ordered this heap's way (Floyd's bottom-up build, O(n)). */
  rebuildFrom(from: Heap): void {
    const n = from.size;
    if (this.d.length < n) {
      this.d = new Float64Array(n);
      this.id = new Int32Array(n);
    }
    this.d.set(from.d.subarray(0, n));
    this.id.set(from.id.subarray(0, n));
    this.size = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, this.d[i], this.id[i], n);
  }

  /** Removes the root; read it first from d[0], id[0]. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    this.siftDown(0, this.d[n], this.id[n], n);
  }

  /** Places (dist, slot) at i or below, among the first n entries. */
  private siftDown(i: number, dist: number, slot: number, n: number): void {
    const d = this.d;
    const ids = this.id;
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
  /** 'f32' while building, 'i8' once quantized (every built or loaded index). */
  private format: 'f32' | 'i8' = 'f32';
  private stride = 0;
  private base = 0;
  /** Word offset of this instance's query scratch: 0, or a worker view's region of a shared block (see share). */
  private qAt = 0;
  /** Word offset of the 4 batch results (just after the query scratch). */
  private out = 0;
  /** The block as worker threads see it, once share() moved it into a shared memory. */
  private sharing: SharedHnsw | null = null;
  /** Bytes of one int8 vector (dim rounded up to 16, zero-padded). */
  private readonly vecBytes: number;
  private wasm: WasmF32 | null = null;
  private f32: Float32Array = new Float32Array(0);
  private i32: Int32Array = new Int32Array(0);
  private i8: Int8Array = new Int8Array(0);
  /** Per-dimension quantization steps: x[i] ≈ scales[i] · int8[i]. */
  private scales: Float32Array;
  /** Per-slot squared norms of the float vectors (l2 navigation). */
  private sqnorms: Float32Array;
  /** Step of the quantized query: (q[i] · scales[i]) ≈ qStep · int8[i]. */
  private qStep = 1;
  /** Standard deviation of the query's dot-product estimates (see loadQuery). */
  private qSigma = 0;
  /** Largest Σ int8² over the slots' vectors. */
  private sqMax = 0;
  private readonly nd = new Float64Array(4);
  private readonly one = new Int32Array(1);
  private upperOff: Int32Array;
  /** Words of the upper-level lists the levels call for. */
  private upperWords = 0;
  private maxLevel: number;
  private entry: number;
  private tags: Uint16Array;
  private epoch = 0;
  /** Words of a walk region per thread (walk.ts), 0 without the WebAssembly walk. */
  private walkWords = 0;
  /** The WebAssembly walks over this thread's region, or null (the JS walk). */
  private walks: Walks | null = null;
  /** Byte offset of this thread's walk descriptor. */
  private walkDesc = 0;
  /** Word offset of this thread's dead-slot bitmap, and the slot map it was made from. */
  private deadAt = 0;
  private deadOf: Int32Array | null = null;
  /** While an update links slots of a quantized index: distance between two rows (slot = row). */
  private pair: ((a: number, b: number) => number) | null = null;
  private readonly cand = new Heap(256, false);
  private readonly res = new Heap(256, true);
  /** A search's results nearest first, popped only as far as re-scoring goes (see search). */
  private readonly nearest = new Heap(256, false);
  private readonly sel: Int32Array;
  private readonly batch: Int32Array;
  /** Sign codes of the int8 vectors, made on the first scan that uses them; null while absent or stale. */
  private codes: SignCodes | null = null;
  private codesTried = false;
  private ip = true;
  /**
   * Loaded from a snapshot in part: level 0 is read slot by slot as searches
   * touch it (a cold query reads a few thousand slots, not the block); null
   * once every slot is in memory.
   */
  private paging: { source: ArraySource; loaded: Uint8Array; reads: number } | null = null;

  private constructor(
    readonly slots: number,
    readonly dim: number,
    readonly m: number,
    readonly efConstruction: number,
    efSearch: number,
    entry: number,
    private levels: Int32Array,
    private upper: Int32Array,
    format: 'f32' | 'i8' | { shared: SharedHnsw; thread: number },
  ) {
    this.efSearch = efSearch;
    this.maxM = m;
    this.maxM0 = 2 * m;
    this.linkWords = up4(1 + this.maxM0);
    this.vecBytes = up16(dim);
    this.scales = new Float32Array(dim);
    this.sqnorms = new Float32Array(slots);
    this.tags = new Uint16Array(slots);
    if (typeof format === 'object') {
      // A worker's view: every array is the shared one; only the query scratch, tags and heaps are its own.
      const { shared, thread } = format;
      this.ip = shared.ip;
      this.walkWords = shared.walkWords;
      this.bindShared(new WasmF32(shared.words, { memory: shared.memory }), shared.words, thread, shared.threads, shared.format);
      this.upperOff = shared.upperOff;
      this.scales = shared.scales;
      this.sqMax = shared.sqMax;
      this.maxLevel = entry < 0 ? -1 : levels[entry];
    } else {
      // A quantized index (loaded, or updated) is what pools share: in a process that opens them, laid out for them now.
      this.allocate(format, format === 'i8' ? blockThreadsFromStart : 1);
      this.upperOff = new Int32Array(slots);
      // A loaded index's levels and upper lists are checked as they are laid out (a new one's lists are empty).
      const { words, top } = upperLayout(levels, upper, m, MAX_LEVEL, this.upperOff);
      this.upperWords = words;
      this.maxLevel = top;
    }
    this.entry = entry;
    this.sel = new Int32Array(this.maxM0 + 1);
    this.batch = new Int32Array(Math.max(this.maxM0, 32) + 4);
  }

  /**
   * A fresh zeroed block in `format` (see the layout at the top); with
   * `threads` > 1 in a shared memory with a scratch region per worker after
   * the slots (see share), when shared memory is available. Returns the
   * threads the block serves. The squared norms move with it.
   */
  private allocate(format: 'f32' | 'i8', threads = 1): number {
    this.setFormat(format);
    this.walkWords = wasmWalkAvailable() ? walkRegionWords(this.slots, this.maxM0) : 0;
    const sqnorms = this.sqnorms;
    if (threads > 1 && sharedSimdAvailable() && this.blockWords(threads) * 4 <= 2 ** 32) {
      const words = this.blockWords(threads);
      try {
        this.bindShared(new WasmF32(words, { shared: true }), words, 0, threads, format);
        this.sqnorms.set(sqnorms);
        return (this.blockThreads = threads);
      } catch {
        // No address space for a shared memory: one thread.
      }
    }
    const words = this.blockWords(1);
    this.wasm = residentBlock(words);
    this.dropCodes();
    const buf = this.wasm ? this.wasm.f32 : new Float32Array(words);
    this.bindViews(buf, 0, 1);
    this.sqnorms.set(sqnorms);
    return (this.blockThreads = 1);
  }

  /** Threads the block is laid out for (allocate): above 1, it is in a shared memory. */
  private blockThreads = 1;

  /** Format, stride and the front scratch (query, then the 4 batch results) of `format`. */
  private setFormat(format: 'f32' | 'i8'): void {
    const vecWords = format === 'f32' ? up4(this.dim) : this.vecBytes / 4;
    this.format = format;
    this.stride = this.linkWords + vecWords;
    this.base = vecWords + 4;
  }

  /** Word offset of the squared norms, just after the slots. */
  private sqAt(): number {
    return this.base + this.slots * this.stride;
  }

  /**
   * Words of a block serving `threads`:
   *
   *   [scratch 0 | slots … | sqnorms | scratch 1 | … | scratch threads-1 | walk 0 | … | walk threads-1]
   *
   * a scratch being Q + 4 words (= base), a walk region walkWords (walk.ts; none without the WebAssembly walk).
   */
  private blockWords(threads: number): number {
    return this.sqAt() + this.slots + (threads - 1) * this.base + threads * this.walkWords;
  }

  /**
   * Binds the typed-array views to `buf` (the whole block), this thread's
   * query scratch and walk region (`thread` of `threads`): the tags and
   * heaps then live in the walk region, where the WebAssembly walk reads them.
   */
  private bindViews(buf: Float32Array, thread: number, threads: number): void {
    const words = buf.length;
    const vecWords = this.base - 4;
    this.f32 = buf;
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, words);
    this.i8 = new Int8Array(buf.buffer, buf.byteOffset, words * 4);
    const sqAt = this.sqAt();
    this.sqnorms = new Float32Array(buf.buffer, buf.byteOffset + sqAt * 4, this.slots);
    this.qAt = thread === 0 ? 0 : sqAt + this.slots + (thread - 1) * this.base;
    this.out = this.qAt + vecWords;
    this.walks = null;
    this.deadOf = null;
    if (this.walkWords === 0 || this.wasm === null) return;
    const walks = bindWalks(this.wasm);
    if (walks === null) return;
    const at = sqAt + this.slots + (threads - 1) * this.base + thread * this.walkWords;
    const r = walkRegion(at, this.slots, this.maxM0);
    const b = buf.buffer;
    this.tags = new Uint16Array(b, r.tags * 4, this.slots);
    this.cand.bind(new Float64Array(b, r.candD * 4, this.slots + 1), new Int32Array(b, r.candId * 4, this.slots + 1));
    this.res.bind(new Float64Array(b, r.resD * 4, this.slots + 1), new Int32Array(b, r.resId * 4, this.slots + 1));
    // The region may hold an earlier view's tags (a pool opened again over this block, whose workers may still be
    // finishing when this one binds): the first search clears them (nextEpoch wraps), stale ones would read as visited.
    this.epoch = 0xffff;
    const desc = this.i32.subarray(r.desc, r.desc + DESC_WORDS);
    desc[DESC.base] = this.base * 4;
    desc[DESC.stride] = this.stride * 4;
    desc[DESC.vecOff] = this.linkWords * 4;
    desc[DESC.vlen] = this.format === 'i8' ? this.vecBytes : up4(this.dim);
    desc[DESC.tags] = r.tags * 4;
    desc[DESC.candD] = r.candD * 4;
    desc[DESC.candId] = r.candId * 4;
    desc[DESC.resD] = r.resD * 4;
    desc[DESC.resId] = r.resId * 4;
    desc[DESC.sq] = sqAt * 4;
    desc[DESC.batch] = r.batch * 4;
    desc[DESC.out] = this.out * 4;
    this.walkDesc = r.desc * 4;
    this.deadAt = r.dead;
    this.walks = walks;
  }

  params(): Record<string, number> {
    return { m: this.m, ef_construction: this.efConstruction, ef_search: this.efSearch };
  }

  /**
   * Moves the quantized block into a shared WebAssembly memory (one copy,
   * level 0 read in whole first), with a query scratch region for each of
   * `threads` - 1 worker threads after the slots:
   *
   *   [scratch 0 | slots … | scratch 1 | … | scratch threads-1], each scratch Q + 4 words (= base)
   *
   * and the other arrays into SharedArrayBuffers; this index goes on
   * searching from scratch 0. Nothing is written to any of it afterwards, so
   * worker views (`HnswIndex.view`) read it without locks. Returns what to
   * post to them, or null when shared memory is unavailable (the caller stays on one thread).
   */
  share(threads: number): SharedHnsw | null {
    if (this.format !== 'i8' || this.wasm === null || !sharedSimdAvailable()) return null;
    if (this.sharing !== null && this.sharing.threads >= threads) return this.sharing;
    this.loadAll();
    if (this.blockThreads >= threads && this.wasm.memory.buffer instanceof SharedArrayBuffer) {
      // Allocated shared for this many threads (shareHnswFromStart): nothing to copy.
      this.sharing = this.describeShared(this.wasm, this.blockWords(this.blockThreads), this.blockThreads);
      return this.sharing;
    }
    const used = this.sqAt() + this.slots;
    const words = this.blockWords(threads);
    if (words * 4 > 2 ** 32) return null;
    let wasm: WasmF32;
    try {
      wasm = new WasmF32(words, { shared: true });
    } catch {
      return null;
    }
    wasm.f32.set(this.f32.subarray(0, used));
    this.bindShared(wasm, words, 0, threads, 'i8');
    this.sharing = this.describeShared(wasm, words, threads);
    return this.sharing;
  }

  /** Moves the other arrays into SharedArrayBuffers and describes the shared block `wasm` for worker views. */
  private describeShared(wasm: WasmF32, words: number, threads: number): SharedHnsw {
    this.levels = inSharedMemory(this.levels);
    this.upper = inSharedMemory(this.upper);
    this.upperOff = inSharedMemory(this.upperOff);
    this.scales = inSharedMemory(this.scales);
    return {
      memory: wasm.memory,
      words,
      threads,
      format: this.format,
      ip: this.ip,
      slots: this.slots,
      dim: this.dim,
      m: this.m,
      efConstruction: this.efConstruction,
      efSearch: this.efSearch,
      entry: this.entry,
      sqMax: this.sqMax,
      levels: this.levels,
      upper: this.upper,
      upperOff: this.upperOff,
      scales: this.scales,
      walkWords: this.walkWords,
    };
  }

  /**
   * A worker thread's index over a shared block (see share): the same
   * answers, bit for bit, from its own query scratch `thread` (1 ≤ thread < shared.threads).
   */
  static view(shared: SharedHnsw, thread: number): HnswIndex {
    if (!(thread >= 1 && thread < shared.threads)) throw new Error(`hnsw view: no scratch region for thread ${thread}`);
    const { slots, dim, m, efConstruction, efSearch, entry, levels, upper } = shared;
    return new HnswIndex(slots, dim, m, efConstruction, efSearch, entry, levels, upper, { shared, thread });
  }

  /** Views of the `format` layout over `wasm` (`words` long, serving `threads`), searching from scratch region `thread`. */
  private bindShared(wasm: WasmF32, words: number, thread: number, threads: number, format: 'f32' | 'i8'): void {
    this.setFormat(format);
    this.wasm = wasm;
    this.bindViews(wasm.f32.subarray(0, words), thread, threads);
  }

  serialize(): SerializedIndex {
    this.loadAll();
    return {
      params: {
        m: this.m,
        ef_construction: this.efConstruction,
        ef_search: this.efSearch,
        slots: this.slots,
        entry: this.entry,
        dim: this.dim,
        sq_max: this.sqMax,
      },
      arrays: {
        level0: this.i32.subarray(this.base, this.base + this.slots * this.stride),
        levels: this.levels,
        upper: this.upper,
        scales: this.scales,
        sqnorms: this.sqnorms,
      },
    };
  }

  /** Word offset of slot e's vector. */
  private vec(e: number): number {
    return this.base + e * this.stride + this.linkWords;
  }

  /** Word offset of slot e's [count | ids] list at `level`. */
  private links(e: number, level: number): number {
    return level === 0 ? this.base + e * this.stride : this.upperOff[e] + (level - 1) * (1 + this.maxM);
  }

  /** Float32 navigation distance between word offsets a and b (float32 block only): -dot, or squared L2. */
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

  /** Navigation distance from the query at word q to one slot. */
  private distTo(q: number, slot: number): number {
    this.one[0] = slot;
    this.dist4(q, this.one, 0, 1);
    return this.nd[0];
  }

  /** Greedy walk from `ep` down to level `stop` + 1; returns the nearest slot found. */
  private descend(q: number, ep: number, stop: number): number {
    let cur = ep;
    let curD = this.distTo(q, cur);
    const batch = this.batch;
    const nd = this.nd;
    for (let level = this.maxLevel; level > stop; level--) {
      const arr = level === 0 ? this.i32 : this.upper;
      let changed = true;
      while (changed) {
        changed = false;
        const at = this.links(cur, level);
        const count = arr[at];
        for (let j = 0; j < count; j++) batch[j] = arr[at + 1 + j];
        // The first strictly nearer neighbour wins ties, as a one-by-one scan would.
        for (let i = 0; i < count; i += 4) {
          this.dist4(q, batch, i, count);
          const lim = count - i < 4 ? count - i : 4;
          for (let t = 0; t < lim; t++) {
            if (nd[t] < curD) {
              curD = nd[t];
              cur = batch[i + t];
              changed = true;
            }
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
    const walks = this.walks;
    if (level === 0 && walks !== null && this.paging === null) {
      const walk = this.format === 'i8' ? (this.ip ? walks.i8ip : walks.i8l2) : this.ip ? walks.f32ip : walks.f32l2;
      this.res.size = walk(q << 2, ep, ef, epoch, this.qStep, this.walkDesc, dead === null ? -1 : this.deadBits(dead) << 2);
      return;
    }
    const tags = this.tags;
    const cand = this.cand;
    const res = this.res;
    const arr = level === 0 ? this.i32 : this.upper;
    const batch = this.batch;
    const nd = this.nd;
    cand.size = 0;
    res.size = 0;
    const d0 = this.distTo(q, ep);
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
          const d = nd[t];
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

  /** Word offset of this thread's bitmap of the slots `dead` marks (slotToRow -1), made once per slot map. */
  private deadBits(dead: Int32Array): number {
    if (this.deadOf !== dead) {
      const at = this.deadAt;
      const words = (this.slots + 31) >>> 5;
      const bits = this.i32;
      bits.fill(0, at, at + words);
      for (let s = 0; s < this.slots; s++) if (dead[s] < 0) bits[at + (s >>> 5)] |= 1 << (s & 31);
      this.deadOf = dead;
    }
    return this.deadAt;
  }

  /**
   * Navigation distances from the query at word q to the slots batch[i..i+3]
   * (fewer at the end) into this.nd: -dot or squared L2 (float32 block), or
   * their int8 estimates (quantized block; the l2 estimate drops |q|²).
   */
  private dist4(q: number, batch: Int32Array, i: number, n: number): void {
    const w = this.wasm;
    const nd = this.nd;
    const s0 = batch[i];
    const s1 = i + 1 < n ? batch[i + 1] : s0;
    const s2 = i + 2 < n ? batch[i + 2] : s0;
    const s3 = i + 3 < n ? batch[i + 3] : s0;
    if (this.paging !== null) {
      this.load(s0);
      this.load(s1);
      this.load(s2);
      this.load(s3);
    }
    const v0 = this.vec(s0);
    const v1 = this.vec(s1);
    const v2 = this.vec(s2);
    const v3 = this.vec(s3);
    const out = this.out;
    if (this.format === 'i8') {
      const i32 = this.i32;
      if (w !== null) w.idot4(q << 2, v0 << 2, v1 << 2, v2 << 2, v3 << 2, this.vecBytes, out << 2);
      else {
        i32[out] = idot(this.i8, q << 2, v0 << 2, this.vecBytes);
        i32[out + 1] = idot(this.i8, q << 2, v1 << 2, this.vecBytes);
        i32[out + 2] = idot(this.i8, q << 2, v2 << 2, this.vecBytes);
        i32[out + 3] = idot(this.i8, q << 2, v3 << 2, this.vecBytes);
      }
      const step = this.qStep;
      if (this.ip) {
        nd[0] = -step * i32[out];
        nd[1] = -step * i32[out + 1];
        nd[2] = -step * i32[out + 2];
        nd[3] = -step * i32[out + 3];
      } else {
        const sq = this.sqnorms;
        nd[0] = sq[s0] - 2 * step * i32[out];
        nd[1] = sq[s1] - 2 * step * i32[out + 1];
        nd[2] = sq[s2] - 2 * step * i32[out + 2];
        nd[3] = sq[s3] - 2 * step * i32[out + 3];
      }
      return;
    }
    const f = this.f32;
    if (w !== null) {
      if (this.ip) w.dot4(q << 2, v0 << 2, v1 << 2, v2 << 2, v3 << 2, up4(this.dim), out << 2);
      else w.l2sq4(q << 2, v0 << 2, v1 << 2, v2 << 2, v3 << 2, up4(this.dim), out << 2);
    } else {
      const k = this.ip ? dot : l2sq;
      f[out] = k(f, q, f, v0, this.dim);
      f[out + 1] = k(f, q, f, v1, this.dim);
      f[out + 2] = k(f, q, f, v2, this.dim);
      f[out + 3] = k(f, q, f, v3, this.dim);
    }
    const sign = this.ip ? -1 : 1;
    nd[0] = sign * f[out];
    nd[1] = sign * f[out + 1];
    nd[2] = sign * f[out + 2];
    nd[3] = sign * f[out + 3];
  }

  /** Quantizes the query into this instance's scratch (word qAt): q[i]·scales[i] ≈ qStep · int8. */
  private loadQuery(query: Float32Array): void {
    const scales = this.scales;
    const dim = this.dim;
    let max = 0;
    let var1 = 0;
    for (let i = 0; i < dim; i++) {
      const w = query[i] * scales[i];
      const a = Math.abs(w);
      if (a > max) max = a;
      var1 += w * w;
    }
    const step = max > 0 ? max / 127 : 1;
    this.qStep = step;
    const i8 = this.i8;
    const at = this.qAt << 2;
    for (let i = 0; i < dim; i++) i8[at + i] = Math.round((query[i] * scales[i]) / step);
    // Rounding errors as independent uniforms (variance step²/12 each): the
    // data's, weighted by q[i]·scales[i], and the query's, weighted by the
    // int8 vector (|x'|² ≤ sqMax).
    this.qSigma = Math.sqrt((var1 + step * step * this.sqMax) / 12);
  }

  search(query: Float32Array, space: SearchSpace, top: TopK, ef = this.efSearch, filter?: RowFilter): string | void {
    if (this.slots === 0 || top.k === 0) return;
    const { metric, dim } = space;
    const beam = Math.max(ef, top.k);
    const s2r = space.slotToRow;
    // Offered distances come from the library's rows: what the oracle computes.
    const score = spaceScorer(space, query);
    if (beam >= (filter ? filter.count : this.slots)) {
      // The beam would hold every candidate: a scan is exact and no slower.
      this.scanSlots(space, filter, (row) => top.push(score(row), row));
      return filter ? `exact scan of the ${thousands(filter.count)} matching entries (no more than ef ${beam})` : undefined;
    }
    this.ip = metric !== 'l2';
    this.loadQuery(query);
    const q = this.qAt;
    let note: string | undefined;
    if (filter) {
      const sb = this.slotBits(space, filter);
      const share = filter.count / this.slots;
      const codes = filter.count > FILTERED.scanPerEf * beam ? this.signCodes() : null;
      const few = filter.count <= (codes !== null ? FILTERED.signScanPerEf : FILTERED.scanPerEf) * beam;
      const ep = few ? -1 : this.descend(q, this.entry, 0);
      const local = few ? null : this.localMatches(ep, sb);
      const correlated = local !== null && awayFromMatches(local, share);
      if (few || (correlated && filter.count <= FILTERED.correlatedScanPerEf * beam)) {
        // A scan keeps more estimates than a walk's beam: a query far from every match (a correlated filter) has
        // estimates whose rounding error is large next to their gaps, and re-scoring stops once it is proven.
        const keep = Math.max(beam, FILTERED.scanKeep);
        const why = few ? `${thousands(filter.count)} matching entries` : `${thousands(filter.count)} matching entries, but only ${percent(local!.hit / local!.seen)} of the graph near the query matches (${percent(share)} overall): a walk from there would miss them`;
        const scan = codes !== null ? this.scanSigned(codes, query, q, beam, keep, sb) : (this.scanFiltered(q, keep, sb), 'scan of their int8 vectors');
        note = `${why}: ${scan}, the nearest of ${keep} re-scored exactly`;
      } else {
        const twoHop = share < FILTERED.twoHopBelow;
        this.searchFiltered(q, ep, beam, sb, space, filter, twoHop);
        note = `${twoHop ? 'filtered graph search, two hops through non-matching nodes (ACORN-1)' : 'filtered graph search through non-matching nodes'}, ef ${beam}, ${percent(share)} of the entries match`;
      }
    } else {
      this.searchLayer(q, this.descend(q, this.entry, 0), 0, beam, s2r);
    }
    // Never short: a walk that found fewer than k live candidates (a filter whose
    // matches the graph does not connect, or a graph mostly stale) scans instead.
    const need = Math.min(top.k, filter ? filter.count : this.slots);
    if (this.res.size < need && (filter || this.res.size < this.liveSlots(s2r))) {
      const found = this.res.size;
      this.res.size = 0;
      this.scanSlots(space, filter, (row) => top.push(score(row), row));
      return `${note ?? 'graph search'} found ${found} of ${need}: exact scan of the ${filter ? 'matching' : 'live'} entries instead`;
    }
    // Re-score nearest first; stop once even the estimate minus RESCORE_SIGMAS
    // standard deviations of its rounding error cannot beat the k-th exact.
    // Nearest first from a min-heap of the results, popped only as far as re-scoring goes: it mostly stops
    // long before ef (draining all of them was ~4 % of a glove100 search at ef 256).
    const near = this.nearest;
    near.rebuildFrom(this.res);
    this.res.size = 0;
    const margin = RESCORE_SIGMAS * this.qSigma;
    let qq = 0;
    if (metric === 'l2') for (let i = 0; i < dim; i++) qq += query[i] * query[i];
    while (near.size > 0) {
      const worst = top.worst();
      if (worst !== Infinity) {
        const est = near.d[0];
        const lower = metric === 'l2' ? Math.sqrt(Math.max(0, qq + est - 2 * margin)) : metric === 'cosine' ? 1 + est - margin : est - margin;
        if (lower > worst) break;
      }
      const slot = near.id[0];
      near.pop();
      const row = s2r === null ? slot : s2r[slot];
      top.push(score(row), row);
    }
    return note;
  }

  /** Calls `visit(row)` for every live slot the filter allows (every live slot without one). */
  private scanSlots(space: SearchSpace, filter: RowFilter | undefined, visit: (row: number) => void): void {
    const s2r = space.slotToRow;
    // Slot = row: the filter's set bits below the slot count.
    if (filter && s2r === null) return forEachSet(filter.bits, this.slots, visit);
    for (let slot = 0; slot < this.slots; slot++) {
      const row = s2r === null ? slot : s2r[slot];
      if (row >= 0 && (!filter || allows(filter, row))) visit(row);
    }
  }

  private liveCount: { of: Int32Array | null; n: number } | null = null;

  /** Slots whose chunk is still there (cached per slot map). */
  private liveSlots(s2r: Int32Array | null): number {
    if (s2r === null) return this.slots;
    if (this.liveCount?.of !== s2r) {
      let n = 0;
      for (let s = 0; s < this.slots; s++) if (s2r[s] >= 0) n++;
      this.liveCount = { of: s2r, n };
    }
    return this.liveCount.n;
  }

  /**
   * Beam search at level 0 among the slots `filter` allows, from `ep` and a
   * few matching slots spread over the filter (seeds); leaves up to ef
   * nearest matching live slots in this.res. Only matching slots enter the
   * result. With `twoHop` (few matches) a non-matching neighbour is not
   * scored: its own matching neighbours are taken instead, up to 2M per
   * expansion (ACORN-1, Patel et al. 2024), so the walk stays on the
   * matching subgraph and scores about as many slots as an unfiltered one.
   * Otherwise non-matching neighbours are scored and walked through, but
   * never returned (as dead slots are).
   */
  private searchFiltered(q: number, ep: number, ef: number, sb: Uint32Array, space: SearchSpace, filter: RowFilter, twoHop: boolean): void {
    const epoch = this.nextEpoch();
    const tags = this.tags;
    const cand = this.cand;
    const res = this.res;
    const i32 = this.i32;
    const batch = this.batch;
    const nd = this.nd;
    // Enough matching neighbours come from M per expansion once matches are common; rarer ones need the wider 2M.
    const cap = filter.count >= FILTERED.narrowAbove * this.slots ? this.maxM : this.maxM0;
    const hop = this.hops;
    cand.size = 0;
    res.size = 0;
    let bound = Infinity;
    const offer = (slot: number, d: number): void => {
      cand.push(d, slot);
      if (((sb[slot >>> 5] >>> (slot & 31)) & 1) === 1) {
        res.push(d, slot);
        if (res.size > ef) res.pop();
        bound = res.d[0];
      }
    };
    tags[ep] = epoch;
    offer(ep, this.distTo(q, ep));
    for (const seed of this.seeds(space, filter)) {
      if (tags[seed] === epoch) continue;
      tags[seed] = epoch;
      offer(seed, this.distTo(q, seed));
    }
    while (cand.size > 0) {
      const cd = cand.d[0];
      const c = cand.id[0];
      if (cd > bound && res.size >= ef) break;
      cand.pop();
      const at = this.links(c, 0);
      const count = i32[at];
      let nb4 = 0;
      let hops = 0;
      // Matching neighbours first; then, with two hops, the matching neighbours of the others.
      for (let j = 1; j <= count; j++) {
        const nb = i32[at + j];
        if (tags[nb] === epoch) continue;
        if (!twoHop || ((sb[nb >>> 5] >>> (nb & 31)) & 1) === 1) {
          if (nb4 < cap) {
            tags[nb] = epoch;
            batch[nb4++] = nb;
          }
        } else hop[hops++] = nb;
      }
      for (let h = 0; h < hops && nb4 < cap; h++) {
        const nb = hop[h];
        tags[nb] = epoch;
        if (this.paging !== null) this.load(nb);
        const at2 = this.links(nb, 0);
        const count2 = i32[at2];
        for (let j2 = 1; j2 <= count2 && nb4 < cap; j2++) {
          const nb2 = i32[at2 + j2];
          // The bitmap first: it is the smaller array, and most entries fail it.
          if (((sb[nb2 >>> 5] >>> (nb2 & 31)) & 1) === 0 || tags[nb2] === epoch) continue;
          tags[nb2] = epoch;
          batch[nb4++] = nb2;
        }
      }
      for (let i = 0; i < nb4; i += 4) {
        this.dist4(q, batch, i, nb4);
        const lim = nb4 - i < 4 ? nb4 - i : 4;
        for (let t = 0; t < lim; t++) {
          const d = nd[t];
          if (res.size < ef || d < bound) offer(batch[i + t], d);
        }
      }
    }
  }

  /**
   * Navigation estimates of every slot set in `sb` (int8 kernels, four at a
   * time); leaves the ef nearest in this.res. What the graph walk
   * approximates, over every match: with exact re-scoring it misses only what
   * the int8 rounding hides (see RESCORE_SIGMAS).
   */
  private scanFiltered(q: number, ef: number, sb: Uint32Array): void {
    const batch = this.batch;
    this.res.size = 0;
    let nb4 = 0;
    forEachSet(sb, this.slots, (slot) => {
      batch[nb4++] = slot;
      if (nb4 === 32) nb4 = this.scoreBatch(q, ef, nb4);
    });
    this.scoreBatch(q, ef, nb4);
  }

  /**
   * A scan of the slots set in `sb` by their sign codes (signcodes.ts): a
   * 1-bit query over all of them when they are many, keeping about
   * signWidePerEf · beam; a 4-bit query over those, keeping about
   * signShortPerEf · beam (at least that many, so never fewer than k), whose
   * int8 estimates leave the ef nearest in this.res. Returns what it did, for explain.
   */
  private scanSigned(codes: SignCodes, query: Float32Array, q: number, beam: number, ef: number, sb: Uint32Array): string {
    const list = codes.list;
    const n = codes.listFilter(sb, this.slots);
    const sq = this.sqnorms;
    const pass = (bits: 1 | 4, m: number, keep: number): number => {
      codes.loadQuery(query, bits);
      const d = codes.estimate(m);
      if (!this.ip) {
        // l2: |x|² − 2 q·x, the kernel's distance being −q·x + q·mean.
        const shift = -2 * codes.queryMean;
        for (let i = 0; i < m; i++) d[i] = sq[codes.slotOf(list[i])] + shift + 2 * d[i];
      }
      return keepSmallest(d, list, m, keep);
    };
    const wide = FILTERED.signWidePerEf * beam;
    const twoPass = n > FILTERED.signAbove * wide;
    let m = n;
    if (twoPass) m = pass(1, m, wide);
    const first = twoPass ? `a 1-bit query, then a 4-bit one for the nearest ${thousands(m)}` : 'a 4-bit query';
    m = pass(4, m, FILTERED.signShortPerEf * beam);
    const batch = this.batch;
    this.res.size = 0;
    let nb4 = 0;
    for (let i = 0; i < m; i++) {
      batch[nb4++] = codes.slotOf(list[i]);
      if (nb4 === 32) nb4 = this.scoreBatch(q, ef, nb4);
    }
    this.scoreBatch(q, ef, nb4);
    return `scan of their 1-bit sign codes (${first}), the nearest ${thousands(m)} by int8`;
  }

  /** Offers the int8 estimates of batch[0..nb4) to this.res, keeping its ef nearest; returns 0 (the batch is empty again). */
  private scoreBatch(q: number, ef: number, nb4: number): number {
    const res = this.res;
    const batch = this.batch;
    const nd = this.nd;
    for (let i = 0; i < nb4; i += 4) {
      this.dist4(q, batch, i, nb4);
      const lim = nb4 - i < 4 ? nb4 - i : 4;
      for (let t = 0; t < lim; t++) {
        const d = nd[t];
        if (res.size < ef || d < res.d[0]) {
          res.push(d, batch[i + t]);
          if (res.size > ef) res.pop();
        }
      }
    }
    return 0;
  }

  /** How many of the level-0 neighbours of `ep` and theirs there are (seen), and how many match (hit). */
  private localMatches(ep: number, sb: Uint32Array): { seen: number; hit: number } {
    const epoch = this.nextEpoch();
    const tags = this.tags;
    const i32 = this.i32;
    tags[ep] = epoch;
    let seen = 0;
    let hit = 0;
    if (this.paging !== null) this.load(ep);
    const at = this.links(ep, 0);
    for (let j = 1; j <= i32[at]; j++) {
      const nb = i32[at + j];
      if (tags[nb] === epoch) continue;
      tags[nb] = epoch;
      seen++;
      hit += (sb[nb >>> 5] >>> (nb & 31)) & 1;
      if (this.paging !== null) this.load(nb);
      const at2 = this.links(nb, 0);
      for (let j2 = 1; j2 <= i32[at2]; j2++) {
        const nb2 = i32[at2 + j2];
        if (tags[nb2] === epoch) continue;
        tags[nb2] = epoch;
        seen++;
        hit += (sb[nb2 >>> 5] >>> (nb2 & 31)) & 1;
      }
    }
    return { seen, hit };
  }

  private rowSlots: { of: Int32Array; slots: Int32Array } | null = null;
  private slotFilter: { bits: Uint32Array; of: Int32Array; slots: Uint32Array } | null = null;

  /** The filter in slot space (dead slots cleared): the row bitmap itself while slot = row, else mapped once per filter. */
  private slotBits(space: SearchSpace, filter: RowFilter): Uint32Array {
    const s2r = space.slotToRow;
    if (s2r === null) return filter.bits;
    const memo = this.slotFilter;
    if (memo && memo.bits === filter.bits && memo.of === s2r) return memo.slots;
    const slots = new Uint32Array((this.slots + 31) >>> 5);
    for (let s = 0; s < this.slots; s++) {
      const row = s2r[s];
      if (row >= 0 && allows(filter, row)) slots[s >>> 5] |= 1 << (s & 31);
    }
    this.slotFilter = { bits: filter.bits, of: s2r, slots };
    return slots;
  }
  private readonly hops = new Int32Array(257 * 2);

  /** Up to FILTER_SEEDS matching live slots, spread evenly over the filter's rows. */
  private seeds(space: SearchSpace, filter: RowFilter): number[] {
    const s2r = space.slotToRow;
    let slotOf: Int32Array | null = null;
    if (s2r !== null) {
      if (this.rowSlots?.of !== s2r) {
        const slots = new Int32Array(space.rows).fill(-1);
        for (let s = 0; s < this.slots; s++) if (s2r[s] >= 0) slots[s2r[s]] = s;
        this.rowSlots = { of: s2r, slots };
      }
      slotOf = this.rowSlots.slots;
    }
    const out: number[] = [];
    const bits = filter.bits;
    const rows = Math.min(space.rows, bits.length * 32);
    for (let i = 0; i < FILTER_SEEDS; i++) {
      const row = nextSet(bits, Math.floor((i * rows) / FILTER_SEEDS), rows);
      if (row < 0) break;
      const slot = slotOf === null ? (row < this.slots ? row : -1) : slotOf[row];
      if (slot >= 0 && (out.length === 0 || out[out.length - 1] !== slot)) out.push(slot);
    }
    return out;
  }

  /** Empties the result heap into the scratch arrays, nearest first. */
  private drainNearestFirst() {
    const res = this.res;
    const n = res.size;
    const order = this.scratchOrder(n);
    const dists = this.scratchDists(n);
    for (let i = n - 1; i >= 0; i--) {
      order[i] = res.id[0];
      dists[i] = res.d[0];
      res.pop();
    }
    return { n, order, dists };
  }

  /**
   * hnswlib's getNeighborsByHeuristic2: from the candidates in this.res
   * (distances to the element being linked), keeps those nearer to the
   * element than to every one already kept, up to `max`. Leaves them in
   * this.sel[1..count], nearest first, with the count in sel[0].
   */
  private selectNeighbors(max: number): void {
    const sel = this.sel;
    const { n, order, dists } = this.drainNearestFirst();
    let count = 0;
    for (let i = 0; i < n && count < max; i++) {
      const e = order[i];
      const de = dists[i];
      let good = true;
      for (let j = 1; j <= count; j++) {
        if (this.pairDist(e, sel[j]) < de) {
          good = false;
          break;
        }
      }
      if (good) sel[++count] = e;
    }
    sel[0] = count;
  }

  /** Distance between slots a and b for linking: the float32 block while building, the library's rows while updating. */
  private pairDist(a: number, b: number): number {
    return this.pair !== null ? this.pair(a, b) : this.dist(this.vec(a), this.vec(b));
  }

  private orderBuf = new Int32Array(0);
  private distBuf = new Float64Array(0);
  /** A batch's earlier elements and their distances to the one being selected (selectElement). */
  private mateIds = new Int32Array(0);
  private mateDists = new Float64Array(0);

  private scratchOrder(n: number): Int32Array {
    if (this.orderBuf.length < n) this.orderBuf = new Int32Array(Math.max(n, 2 * this.orderBuf.length));
    return this.orderBuf;
  }

  private scratchDists(n: number): Float64Array {
    if (this.distBuf.length < n) this.distBuf = new Float64Array(Math.max(n, 2 * this.distBuf.length));
    return this.distBuf;
  }

  /**
   * Links slot e (vector already in place, level levels[e]) into the graph,
   * navigating from the query at word q: e's own float32 vector while
   * building; e's row loaded with loadQuery into a quantized index.
   */
  private insert(e: number, q: number): void {
    const level = this.levels[e];
    if (this.entry < 0) {
      this.entry = e;
      this.maxLevel = level;
      return;
    }
    const top = this.maxLevel;
    let ep = this.descend(q, this.entry, level);
    for (let l = Math.min(level, top); l >= 0; l--) {
      this.searchLayer(q, ep, l, this.efConstruction, null);
      // int8 estimates found the candidates; the heuristic compares like with like.
      if (this.pair !== null) this.rescoreFrom(e);
      ep = this.connect(e, l);
    }
    if (level > top) {
      this.entry = e;
      this.maxLevel = level;
    }
  }

  /** Replaces the distances in this.res by linking distances from slot e. */
  private rescoreFrom(e: number): void {
    const { n, order } = this.drainNearestFirst();
    for (let i = 0; i < n; i++) this.res.push(this.pairDist(e, order[i]), order[i]);
  }

  /** Picks e's neighbours at `level` from this.res and links both ways; returns the nearest. */
  private connect(e: number, level: number): number {
    const arr = level === 0 ? this.i32 : this.upper;
    this.selectNeighbors(this.maxM);
    const sel = this.sel;
    const count = sel[0];
    const nearest = sel[1];
    const at = this.links(e, level);
    arr[at] = count;
    for (let j = 1; j <= count; j++) arr[at + j] = sel[j];
    // sel is reused by linkBack, so e's list (just written) is the source.
    for (let j = 1; j <= count; j++) this.linkBack(arr[at + j], e, level);
    return nearest;
  }

  /**
   * Adds e to nb's list at `level`: appended while there is room, else the
   * list is re-selected among its old neighbours and e with the same
   * heuristic. Reads and writes nb's list only (and the vectors).
   */
  private linkBack(nb: number, e: number, level: number): void {
    const arr = level === 0 ? this.i32 : this.upper;
    const cap = level === 0 ? this.maxM0 : this.maxM;
    const nat = this.links(nb, level);
    const ncount = arr[nat];
    if (ncount < cap) {
      arr[nat + 1 + ncount] = e;
      arr[nat] = ncount + 1;
      return;
    }
    const res = this.res;
    res.size = 0;
    res.push(this.pairDist(nb, e), e);
    for (let i = 1; i <= ncount; i++) {
      const o = arr[nat + i];
      res.push(this.pairDist(nb, o), o);
    }
    this.selectNeighbors(cap);
    const sel = this.sel;
    const kept = sel[0];
    arr[nat] = kept;
    for (let i = 1; i <= kept; i++) arr[nat + i] = sel[i];
  }

  /**
   * Replaces the float32 block by the int8 one: per-dimension steps from the
   * largest |x[i]| over all slots, links copied, squared norms kept for l2.
   */
  private quantize(): void {
    const { slots, dim } = this;
    const oldF32 = this.f32;
    const oldI32 = this.i32;
    const oldBase = this.base;
    const oldStride = this.stride;
    const scales = this.scales;
    scales.fill(0);
    for (let e = 0; e < slots; e++) {
      const v = this.vec(e);
      for (let i = 0; i < dim; i++) {
        const a = Math.abs(oldF32[v + i]);
        if (a > scales[i]) scales[i] = a;
      }
      this.sqnorms[e] = dot(oldF32, v, oldF32, v, dim);
    }
    for (let i = 0; i < dim; i++) scales[i] = scales[i] > 0 ? scales[i] / 127 : 1;
    const oldVec = (e: number): number => oldBase + e * oldStride + this.linkWords;
    this.allocate('i8');
    for (let e = 0; e < slots; e++) {
      const from = oldBase + e * oldStride;
      this.i32.set(oldI32.subarray(from, from + this.linkWords), this.base + e * this.stride);
      const src = oldVec(e);
      const dst = this.vec(e) << 2;
      for (let i = 0; i < dim; i++) this.i8[dst + i] = toInt8(oldF32[src + i] / scales[i]);
    }
    this.sqMax = this.measureSqMax();
  }

  private measureSqMax(): number {
    let max = 0;
    const i8 = this.i8;
    for (let e = 0; e < this.slots; e++) {
      const v = this.vec(e) << 2;
      let s = 0;
      for (let i = 0; i < this.dim; i++) s += i8[v + i] * i8[v + i];
      if (s > max) max = s;
    }
    return max;
  }

  /**
   * Builds over rows 0..space.rows-1 (slot i = row i), inserting in slot order
   * with float32 distances, then quantizes the vectors for queries.
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
    let upperWords = 0;
    for (let e = 0; e < n; e++) {
      levels[e] = drawLevel(ctx, m);
      upperWords += levels[e] * (1 + m);
    }
    const index = new HnswIndex(n, dim, m, efc, efs, -1, levels, new Int32Array(upperWords), 'f32');
    index.ip = space.metric !== 'l2';
    index.maxLevel = -1;
    // The block is allocated again, shared, when threads are wanted (the first, unshared one is still empty).
    const wanted = n >= MIN_ROWS_PER_BUILD_THREAD * 2 ? Math.min(buildThreads(ctx), Math.floor(n / MIN_ROWS_PER_BUILD_THREAD)) : 1;
    const threads = wanted > 1 && BuildThreads.available() ? index.allocate('f32', wanted) : 1;
    for (let e = 0; e < n; e++) index.f32.set(space.data.subarray(e * dim, (e + 1) * dim), index.vec(e));
    const plan = new PlanBuffer(efc);
    const link = new LinkBuffer(m, linkUnitsBound(levels, plan.maxBatch), threads > 1 ? LINK_GROUPS_PER_THREAD * threads : 1, plan.maxBatch);
    const pool = threads > 1 ? BuildThreads.start(index.describeShared(index.wasm as WasmF32, index.i32.length, threads), plan, link) : null;
    try {
      let reported = 0;
      for (let s = 0; s < n; ) {
        const entry = index.entry;
        const top = index.maxLevel;
        // A batch: elements planned against the graph as it stands, then linked as if in order (see linkGroup).
        let e = s;
        let units = 0;
        const most = Math.min(batchSize(s), plan.maxBatch);
        plan.start = s;
        while (e < n && e - s < most && units + index.planUnits(e, top) <= plan.units) {
          units += index.planUnits(e, top);
          e++;
        }
        for (let x = s, unit = 0; x <= e; x++) {
          plan.unitAt[x - s] = unit;
          if (x < e) unit += index.planUnits(x, top);
        }
        if (pool) pool.run(PHASE.plan, s, e, entry, top, e - s, (i) => index.planElement(s + i, entry, top, plan));
        else for (let x = s; x < e; x++) index.planElement(x, entry, top, plan);
        // planElement set the entry it was given; from here on it is the batch's.
        index.entry = entry;
        index.maxLevel = top;
        index.layOutLinks(s, e, link);
        if (pool) {
          pool.run(PHASE.select, s, e, entry, top, e - s, (i) => index.selectElement(s + i, s, top, plan, link));
          pool.run(PHASE.link, s, e, entry, top, link.groups, (g) => index.linkGroup(g, s, e, link));
        } else {
          for (let x = s; x < e; x++) index.selectElement(x, s, top, plan, link);
          index.linkGroup(0, s, e, link);
        }
        s = e;
        if (s - reported >= 1024 || s === n) ctx.onProgress?.((reported = s), n);
      }
    } finally {
      pool?.close();
    }
    index.quantize();
    return index;
  }

  /** Plan units (one per level searched) of inserting x into a graph whose top level is `top`. */
  planUnits(x: number, top: number): number {
    return top < 0 ? 0 : Math.min(this.levels[x], top) + 1;
  }

  /** Plans element x of the batch starting at plan.start into its units (plan.unitAt). */
  planElement(x: number, entry: number, top: number, plan: PlanBuffer): void {
    this.planInsert(x, entry, top, plan.unitAt[x - plan.start], plan);
  }

  /**
   * Searches the graph as it stood before the batch (entry, top level `top`)
   * for x's neighbour candidates at each of its levels, top down, as
   * `insert` does, into plan units from `unit`: nearest first. It only reads
   * the graph, so threads plan a batch at once; the result does not depend
   * on which thread plans what.
   */
  private planInsert(x: number, entry: number, top: number, unit: number, plan: PlanBuffer): void {
    if (top < 0) return;
    this.entry = entry;
    this.maxLevel = top;
    const level = this.levels[x];
    const q = this.vec(x);
    const efc = this.efConstruction;
    let ep = this.descend(q, entry, level);
    for (let l = Math.min(level, top), u = unit; l >= 0; l--, u++) {
      this.searchLayer(q, ep, l, efc, null);
      const { n, order, dists } = this.drainNearestFirst();
      const at = u * (efc + 1);
      plan.ids[at] = n;
      for (let i = 0; i < n; i++) {
        plan.ids[at + 1 + i] = order[i];
        plan.dists[u * efc + i] = dists[i];
      }
      ep = order[0];
    }
  }

  /**
   * Lays out the link units of batch [s, e) (see LinkBuffer) and moves the
   * entry to where linking the batch in order leaves it: element x links at
   * levels 0..min(levels[x], the top level after the elements before it),
   * none for the first element of all, and becomes the entry when it tops them.
   */
  private layOutLinks(s: number, e: number, link: LinkBuffer): void {
    let unit = 0;
    for (let x = s; x < e; x++) {
      link.unitAt[x - s] = unit;
      const level = this.levels[x];
      if (this.entry >= 0) unit += Math.min(level, this.maxLevel) + 1;
      if (this.entry < 0 || level > this.maxLevel) {
        this.entry = x;
        this.maxLevel = level;
      }
    }
    link.unitAt[e - s] = unit;
  }

  /**
   * Selects element x's own neighbour lists into its link units (batch from
   * `from`; `top`, the graph's top level before the batch): at each level,
   * from its planned candidates and the batch's elements before it, kept to
   * the ef_construction nearest as a search would, with hnswlib's heuristic.
   * Reads vectors only, not the graph, so threads select a batch at once.
   */
  selectElement(x: number, from: number, top: number, plan: PlanBuffer, link: LinkBuffer): void {
    const first = link.unitAt[x - from];
    const linked = link.unitAt[x - from + 1] - first;
    const planned = top < 0 ? -1 : Math.min(this.levels[x], top);
    const unit = plan.unitAt[x - from];
    const q = this.vec(x);
    const efc = this.efConstruction;
    const res = this.res;
    const sel = this.sel;
    // Every level links at 0, where all the batch-mates are candidates: their distances once, four per kernel call.
    const mates = x - from;
    if (this.mateIds.length < mates) {
      this.mateIds = new Int32Array(plan.maxBatch);
      this.mateDists = new Float64Array(plan.maxBatch);
    }
    const mateIds = this.mateIds;
    const mateDist = this.mateDists;
    if (linked > 0) {
      const nd = this.nd;
      for (let i = 0; i < mates; i++) mateIds[i] = from + i;
      for (let i = 0; i < mates; i += 4) {
        this.dist4(q, mateIds, i, mates);
        for (let k = 0; k < 4 && i + k < mates; k++) mateDist[i + k] = nd[k];
      }
    }
    for (let l = linked - 1; l >= 0; l--) {
      res.size = 0;
      if (l <= planned) {
        const u = unit + (planned - l);
        const at = u * (efc + 1);
        for (let i = 0; i < plan.ids[at]; i++) res.push(plan.dists[u * efc + i], plan.ids[at + 1 + i]);
      }
      // Far batch-mates would only slow the heuristic.
      for (let y = from; y < x; y++) {
        if (this.levels[y] < l) continue;
        const d = mateDist[y - from];
        if (res.size < efc || d < res.d[0]) {
          res.push(d, y);
          if (res.size > efc) res.pop();
        }
      }
      this.selectNeighbors(this.maxM);
      link.ids.set(sel.subarray(0, sel[0] + 1), (first + l) * (link.m + 1));
    }
  }

  /**
   * Applies the writes of batch [from, to) to the lists of the slots in
   * `group` (slot % link.groups): in element order, x's own lists from its
   * link units, then x added to each selected neighbour's list (linkBack), as
   * `connect` does. Writes to one list keep their order and lists of
   * different groups do not meet, so the graph is the same however the
   * groups are shared out.
   */
  linkGroup(group: number, from: number, to: number, link: LinkBuffer): void {
    const groups = link.groups;
    const ids = link.ids;
    const width = link.m + 1;
    for (let x = from; x < to; x++) {
      const first = link.unitAt[x - from];
      const linked = link.unitAt[x - from + 1] - first;
      const own = x % groups === group;
      for (let l = 0; l < linked; l++) {
        const at = (first + l) * width;
        const count = ids[at];
        if (own) {
          const arr = l === 0 ? this.i32 : this.upper;
          arr.set(ids.subarray(at, at + count + 1), this.links(x, l));
        }
        for (let j = 1; j <= count; j++) {
          const nb = ids[at + j];
          if (nb % groups === group) this.linkBack(nb, x, l);
        }
      }
    }
  }

  /**
   * A new index that answers for the library now (see IndexKind.update):
   * `old`'s live slots move to their rows with their vectors and links, dead
   * slots go, and every list that linked to a dead slot is mended from the
   * dead ones' live links (see carryLinks). Then each added row gets a level
   * from ctx.random, its int8 vector on the existing steps (clamped: estimates
   * only steer), and is inserted: navigation on int8 estimates as a query,
   * links chosen on distances between the library's rows. `old` is not changed.
   * @param space every row in memory (no paging)
   * @throws Error when a param is out of range or the rows do not match the slots
   */
  static update(old: HnswIndex, space: SearchSpace, added: readonly number[], params: Record<string, number>, ctx: BuildContext): IndexUpdate {
    const m = params.m ?? old.m;
    const efc = params.ef_construction ?? old.efConstruction;
    const efs = params.ef_search ?? old.efSearch;
    checkParams(m, efc, efs);
    if (m !== old.m || efc !== old.efConstruction) return { rebuild: 'm or ef_construction changed' };
    const s2r = space.slotToRow;
    const rowOf = (slot: number): number => (s2r === null ? slot : s2r[slot]);
    let live = 0;
    for (let s = 0; s < old.slots; s++) if (rowOf(s) >= 0) live++;
    const dead = old.slots - live;
    if (dead > MAX_DEAD_SHARE * old.slots) {
      return { rebuild: `${Math.round((100 * dead) / old.slots)}% of the entries are stale (more than ${100 * MAX_DEAD_SHARE}%)` };
    }
    // Fresh quantization steps then, for no more than twice the work.
    if (added.length > live) return { rebuild: 'more new chunks than indexed ones' };
    const n = space.rows;
    if (live + added.length !== n || space.dim !== old.dim) throw new Error('hnsw update: the rows do not match the slots');
    old.loadAll();
    const levels = new Int32Array(n);
    for (let s = 0; s < old.slots; s++) if (rowOf(s) >= 0) levels[rowOf(s)] = old.levels[s];
    for (const row of added) levels[row] = drawLevel(ctx, m);
    let upperWords = 0;
    for (let e = 0; e < n; e++) upperWords += levels[e] * (1 + m);
    const index = new HnswIndex(n, old.dim, m, efc, efs, -1, levels, new Int32Array(upperWords), 'i8');
    index.ip = space.metric !== 'l2';
    index.scales.set(old.scales);
    index.pair = rowPairDistance(space.metric, space.data, space.dim);
    index.adopt(old, rowOf);
    const dim = space.dim;
    added.forEach((row, i) => {
      const x = space.data.subarray(row * dim, (row + 1) * dim);
      index.setQuantized(row, x);
      index.loadQuery(x);
      index.insert(row, index.qAt);
      if ((i & 1023) === 1023 || i === added.length - 1) ctx.onProgress?.(i + 1, added.length);
    });
    index.pair = null;
    index.sqMax = index.measureSqMax();
    return { index, inserted: added.length, removed: dead };
  }

  /**
   * Copies `old`'s live slots to their rows (rowOf(slot), -1 if dead) with
   * their links. Sets the entry: old's if it lives, else the highest live
   * slot (lowest row on ties).
   */
  private adopt(old: HnswIndex, rowOf: (slot: number) => number): void {
    const vecWords = this.vecBytes / 4;
    let entry = old.entry >= 0 ? rowOf(old.entry) : -1;
    const pickEntry = entry < 0;
    for (let s = 0; s < old.slots; s++) {
      const e = rowOf(s);
      if (e < 0) continue;
      const v = old.vec(s);
      this.i32.set(old.i32.subarray(v, v + vecWords), this.vec(e));
      this.sqnorms[e] = old.sqnorms[s];
      for (let level = 0; level <= old.levels[s]; level++) this.carryLinks(old, s, e, level, rowOf);
      if (pickEntry && (entry < 0 || this.levels[e] > this.levels[entry] || (this.levels[e] === this.levels[entry] && e < entry))) entry = e;
    }
    this.entry = entry;
    this.maxLevel = entry < 0 ? -1 : this.levels[entry];
  }

  /**
   * Writes e's list at `level` from old slot s's: the live links, renumbered;
   * if some were dead, the free places up to the list's capacity go to the
   * live neighbours of the dead ones, nearest first, so what was reached
   * through a dead slot stays reachable. (Re-selecting the whole list with
   * the heuristic, as hnswlib's repair does, thinned lists and cost recall.)
   */
  private carryLinks(old: HnswIndex, s: number, e: number, level: number, rowOf: (slot: number) => number): void {
    const epoch = this.nextEpoch();
    const tags = this.tags;
    const res = this.res;
    const src = level === 0 ? old.i32 : old.upper;
    const at = old.links(s, level);
    const dst = level === 0 ? this.i32 : this.upper;
    const to = this.links(e, level);
    tags[e] = epoch;
    let count = 0;
    for (let j = 1; j <= src[at]; j++) {
      const nb = rowOf(src[at + j]);
      if (nb < 0) continue;
      tags[nb] = epoch;
      dst[to + 1 + count++] = nb;
    }
    res.size = 0;
    for (let j = 1; j <= src[at]; j++) {
      const dead = src[at + j];
      if (rowOf(dead) >= 0) continue;
      // A slot linked at `level` has that level, so the dead one has a list here.
      const dat = old.links(dead, level);
      for (let i = 1; i <= src[dat]; i++) {
        const c = rowOf(src[dat + i]);
        if (c < 0 || tags[c] === epoch) continue;
        tags[c] = epoch;
        res.push(this.pairDist(e, c), c);
      }
    }
    const { n, order } = this.drainNearestFirst();
    const cap = level === 0 ? this.maxM0 : this.maxM;
    for (let i = 0; i < n && count < cap; i++) dst[to + 1 + count++] = order[i];
    dst[to] = count;
  }

  /** Writes slot e's int8 vector on the current steps and its squared norm. */
  private setQuantized(e: number, x: Float32Array): void {
    const scales = this.scales;
    const at = this.vec(e) << 2;
    for (let i = 0; i < this.dim; i++) this.i8[at + i] = toInt8(x[i] / scales[i]);
    this.sqnorms[e] = dot(x, 0, x, 0, this.dim);
    this.dropCodes();
  }

  private dropCodes(): void {
    this.codes = null;
    this.codesTried = false;
  }

  /**
   * The sign codes, made now if need be: only once every slot is in memory
   * (a cold query pages in a few thousand slots and should not read the rest
   * to make codes it may never use again) and the SIMD kernels run.
   */
  private signCodes(): SignCodes | null {
    if (this.codes !== null || this.codesTried) return this.codes;
    if (this.paging !== null || this.format !== 'i8' || !SignCodes.available(this.dim)) return null;
    this.codesTried = true;
    this.codes = SignCodes.fromInt8(this.slots, this.dim, this.i8, (e) => this.vec(e) << 2, this.scales);
    return this.codes;
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
    const { levels, upper, scales, sqnorms } = s.arrays;
    if (!(levels instanceof Int32Array) || levels.length !== slots) throw new Error('hnsw levels have the wrong length');
    if (!(upper instanceof Int32Array)) throw new Error('hnsw upper links have the wrong length');
    if (!(scales instanceof Float32Array) || scales.length !== dim || !scales.every((x) => Number.isFinite(x) && x > 0)) {
      throw new Error('hnsw scales are invalid');
    }
    if (!(sqnorms instanceof Float32Array) || sqnorms.length !== slots) throw new Error('hnsw sqnorms have the wrong length');
    // The constructor checks the levels and the upper lists as it lays them out.
    const index = new HnswIndex(slots, dim, m, efc, efs, entry, levels, upper, 'i8');
    if (upper.length !== index.upperWords) throw new Error('hnsw upper links have the wrong length');
    if (slots === 0 ? entry !== -1 : entry < 0 || entry >= slots || levels[entry] !== index.maxLevel) {
      throw new Error('hnsw entry point is invalid');
    }
    const level0Bytes = slots * index.stride * 4;
    const source = s.sources?.level0;
    if (source) {
      if (source.bytes !== level0Bytes) throw new Error('hnsw level0 has the wrong length');
      index.paging = { source, loaded: new Uint8Array(slots), reads: 0 };
    } else {
      const level0 = s.arrays.level0;
      if (!(level0 instanceof Int32Array) || level0.length !== slots * index.stride) throw new Error('hnsw level0 has the wrong length');
      index.i32.set(level0, index.base);
    }
    index.scales.set(scales);
    index.sqnorms.set(sqnorms);
    // Stored since it costs a pass over every vector; it only tunes when re-scoring stops.
    const sqMax = s.params.sq_max;
    index.sqMax = Number.isInteger(sqMax) && sqMax >= 0 && sqMax <= 127 * 127 * dim ? sqMax : index.measureSqMax();
    if (index.paging === null) index.checkLoaded(null, 0, slots);
    return index;
  }

  /** Reads slot e's level-0 links and vector from disk if not yet in memory; past slots/16 single reads, reads the rest at once. */
  private load(e: number): void {
    const p = this.paging;
    if (p === null || p.loaded[e] === 1) return;
    if (++p.reads > this.slots / 16) return this.loadAll();
    const words = this.stride;
    const at = this.base + e * words;
    p.source.readRange(new Uint8Array(this.i32.buffer, this.i32.byteOffset + at * 4, words * 4), e * words * 4);
    this.checkLoaded(p.source, e, e + 1);
    p.loaded[e] = 1;
  }

  preload(): void {
    this.loadAll();
  }

  /** Brings every slot into memory (one sequential read) and stops paging. */
  private loadAll(): void {
    const p = this.paging;
    if (p === null) return;
    p.source.readInto(new Uint8Array(this.i32.buffer, this.i32.byteOffset + this.base * 4, this.slots * this.stride * 4));
    this.checkLoaded(p.source, 0, this.slots);
    this.paging = null;
  }

  /** Level-0 lists of the slots [from, to), read from `source` (or held whole: null), in one loop. */
  private checkLoaded(source: ArraySource | null, from: number, to: number): void {
    const arr = this.i32;
    const { stride, maxM0, slots } = this;
    // Levels are checked non-negative on load, so any slot may be a level-0 neighbour.
    for (let e = from, at = this.base + from * stride; e < to; e++, at += stride) {
      const count = arr[at];
      if (count < 0 || count > maxM0) return refuse(source, 'hnsw link count out of range');
      for (let j = at + 1, end = at + count; j <= end; j++) {
        if (arr[j] >>> 0 >= slots) return refuse(source, 'hnsw link points to a missing node');
      }
    }
  }
}

/**
 * True when the graph near the query matches clearly less than the filter
 * does overall (a filter correlated with the vectors, queried from elsewhere):
 * under FILTERED.correlated of the overall share, and more than 3 standard
 * deviations under it, so that a filter independent of the vectors is not
 * taken for one by the chance of a small neighbourhood.
 */
export function awayFromMatches(local: { seen: number; hit: number }, share: number): boolean {
  if (local.seen === 0) return false;
  const expected = local.seen * share;
  return local.hit < expected * FILTERED.correlated && local.hit < expected - 3 * Math.sqrt(expected * (1 - share));
}

/** The first set bit at or after `from` below `rows`, or -1. */
function nextSet(bits: Uint32Array, from: number, rows: number): number {
  let i = from >>> 5;
  let x = bits[i] & (0xffffffff << (from & 31));
  for (;;) {
    if (x !== 0) {
      const row = (i << 5) + 31 - Math.clz32(x & -x);
      return row < rows ? row : -1;
    }
    if (++i >= bits.length || i << 5 >= rows) return -1;
    x = bits[i];
  }
}


/** A level for a new element: floor(-ln(U) / ln(m)), U uniform in (0, 1]. */
function drawLevel(ctx: BuildContext, m: number): number {
  // 1 - next() is in (0, 1], so the log is finite.
  return Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - ctx.random.next()) * (1 / Math.log(m))));
}

function toInt8(x: number): number {
  return Math.max(-127, Math.min(127, Math.round(x)));
}

/** Integer dot product of int8 bytes [a, a+n) and [b, b+n): the JS fallback of idot4. */
function idot(i8: Int8Array, a: number, b: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += i8[a + i] * i8[b + i];
  return s;
}

/** What a worker thread needs to search a shared index (HnswIndex.share, HnswIndex.view); every array is SharedArrayBuffer-backed. */
export interface SharedHnsw {
  memory: WasmMemory;
  /** Words of the block, the workers' scratch regions included. */
  words: number;
  /** Scratch regions: this thread's and the workers'. */
  threads: number;
  /** 'f32' while building (build threads), 'i8' for queries. */
  format: 'f32' | 'i8';
  /** Navigation by -dot (cosine, dot) rather than squared L2. */
  ip: boolean;
  slots: number;
  dim: number;
  m: number;
  efConstruction: number;
  efSearch: number;
  entry: number;
  sqMax: number;
  levels: Int32Array;
  upper: Int32Array;
  upperOff: Int32Array;
  scales: Float32Array;
  /** Words of each thread's walk region (0: the JS walk); the squared norms live in the block, after the slots. */
  walkWords: number;
}

/**
 * Word offsets of a walk region at word `at` (walk.ts): the descriptor, the
 * batch of neighbour ids, the dead-slot bitmap, the u16 tags, and the two
 * heaps (f64 keys, i32 ids; slots + 1 entries, more than a walk can hold),
 * each part 16-byte aligned.
 */
function walkRegion(at: number, slots: number, maxM0: number) {
  let next = up4(at);
  const part = (words: number): number => {
    const start = next;
    next = up4(next + words);
    return start;
  };
  const cap = slots + 1;
  const desc = part(DESC_WORDS);
  const batch = part(Math.max(maxM0, 32) + 4);
  const dead = part((slots + 31) >>> 5);
  const tags = part((slots + 1) >>> 1);
  const candD = part(2 * cap);
  const candId = part(cap);
  const resD = part(2 * cap);
  const resId = part(cap);
  return { desc, batch, dead, tags, candD, candId, resD, resId, end: next };
}

/** Words a walk region takes, its alignment included. */
function walkRegionWords(slots: number, maxM0: number): number {
  return walkRegion(0, slots, maxM0).end + 4;
}

/** A copy of `a` in a SharedArrayBuffer, so worker threads read this one copy. */
function inSharedMemory<T extends Int32Array | Float32Array>(a: T): T {
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(Math.max(4, a.byteLength)));
  const view = a.length === out.length ? out : (out.subarray(0, a.length) as T);
  view.set(a);
  return view;
}

/** Threads the blocks of quantized indexes made from now on are laid out for (in shared memory when above 1). */
let blockThreadsFromStart = 1;

/**
 * From now on, quantized indexes (loaded or updated) lay out their block in a
 * shared memory for `threads` threads, so `share` hands it to a pool as it is
 * instead of copying it (55 MB at 100k × 384). For processes that open pools.
 */
export function shareHnswFromStart(threads: number): void {
  blockThreadsFromStart = Math.max(blockThreadsFromStart, Math.floor(threads));
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

/** Refuses level-0 lists read from `source` as damage there, or (held whole: null) as an inconsistent index. */
function refuse(source: ArraySource | null, why: string): never {
  if (source === null) throw new Error(why);
  return source.damaged(why);
}

export const hnswKind: IndexKind = {
  type: 'hnsw',
  exact: false,
  description: 'approximate: HNSW graph (hnswlib layout), int8 SIMD navigation, candidates re-scored exactly',
  options: [
    { name: 'm', description: 'links per node on upper levels (2m on level 0)', min: 2, max: 256, default: DEFAULT_M },
    { name: 'ef_construction', description: 'candidate list size while building', min: 1, max: 10000, default: DEFAULT_EF_CONSTRUCTION },
    { name: 'ef_search', description: 'candidate list size per query (at least k)', min: 1, max: 10000, default: DEFAULT_EF_SEARCH },
  ],
  build: (space, params, ctx) => HnswIndex.build(space, params, ctx),
  from: (s, dim) => HnswIndex.from(s, dim),
  update: (index, space, added, params, ctx) => {
    if (!(index instanceof HnswIndex)) throw new Error('hnsw update of another index type');
    return HnswIndex.update(index, space, added, params, ctx);
  },
};
