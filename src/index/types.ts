import type { Metric } from './kernels.js';
import type { RowPages } from './row-pages.js';
import type { TopK } from './topk.js';
import type { Random } from '../domain/random.js';

export type IndexType = 'linear' | 'kdtree' | 'lsh' | 'hnsw';

/**
 * What an index searches. Slots are the index's own dense ids, fixed at build
 * time; rows are positions in `data` now. Chunks deleted or re-embedded since
 * the build map to -1 and are skipped, so an index never returns stale vectors.
 */
export interface SearchSpace {
  metric: Metric;
  dim: number;
  /** Rows prepared by `prepareData` (unit rows for cosine), row-major. */
  data: Float32Array;
  rows: number;
  /** slot → row, or -1 for a dead slot; null means slot === row. */
  slotToRow: Int32Array | null;
  /**
   * Null when every row is in `data`. Otherwise rows are read from disk as
   * they are needed: call fill(row) before reading a row (`spaceScorer` does).
   * Only indexes that touch few rows (HNSW) get such a space.
   */
  fill?: ((row: number) => void) | null;
  /** What `fill` reads through when other threads can join it (index/row-pages.ts); null otherwise. */
  pages?: RowPages | null;
}

export type IndexArray = Float32Array | Uint32Array | Int32Array;

/** An index's persistent form: numbers go to JSON, arrays to base64. */
export interface SerializedIndex {
  params: Record<string, number>;
  arrays: Record<string, IndexArray>;
  /**
   * Arrays still on disk (a loaded snapshot's sidecars): an index may read one
   * straight into memory of its own instead of taking `arrays[name]`, a copy.
   */
  sources?: Record<string, ArraySource>;
}

export interface ArraySource {
  bytes: number;
  /** Reads the whole array into `dst` (exactly `bytes` long) and checks it. */
  readInto(dst: Uint8Array): void;
  /** Reads bytes [offset, offset + dst.length) and checks them. */
  readRange(dst: Uint8Array, offset: number): void;
  /** Reports the array as damaged (what the index found wrong in what it read). */
  damaged(what: string): never;
}

/**
 * The rows a filtered search may return: bit r of `bits` (bit r & 31 of word
 * r >> 5) is set for each allowed row. `count` is how many allowed rows the
 * index answers for (its live slots; linear: every row), so an index can
 * tell when it found too few and must not come back short.
 */
export interface RowFilter {
  readonly bits: Uint32Array;
  readonly count: number;
}

/** Whether `filter` allows `row`. */
export function allows(filter: RowFilter, row: number): boolean {
  return ((filter.bits[row >>> 5] >>> (row & 31)) & 1) === 1;
}

/** Calls `visit(i)` for every set bit i below `below` of a bitmap laid out as RowFilter's, ascending. */
export function forEachSet(bits: Uint32Array, below: number, visit: (i: number) => void): void {
  const words = Math.min(bits.length, (below + 31) >>> 5);
  for (let w = 0; w < words; w++) {
    let x = bits[w];
    while (x !== 0) {
      const t = x & -x;
      const i = (w << 5) + 31 - Math.clz32(t);
      x ^= t;
      if (i >= below) return;
      visit(i);
    }
  }
}

export interface VectorIndex {
  readonly type: IndexType;
  /** Number of slots (rows covered at build time); 0 for linear, which covers every row. */
  readonly slots: number;
  params(): Record<string, number>;
  /**
   * Offers candidates to `top` as (distance, row). Exact indexes offer every
   * row that could rank in the top k; approximate ones offer what they find,
   * and at least min(top.k, live rows) of them (min(top.k, filter.count) with
   * a filter), each row once. With a filter only allowed rows are offered.
   * @param query prepared with `prepareQuery`
   * @param ef candidate list size for this query, overriding the index's
   *   `ef_search` option (indexes without that option ignore it)
   * @returns how it searched, when that is worth telling (`vdb query --explain`)
   */
  search(query: Float32Array, space: SearchSpace, top: TopK, ef?: number, filter?: RowFilter): string | void;
  serialize(): SerializedIndex;
  /** Reads whatever the index still keeps on disk (many queries are coming). */
  preload?(): void;
}

export interface BuildContext {
  random: Random;
  onProgress?: (done: number, total: number) => void;
  /** Threads a build may use, this one included (HNSW); default VDB_THREADS, else the machine's cores. The index is the same for any count. */
  threads?: number;
}

/** One tunable of an index type, as the CLI and the REST API expose it. */
export interface IndexOption {
  /** snake_case name, as in JSON; the CLI flag is the kebab-case form. */
  name: string;
  description: string;
  min: number;
  max: number;
  /** Default, or null when it is derived from the data at build time. */
  default: number | null;
}

export interface IndexKind {
  type: IndexType;
  exact: boolean;
  description: string;
  options: IndexOption[];
  /** Builds over rows 0..space.rows-1 (slot i = row i). */
  build(space: SearchSpace, params: Record<string, number>, ctx: BuildContext): VectorIndex;
  /** Reopens a serialized index; throws on inconsistent arrays. */
  from(serialized: SerializedIndex, dim: number): VectorIndex;
  /**
   * Brings `index` up to date without a rebuild, for kinds that can: slots
   * mapped to -1 by `space.slotToRow` are dropped, the rows in `added` are
   * inserted, and the result again has slot i = row i. `index` itself is not
   * changed. Returns why a full build is needed instead when it is.
   * @param space every row in memory (`fill` null, or every row filled)
   * @param added rows no slot maps to, ascending
   * @param params the options to update with (query-time ones may differ from the index's)
   */
  update?(index: VectorIndex, space: SearchSpace, added: readonly number[], params: Record<string, number>, ctx: BuildContext): IndexUpdate;
}

/** What `IndexKind.update` did, or why it did nothing. */
export type IndexUpdate = { index: VectorIndex; inserted: number; removed: number } | { rebuild: string };

/** Maps a slot to its current row, honouring the identity mapping. */
export function rowOf(space: SearchSpace, slot: number): number {
  return space.slotToRow === null ? slot : space.slotToRow[slot];
}
