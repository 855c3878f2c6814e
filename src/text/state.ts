/**
 * A library's full-text index, kept the way its vector index is: what was
 * persisted by the last build (`stored`), and an in-memory copy a query
 * brings up to date before it searches (`fresh`).
 *
 * Keys are the chunks' seqs, and a chunk gets a new seq whenever its text or
 * vector changes (model.ts), so comparing the stored keys with the rows' seqs
 * says which rows are unindexed and which keys are stale without reading a
 * chunk (coverage.ts). Chunk writes never touch the index: they stay
 * O(change). A query adds the unindexed rows' texts (reading those records
 * only) and drops the stale keys in its copy, so it answers as an index built
 * now; `vdb index build` and the end of `vdb ingest` persist the result.
 *
 * The stored arrays are written back as they were read (a rewrite of the
 * database never re-serializes the index), so a query that refreshed the
 * in-memory copy leaves the snapshot's bytes alone.
 */
import type { ArraySource } from '../index/types.js';
import { Bm25Index } from './bm25.js';
import type { SerializedBm25 } from './bm25.js';
import { refreshTextIndex } from './coverage.js';
import type { TextReader } from './coverage.js';

/** The arrays of a serialized index, in the order snapshots store them. */
export const TEXT_INDEX_ARRAYS = ['keys', 'lengths', 'vocab', 'vocab_offsets', 'df', 'postings', 'postings_offsets'] as const;
export type TextIndexArrayName = (typeof TEXT_INDEX_ARRAYS)[number];

/** What `index show` and `lib show` say of a library's full-text index. */
export interface TextIndexView {
  built_at: string;
  /** BM25's k1 and b. */
  params: { k1: number; b: number };
  /** Chunks whose current text the stored index holds. */
  indexed: number;
  /** Chunks added or whose text changed since the build: indexed by each query in memory. */
  unindexed: number;
  /** Stored entries of chunks deleted or changed since: dropped by each query. */
  stale: number;
  /** Distinct terms of the stored index. */
  terms: number;
  /** Bytes of its arrays. */
  bytes: number;
}

/** What a build did to the full-text index (`index build --json` → "text_build"). */
export interface TextBuildReport {
  /** full: built from nothing; incremental: the stored one brought up to date; none: it was. */
  mode: 'full' | 'incremental' | 'none';
  /** Chunk texts added, stale entries removed. */
  added: number;
  removed: number;
}

/** A persisted full-text index: its params and arrays, read on first use. */
export interface StoredTextIndex {
  readonly built_at: string;
  /** The serialized params: k1, b, docs, terms, vocab_bytes, postings_bytes. */
  readonly params: Readonly<Record<string, number>>;
  /** Bytes of the arrays (known without reading them). */
  readonly bytes: number;
  /** One array, read (and kept) on first use. @throws CorruptSnapshot */
  array(name: TextIndexArrayName): Uint32Array;
  /** A live index over these arrays; postings still on disk are paged in as queries need them. @throws CorruptSnapshot */
  open(): Bm25Index;
}

/** The index as a build left it, all in memory. */
export function storedInMemory(builtAt: string, s: SerializedBm25): StoredTextIndex {
  const bytes = Object.values(s.arrays).reduce((n, a) => n + a.byteLength, 0);
  return {
    built_at: builtAt,
    params: s.params,
    bytes,
    array: (name) => s.arrays[name],
    open: () => Bm25Index.from({ params: s.params, arrays: s.arrays }),
  };
}

/** An array of a snapshot not read yet: `read` gives it whole, `source` (if any) reads parts of it. */
export interface LaterWords {
  read(): Uint32Array;
  source: ArraySource | null;
}

/**
 * The index as a snapshot holds it: each array read when first asked for;
 * the postings, when they are a sidecar, paged in by the live index (and read
 * whole, once, if a rewrite needs them).
 * @param guard runs `f`, reporting a plain error as damage to the snapshot
 */
export function storedOnDisk(builtAt: string, params: Record<string, number>, arrays: Record<TextIndexArrayName, LaterWords>, guard: <T>(f: () => T) => T): StoredTextIndex {
  const held = new Map<TextIndexArrayName, Uint32Array>();
  const array = (name: TextIndexArrayName): Uint32Array => {
    let a = held.get(name);
    if (a === undefined) {
      a = guard(() => arrays[name].read());
      if (!(a instanceof Uint32Array)) a = guard(() => fail(`array ${name} is not u32`));
      held.set(name, a);
    }
    return a;
  };
  const bytes = 4 * (2 * (params.docs ?? 0) + Math.ceil((params.vocab_bytes ?? 0) / 4) + 3 * (params.terms ?? 0) + 2 + Math.ceil((params.postings_bytes ?? 0) / 4));
  const postings = arrays.postings.source;
  return {
    built_at: builtAt,
    params,
    bytes,
    array,
    open: () =>
      guard(() => {
        const named = TEXT_INDEX_ARRAYS.filter((n) => n !== 'postings' || !postings || held.has('postings'));
        const whole = Object.fromEntries(named.map((n) => [n, array(n)]));
        if (named.length === TEXT_INDEX_ARRAYS.length || !postings) return Bm25Index.from({ params, arrays: whole });
        // The live index pages the postings in; once read whole (by it, or by a rewrite), both use that copy.
        const shared: ArraySource = {
          bytes: postings.bytes,
          readRange: (dst, offset) => {
            const done = held.get('postings');
            if (done) dst.set(new Uint8Array(done.buffer, done.byteOffset + offset, dst.length));
            else postings.readRange(dst, offset);
          },
          readInto: (dst) => {
            const all = array('postings');
            dst.set(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
          },
          damaged: (what) => postings.damaged(what),
        };
        return Bm25Index.from({ params, arrays: whole, sources: { postings: shared } });
      }),
  };
}

function fail(what: string): never {
  throw new Error(what);
}

/** Per library: the stored full-text index (null: none was built) and the in-memory copy queries use. */
export class LibraryText {
  private storedIndex: StoredTextIndex | null = null;
  /** The copy brought up to date for these row seqs (the library's cached array: a new one after any change). */
  private live: { index: Bm25Index; seqs: Uint32Array } | null = null;

  get stored(): StoredTextIndex | null {
    return this.storedIndex;
  }

  set stored(s: StoredTextIndex | null) {
    this.storedIndex = s;
    this.live = null;
  }

  /**
   * The index holding exactly the rows' current texts: the stored one (or an
   * empty one) with the unindexed rows added and the stale keys removed.
   * @param seqs each row's seq (Library.rowSeqs())
   * @param texts reads rows' texts; asked only for unindexed rows
   */
  fresh(seqs: Uint32Array, texts: TextReader): Bm25Index {
    if (this.live && this.live.seqs === seqs) return this.live.index;
    const index = this.live?.index ?? this.storedIndex?.open() ?? Bm25Index.create();
    refreshTextIndex(index, seqs, texts);
    this.live = { index, seqs };
    return index;
  }

  /**
   * Brings the stored index up to date (creating it when `create` and there
   * is none); the caller persists the library afterwards. Nothing changes,
   * and mode is none, when it already was.
   */
  build(seqs: Uint32Array, texts: TextReader, builtAt: string): TextBuildReport {
    const before = this.storedIndex;
    const cover = before ? keyCoverage(before.array('keys'), seqs) : { indexed: 0, unindexed: seqs.length, stale: 0 };
    if (before && cover.unindexed === 0 && cover.stale === 0) return { mode: 'none', added: 0, removed: 0 };
    const serialized = this.fresh(seqs, texts).serialize();
    const stored = storedInMemory(builtAt, serialized);
    this.storedIndex = stored;
    this.live = { index: stored.open(), seqs };
    return { mode: before ? 'incremental' : 'full', added: cover.unindexed, removed: cover.stale };
  }

  /** What the stored index covers of these rows; null when there is none. Reads its keys, no postings. */
  view(seqs: Uint32Array): TextIndexView | null {
    const s = this.storedIndex;
    if (!s) return null;
    const { indexed, unindexed, stale } = keyCoverage(s.array('keys'), seqs);
    return { built_at: s.built_at, params: { k1: s.params.k1, b: s.params.b }, indexed, unindexed, stale, terms: s.params.terms, bytes: s.bytes };
  }
}

/** Coverage of rows by an index's sorted keys, as counts (coverage.ts gives the rows themselves). */
export function keyCoverage(keys: Uint32Array, seqs: Uint32Array): { indexed: number; unindexed: number; stale: number } {
  const sorted = isAscending(seqs) ? seqs : seqs.slice().sort();
  let i = 0;
  let j = 0;
  let both = 0;
  while (i < keys.length && j < sorted.length) {
    if (keys[i] === sorted[j]) {
      both++;
      i++;
      j++;
    } else if (keys[i] < sorted[j]) i++;
    else j++;
  }
  return { indexed: both, unindexed: seqs.length - both, stale: keys.length - both };
}

function isAscending(a: Uint32Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] <= a[i - 1]) return false;
  return true;
}
