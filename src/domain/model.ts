/**
 * The in-memory database: libraries of chunks, each library's vectors in one
 * contiguous row-major Float32Array (row i = chunks[i]), and its built index.
 * No I/O here; the service loads, mutates and saves a Database as a whole.
 *
 * Index coverage: every write of a chunk's vector or text gives it a fresh
 * per-library `seq`.
 * An index remembers the seq of each slot (`slotSeqs`) and the library's next
 * seq at build time (`coveredBelowSeq`). Rows with seq ≥ coveredBelowSeq are
 * unindexed and scanned exactly;
 * slots whose seq no longer exists are dead and skipped. The full-text index
 * (src/text/state.ts) keys its entries by seq the same way.
 *
 * Ids: a chunk id is unique in its library (the user's own, or generated);
 * generated ids (`chk_`, `doc_`, `lib_` + 16 hex digits) are unique in the
 * whole database. Documents are in documents.ts.
 */
import { Documents } from './documents.js';
import type { Document, DocumentChanges } from './documents.js';
import { InvalidInput, NotFound, UsageError } from './errors.js';
import type { ChunkView, IndexView, LibraryFields, LibraryView, Metadata } from './types.js';
import { allocRows, norm, prepareData, prepareRows, rowScorer } from '../index/kernels.js';
import type { CodedRows } from '../index/rowcodes.js';
import { simdAvailable } from '../index/simd.js';
import { RowPages } from '../index/row-pages.js';
import { TopK } from '../index/topk.js';
import { INDEX_KINDS } from '../index/registry.js';
import type { IndexType, SearchSpace, VectorIndex } from '../index/types.js';
import type { PageSource } from '../store/sidecar.js';
import { LibraryText } from '../text/state.js';
import type { Filter } from '../filter/ast.js';
import type { RowBitmap } from '../filter/bitmap.js';
import type { ColumnSet } from '../filter/columns.js';
import { evaluate } from '../filter/evaluate.js';
import { subjectOf } from '../filter/fields.js';
import { DocumentColumns } from '../filter/documents.js';
import type { DocumentSource } from '../filter/documents.js';
import { LiveColumns } from '../filter/live.js';

export interface Chunk {
  id: string;
  /**
   * The document the chunk belongs to (in the same library); absent (or
   * undefined) for none, as records without one are stored and parsed.
   */
  doc_id?: string;
  text: string;
  metadata: Metadata;
  tags: string[];
  created_at: string;
  updated_at: string;
  /** Per-library sequence number of this chunk's current vector and text. */
  seq: number;
}

export interface IndexState {
  type: IndexType;
  built_at: string;
  /** Vectors with seq below this existed at build time. */
  coveredBelowSeq: number;
  /** seq of the chunk each slot was built from (empty for linear). */
  slotSeqs: Uint32Array;
  /** The user-facing parameters when known without loading the index (from a snapshot). */
  params?: Record<string, number>;
  index: VectorIndex;
}

/**
 * What happened to a library's chunks since `trackChanges()`, in the one shape
 * a log record can replay: removals (as rows of the library when tracking
 * began), then edits in place, then appends at the end. Anything else sets
 * `complex` and the store writes a whole snapshot instead.
 */
export interface ChunkChanges {
  /** Library size when tracking began. */
  baseSize: number;
  /** Rows removed, ascending, as numbered when tracking began; with their ids. */
  removedRows: number[];
  removedIds: string[];
  /** Chunks edited or re-embedded in place → their row after the removals. */
  edited: Map<Chunk, number>;
  /** Chunks appended (they are the last `appended` rows). */
  appended: number;
  complex: boolean;
  /** Documents created, changed or deleted (set by takeChanges). */
  documents: DocumentChanges | null;
}

/**
 * Rows a library has not read yet (a large snapshot's sidecar files): the
 * first use of its chunks or vectors reads them. Appends and id checks do
 * not, so adding a chunk to a large library costs O(change), not O(library).
 */
export interface LazyRows {
  /** Rows on disk. */
  count: number;
  /** Reads and checks the chunk records. @throws CorruptSnapshot */
  chunks(): Chunk[];
  /** Reads the vectors (`count × dim`) into an array with at least `spareBytes` of room behind them. @throws CorruptSnapshot */
  vectors(spareBytes: number): Float32Array;
  /**
   * Rows that may hold the chunk with this id, from the snapshot's id table
   * (confirm by reading them): usually none or one. null when only reading
   * every record would tell.
   */
  idCandidates(id: string): number[] | null;
  /** Each row's seq, known without reading the records; null when the snapshot does not store them. */
  readonly seqs: Uint32Array | null;
  /** Whether `seqs` ascend (rows only ever appended): false when unknown. */
  readonly seqsAscending: boolean;
  /** Reads and checks one row's record; null when the snapshot cannot read records one at a time. @throws CorruptSnapshot */
  chunkAt(row: number): Chunk | null;
  /** Reads the vectors of rows [from, to) into `out` from float `at` on, checked against the file's checksums. @throws CorruptSnapshot */
  readVectors(out: Float32Array, at: number, from: number, to: number): void;
  /**
   * The vectors' file for reading pages from any thread (index/row-pages.ts):
   * its page source, how to report damage found in it, and a hold that keeps
   * it open past `close()`; null when the vectors have no page table (or are inline).
   */
  vectorPages(): VectorPages | null;
  /**
   * Calls `each` with the chunk of every row of `rows` (ascending), read in
   * large sequential blocks and kept by no one; null when the snapshot cannot
   * read records apart. @throws CorruptSnapshot
   */
  readonly forEachChunk: ((rows: readonly number[], each: (row: number, chunk: Chunk) => void) => void) | null;
  /** The files behind these rows, for a rewrite that copies them as bytes; null when the snapshot lacks what that needs. */
  readonly copyable: CopyableRows | null;
  /** The rows' int8 codes (index/rowcodes.ts); null when the snapshot has none. */
  readonly codes: LazyCodes | null;
  /** Releases the files (once everything is in memory). */
  close(): void;
}

export interface VectorPages {
  source: PageSource;
  /** @throws CorruptSnapshot naming the vectors */
  damaged(what: string): never;
  hold(): () => void;
}

/** Row codes still on disk. */
export interface LazyCodes {
  /** Reads and checks them. @throws CorruptSnapshot */
  read(): CodedRows;
  /** Codes read from disk at each query, a window at a time, checked at the end of each pass. @throws CorruptSnapshot */
  stream(): CodedRows;
  /** Reads and checks them, keeping nothing: for reads that check every file. @throws CorruptSnapshot */
  verify(): void;
  /** Reports that row's code does not match its vector. @throws CorruptSnapshot */
  damaged(row: number): never;
}

/** A byte range source: a sidecar still open, its reads checked against its checksums. */
export interface ByteSource {
  readonly ref: { readonly bytes: number };
  readRange(into: Uint8Array, offset: number): void;
}

/**
 * Rows on disk as a rewrite can carry them into the next generation without
 * parsing them: the records' bytes (a JSON array) and byte offsets (count + 1),
 * the id table (id-table.ts), each row's seq and the vectors' bytes.
 */
export interface CopyableRows {
  records: ByteSource;
  offsets: Uint32Array;
  idTable: Uint32Array;
  seqs: Uint32Array;
  vectors: ByteSource;
  /** The rows' codes and their params (index/rowcodes.ts), when the snapshot has them. */
  codes: { codes: ByteSource; params: ByteSource } | null;
}

/** Rows still on disk and the rows appended since (see Library.appendedSince). */
export interface AppendedRows {
  copy: CopyableRows;
  /** Rows on disk. */
  count: number;
  /** The rows appended since, and their vectors (row-major). */
  chunks: readonly Chunk[];
  vectors: Float32Array;
}

export interface LibraryInit extends LibraryFields {
  /** seq for the next vector written. */
  nextSeq: number;
}

/**
 * Share of a library's rows read one record at a time before all its records
 * are read at once: about where the two cost the same (a record read alone
 * 8.8 µs, one of a whole read 3.4 µs, 100k × 384), so neither way ever costs
 * more than twice the cheaper one; hits of a few thousand queries stay single reads.
 */
const LOOSE_SHARE = 3 / 8;

// The class carries the LibraryInit fields (declaration merging), set in the constructor.
export interface Library extends LibraryInit {}

export class Library {
  indexState: IndexState | null = null;
  /** The full-text index: stored by the last build, and kept fresh for queries. */
  readonly text = new LibraryText();
  readonly documents = new Documents();
  /** What filters read (src/filter), kept in step with the rows by the methods below. */
  readonly columns = new LiveColumns();
  private readonly docColumns = new DocumentColumns();
  /** While `lazy` is set: only the rows appended since, with their vectors at the start of `store`. */
  private rows: Chunk[] = [];
  private lazy: LazyRows | null = null;
  private store: Float32Array;
  private revisions = 0;
  private cache: { space?: SearchSpace; prepared?: Float32Array; unindexed?: number[]; seqs?: Uint32Array; paged?: PagedRows; filtered?: Map<string, RowBitmap>; codes?: CodedRows | null; codesStreamed?: boolean } = {};
  /**
   * Records read one at a time while the rows are on disk (frozen: changes go
   * through `chunks`); past LOOSE_SHARE of the rows, all of them at once.
   */
  private loose = new Map<number, Chunk>();
  private looseAll: Chunk[] | null = null;
  private changes: ChunkChanges | null = null;
  /** id → row: of every row, or while `lazy` is set of the rows appended since; null until needed. */
  private idRows: Map<string, number> | null = null;

  constructor(init: LibraryInit, vectors?: Float32Array) {
    const { id, name, dim, metric, embedder, metadata, created_at, updated_at, nextSeq } = init;
    Object.assign(this, { id, name, dim, metric, embedder, metadata, created_at, updated_at, nextSeq });
    this.store = vectors ?? new Float32Array(0);
  }

  /** The chunks, row by row (reads them first if they are still on disk). */
  get chunks(): Chunk[] {
    this.materialize();
    return this.rows;
  }

  set chunks(chunks: Chunk[]) {
    this.materialize();
    this.rows = chunks;
    this.columns.reset();
    this.idRows = null;
    this.revisions++;
  }

  /**
   * Counts the changes to the rows, their vectors and the index: a search
   * answered on other threads while one landed (a write through the service
   * it queries) ranked rows that may since have been renumbered, and is
   * answered again.
   */
  get revision(): number {
    return this.revisions;
  }

  get size(): number {
    return this.lazy ? this.lazy.count + this.rows.length : this.rows.length;
  }

  /** Sets the rows and their vectors (row-major; the array may extend past them, as room for appends). */
  setRows(chunks: Chunk[], vectors: Float32Array): void {
    this.lazy?.close();
    this.lazy = null;
    this.loose.clear();
    this.looseAll = null;
    this.rows = chunks;
    this.columns.reset();
    this.idRows = null;
    this.store = vectors.byteOffset === 0 && vectors.buffer.byteLength > vectors.byteLength ? new Float32Array(vectors.buffer, 0, vectors.buffer.byteLength >> 2) : vectors;
    this.changed();
  }

  /** Leaves the rows on disk until first used; the library must hold no rows yet. */
  setLazy(lazy: LazyRows): void {
    if (this.rows.length > 0 || this.lazy) throw new Error('setLazy on a library that holds rows');
    this.lazy = lazy;
    this.store = new Float32Array(0);
    this.columns.reset();
  }

  private materialize(): void {
    const lazy = this.lazy;
    if (!lazy) return;
    const dim = this.dim;
    const pending = this.rows;
    const chunks = lazy.chunks();
    // Room for what was appended meanwhile and for a few more appends.
    const store = lazy.vectors(pending.length * dim * 4 + (64 << 10));
    // Every file of the rows is read here, so damage to their codes is found too, not left to a later query.
    lazy.codes?.verify();
    store.set(this.store.subarray(0, pending.length * dim), lazy.count * dim);
    for (const c of pending) chunks.push(c);
    lazy.close();
    this.lazy = null;
    this.loose.clear();
    this.looseAll = null;
    this.rows = chunks;
    this.idRows = null;
    this.store = store;
    this.cache = {};
  }

  /** The chunk at `row`; rows appended to a library still on disk do not read it. */
  chunkAt(row: number): Chunk {
    const lazy = this.lazy;
    if (lazy) {
      if (row >= lazy.count) return this.rows[row - lazy.count];
      if (this.looseAll) return this.looseAll[row];
      const known = this.loose.get(row);
      if (known) return known;
      if (this.loose.size > lazy.count * LOOSE_SHARE) {
        this.looseAll = lazy.chunks().map((c) => Object.freeze(c));
        return this.looseAll[row];
      }
      const c = lazy.chunkAt(row);
      if (c) {
        this.loose.set(row, Object.freeze(c));
        return c;
      }
    }
    return this.chunks[row];
  }

  /**
   * While the rows on disk are untouched (only appended to): those rows as
   * files a rewrite can copy, and the rows appended since. null once the rows
   * were read into memory (an edit or a removal reads them) or when the
   * snapshot cannot be copied so.
   */
  appendedSince(): AppendedRows | null {
    const lazy = this.lazy;
    if (!lazy || !lazy.copyable || lazy.count === 0) return null;
    return { copy: lazy.copyable, count: lazy.count, chunks: this.rows, vectors: this.store.subarray(0, this.rows.length * this.dim) };
  }

  /**
   * Calls `each` with the text of every row of `rows` (ascending). Rows still
   * on disk are read in sequential blocks and not kept: a text index over a
   * large library reads every record once without holding them.
   */
  forEachText(rows: readonly number[], each: (row: number, text: string) => void): void {
    const lazy = this.lazy;
    if (!lazy || !lazy.forEachChunk || this.looseAll) {
      for (const r of rows) each(r, this.chunkAt(r).text);
      return;
    }
    let split = rows.length;
    while (split > 0 && rows[split - 1] >= lazy.count) split--;
    lazy.forEachChunk(rows.slice(0, split), (row, c) => each(row, (this.loose.get(row) ?? c).text));
    for (let i = split; i < rows.length; i++) each(rows[i], this.rows[rows[i] - lazy.count].text);
  }

  /** Each row's seq; reads no records when the snapshot stores them apart. Cached until the next change. */
  rowSeqs(): Uint32Array {
    if (this.cache.seqs) return this.cache.seqs;
    const lazy = this.lazy;
    let seqs: Uint32Array;
    if (lazy && lazy.seqs) {
      seqs = new Uint32Array(this.size);
      seqs.set(lazy.seqs);
      this.rows.forEach((c, i) => (seqs[lazy.count + i] = c.seq));
    } else {
      seqs = Uint32Array.from(this.chunks, (c) => c.seq);
    }
    return (this.cache.seqs = seqs);
  }

  /**
   * The row of the chunk with this id, or -1. A library still on disk answers
   * from its id table and the record or two it names; otherwise a map of every
   * id is built on first use and kept up to date by appends.
   */
  rowOf(id: string): number {
    const lazy = this.lazy;
    if (lazy) {
      const appended = this.idRows?.get(id);
      if (appended !== undefined) return appended;
      const candidates = lazy.idCandidates(id);
      if (candidates !== null) {
        for (const row of candidates) if (this.chunkAt(row).id === id) return row;
        return -1;
      }
    }
    if (!this.idRows || this.lazy) {
      const rows = this.chunks;
      this.idRows = new Map();
      for (let r = 0; r < rows.length; r++) this.idRows.set(rows[r].id, r);
    }
    return this.idRows.get(id) ?? -1;
  }

  /** The document a chunk names, or null; the way to reach a chunk's document metadata (filters: `doc.KEY`). */
  documentOf(chunk: Chunk): Document | null {
    return chunk.doc_id === undefined ? null : (this.documents.get(chunk.doc_id) ?? null);
  }

  /** How many chunks name each document (reads every record); documents without chunks are absent. */
  documentChunkCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.chunks) if (c.doc_id !== undefined) counts.set(c.doc_id, (counts.get(c.doc_id) ?? 0) + 1);
    return counts;
  }

  /** The live rows, row-major; a view, not a copy. */
  vectors(): Float32Array {
    this.materialize();
    return this.store.subarray(0, this.size * this.dim);
  }

  vectorAt(row: number): Float32Array {
    const base = this.lazy && row >= this.lazy.count ? this.lazy.count : 0;
    if (base === 0) this.materialize();
    return this.store.subarray((row - base) * this.dim, (row - base + 1) * this.dim);
  }

  /** A copy of row's vector; a library still on disk reads just that row (to compare, not to change). */
  readVector(row: number): Float32Array {
    const lazy = this.lazy;
    if (!lazy || row >= lazy.count) return this.vectorAt(row).slice();
    const out = new Float32Array(this.dim);
    lazy.readVectors(out, 0, row, row + 1);
    return out;
  }

  /** Rejects vectors this library's metric cannot rank. */
  checkVector(v: Float32Array, where?: string): void {
    if (this.metric === 'cosine' && norm(v, 0, v.length) === 0) {
      const msg = 'embedding is all zeros; cosine distance needs a non-zero vector';
      throw new InvalidInput(where ? `${where}: ${msg}` : msg);
    }
  }

  /**
   * Starts recording chunk changes for the store (see ChunkChanges). Every
   * change to a chunk must go through append, replaceVector, removeRows or
   * markEdited while recording, or the store's log would miss it.
   */
  trackChanges(): void {
    this.changes = { baseSize: this.size, removedRows: [], removedIds: [], edited: new Map(), appended: 0, complex: false, documents: null };
    this.documents.trackChanges();
  }

  /** Stops recording and returns what was recorded (null if not recording). */
  takeChanges(): ChunkChanges | null {
    const c = this.changes;
    this.changes = null;
    const docs = this.documents.takeChanges();
    if (c) c.documents = docs;
    return c;
  }

  /** Records that the chunk at `row` had its text, metadata, tags or timestamps changed. */
  markEdited(row: number): void {
    this.columns.edited(row);
    this.cache.filtered = undefined;
    const j = this.changes;
    if (j && row < this.size - j.appended) j.edited.set(this.chunks[row], row);
  }

  /**
   * Appends chunks with their vectors (already validated): one array per
   * chunk, or one row-major block of them all, which a library without rows
   * takes as it is (no copy: an import of a million rows holds them once).
   */
  append(chunks: Chunk[], vectors: Float32Array[] | Float32Array): void {
    // While the rows are on disk, `store` holds only the rows appended since.
    const held = this.rows.length;
    const dim = this.dim;
    if (vectors instanceof Float32Array && held === 0 && !this.lazy && chunks.length > 0) {
      this.store = vectors;
    } else {
      const need = (held + chunks.length) * dim;
      if (need > this.store.length) {
        const grown = new Float32Array(Math.max(need, Math.ceil(this.store.length * 1.5)));
        grown.set(this.store.subarray(0, held * dim));
        this.store = grown;
      }
      if (vectors instanceof Float32Array) this.store.set(vectors.subarray(0, chunks.length * dim), held * dim);
      else chunks.forEach((c, i) => this.store.set(vectors[i], (held + i) * dim));
    }
    const first = this.size;
    for (const c of chunks) {
      c.seq = this.nextSeq++;
      this.rows.push(c);
    }
    if (this.idRows || this.lazy) {
      const ids = (this.idRows ??= new Map());
      chunks.forEach((c, i) => ids.set(c.id, first + i));
    }
    if (this.changes) this.changes.appended += chunks.length;
    this.columns.appended(chunks.length);
    this.changed();
  }

  replaceVector(row: number, v: Float32Array): void {
    this.materialize();
    this.store.set(v, row * this.dim);
    this.renew(row);
  }

  /** Gives the chunk at `row` a fresh seq: call when its text changed (replaceVector does it for vectors). */
  renew(row: number): void {
    this.chunks[row].seq = this.nextSeq++;
    this.markEdited(row);
    this.changed();
  }

  /** Removes the given rows, keeping the others in order. */
  removeRows(rows: Set<number>): void {
    this.materialize();
    this.columns.removed([...rows].filter((r) => r >= 0 && r < this.size).sort((a, b) => a - b));
    const j = this.changes;
    if (j) {
      if (j.removedRows.length > 0 || j.appended > 0 || j.edited.size > 0) j.complex = true;
      else {
        j.removedRows = [...rows].filter((r) => r >= 0 && r < this.size).sort((a, b) => a - b);
        j.removedIds = j.removedRows.map((r) => this.chunks[r].id);
      }
    }
    let w = 0;
    const dim = this.dim;
    for (let r = 0; r < this.size; r++) {
      if (rows.has(r)) continue;
      if (w !== r) {
        this.chunks[w] = this.chunks[r];
        this.store.copyWithin(w * dim, r * dim, (r + 1) * dim);
      }
      w++;
    }
    // Zero what was removed so deleted vectors do not linger in memory.
    this.store.fill(0, w * dim, this.size * dim);
    this.chunks.length = w;
    this.idRows = null;
    this.changed();
  }

  /** Forget derived data after any change to chunks or vectors. */
  changed(): void {
    this.cache = {};
    this.revisions++;
  }

  setIndex(state: IndexState | null): void {
    this.indexState = state;
    this.changed();
  }

  /**
   * The rows a filter matches, from the filter columns (no chunk record is
   * read, but those of rows changed since the columns were built or loaded).
   * Cached per filter until the next change (`query --stdin` lines often share one).
   */
  filterRows(filter: Filter): RowBitmap {
    const memo = (this.cache.filtered ??= new Map());
    const key = JSON.stringify(filter);
    let bits = memo.get(key);
    if (!bits) {
      bits = evaluate(filter, this.docColumns.source(this.columns.source(this.size, (row) => subjectOf(this.chunkAt(row))), this.documentSource()));
      if (memo.size >= 16) memo.clear();
      memo.set(key, bits);
    }
    return bits;
  }

  /** What `doc.KEY` filters read: the library's documents (read whole on the first such filter). */
  private documentSource(): DocumentSource | null {
    return this.documents.size === 0 ? null : this.documents;
  }

  /** The filter columns of every row now, for a snapshot to store. */
  filterColumns(): ColumnSet {
    return this.columns.current(this.size, (row) => subjectOf(this.chunkAt(row)));
  }

  /** Rows as the indexes see them: unit rows for cosine. Cached until the next change. */
  prepared(): Float32Array {
    if (this.cache.prepared) return this.cache.prepared;
    if (!this.lazy) return (this.cache.prepared = prepareData(this.metric, this.vectors(), this.dim));
    const paged = this.pagedRows();
    paged.fillAll();
    return (this.cache.prepared = paged.data);
  }

  /** Every row in row order (slot i is row i), read in whole: what an index built from scratch covers. */
  rowSpace(): SearchSpace {
    return { metric: this.metric, dim: this.dim, data: this.prepared(), rows: this.size, slotToRow: null, fill: null, pages: null };
  }

  /** The search space for the current index, with dead slots mapped to -1. */
  searchSpace(): SearchSpace {
    if (this.cache.space) return this.cache.space;
    const state = this.indexState;
    let slotToRow: Int32Array | null = null;
    // The common cases, an index over every row in row order and one with rows appended since, are one native
    // compare (no O(n) JS loops on a cold start): slot s is row s.
    const slots = state?.slotSeqs.length ?? 0;
    if (state && slots > 0 && !(slots <= this.size && sameWords(state.slotSeqs, this.rowSeqs().subarray(0, slots)))) {
      const seqs = this.rowSeqs();
      const rowBySeq = new Int32Array(this.nextSeq).fill(-1);
      seqs.forEach((seq, r) => (rowBySeq[seq] = r));
      slotToRow = new Int32Array(slots);
      for (let s = 0; s < slots; s++) {
        const seq = state.slotSeqs[s];
        slotToRow[s] = seq < rowBySeq.length ? rowBySeq[seq] : -1;
      }
    }
    // HNSW reads a few hundred rows per query: a library still on disk serves them one by one.
    const paged = this.lazy && this.lazy.seqs && state?.type === 'hnsw' && !this.cache.prepared ? this.pagedRows() : null;
    const data = paged ? paged.data : this.prepared();
    return (this.cache.space = { metric: this.metric, dim: this.dim, data, rows: this.size, slotToRow, fill: paged?.fill ?? null, pages: paged?.pages ?? null });
  }

  /**
   * Reads into memory, in sequential passes, the index's arrays that queries
   * would otherwise read piece by piece, and with `rows` every prepared row
   * (an index update reads them all). Without it float rows stay paged: an
   * HNSW query re-scores a few candidates, and reading those one by one beat
   * reading all 100k rows of synth100k over 5,000 queries (and held 100 MB less).
   */
  preload(rows = false): void {
    this.indexState?.index.preload?.();
    if (rows) this.prepared();
  }

  /**
   * The exact k nearest rows to `q` (prepared with `prepareQuery`), nearest
   * first, as `scan` over every row ranks them, through the row codes
   * (index/rowcodes.ts): the codes are read (streamed at the first query,
   * whole after), the float rows only of the candidates they leave. null when
   * that cannot serve: no codes on disk, or the rows are in memory already (a
   * scan of them is as fast).
   */
  nearestByCodes(q: Float32Array, k: number): { keys: Int32Array; dists: Float64Array } | null {
    const lazy = this.lazy;
    if (!lazy || !lazy.codes || this.cache.prepared || lazy.count === 0) return null;
    let codes = this.cache.codes;
    if (codes === undefined) {
      try {
        // Without SIMD the float rows are scanned instead. The first query streams the codes (a process that
        // asks once, as a cold query does, never holds them); a second one reads them whole and keeps them.
        if (!simdAvailable()) codes = this.cache.codes = null;
        else if (!this.cache.codesStreamed) {
          codes = lazy.codes.stream();
          this.cache.codesStreamed = true;
        } else codes = this.cache.codes = lazy.codes.read();
      } catch (err) {
        // No address space for another memory: scan the float rows. Damage is reported.
        if (!(err instanceof RangeError)) throw err;
        codes = this.cache.codes = null;
      }
    }
    if (!codes) return null;
    // The candidates' rows and the appended ones, prepared in a block of their own: reading them into
    // a block of every row (pagedRows) would map memory for all of them, for a few hundred rows.
    const dim = this.dim;
    const candidates = codes.candidates(q, k);
    const appended = this.size - lazy.count;
    const m = candidates.length;
    const block = allocRows((m + appended) * dim, dim);
    for (let i = 0; i < m; i++) lazy.readVectors(block, i * dim, candidates[i], candidates[i] + 1);
    block.set(this.store.subarray(0, appended * dim), m * dim);
    prepareRows(this.metric, block, dim, 0, m + appended);
    for (let i = 0; i < m; i++) if (!codes.matches(candidates[i], block, i * dim)) lazy.codes.damaged(candidates[i]);
    // Distances depend on a row's values alone, so these are the scan's to the bit.
    const score = rowScorer(this.metric, q, block, dim);
    const top = new TopK(Math.min(k, this.size));
    for (let i = 0; i < m; i++) top.push(score(i), candidates[i]);
    for (let i = 0; i < appended; i++) top.push(score(m + i), lazy.count + i);
    return top.drain();
  }

  /** Prepared rows of a library still on disk, read as they are touched; appended rows are in place. */
  private pagedRows(): PagedRows {
    if (this.cache.paged) return this.cache.paged;
    const lazy = this.lazy as LazyRows;
    const dim = this.dim;
    const data = allocRows(this.size * dim, dim);
    data.set(this.store.subarray(0, this.rows.length * dim), lazy.count * dim);
    prepareRows(this.metric, data, dim, lazy.count, this.size);
    return (this.cache.paged = new PagedRows(lazy, this.metric, dim, data));
  }

  /** Rows the index structure does not answer for: added or re-embedded since the build. */
  unindexedRows(): number[] {
    if (this.cache.unindexed) return this.cache.unindexed;
    const state = this.indexState;
    const out: number[] = [];
    // Every seq is below nextSeq: an index built since the last write covers every row, with no pass over them.
    if (state && state.type !== 'linear' && state.coveredBelowSeq < this.nextSeq) {
      const covered = state.coveredBelowSeq;
      const seqs = this.rowSeqs();
      // Stored rows with ascending seqs: those covered come first, found by bisection (no pass over every row).
      let from = 0;
      let to = this.lazy?.seqsAscending ? this.lazy.count : 0;
      while (from < to) {
        const mid = (from + to) >>> 1;
        if (seqs[mid] < covered) from = mid + 1;
        else to = mid;
      }
      for (let r = from; r < seqs.length; r++) if (seqs[r] >= covered) out.push(r);
    }
    return (this.cache.unindexed = out);
  }

  indexView(): IndexView | null {
    const state = this.indexState;
    if (!state) return null;
    const kind = INDEX_KINDS[state.type];
    const unindexed = this.unindexedRows().length;
    let stale = 0;
    const space = this.searchSpace();
    if (space.slotToRow) for (const row of space.slotToRow) if (row < 0) stale++;
    return {
      type: state.type,
      exact: kind.exact,
      params: state.params ?? state.index.params(),
      built_at: state.built_at,
      indexed: state.type === 'linear' ? this.size : state.slotSeqs.length - stale,
      unindexed,
      stale,
    };
  }

  /** What a library is, as snapshots and exports store it (the view adds counts and the index). */
  fields(): LibraryFields {
    const { id, name, dim, metric, embedder, metadata, created_at, updated_at } = this;
    return { id, name, dim, metric, embedder, metadata, created_at, updated_at };
  }

  view(): LibraryView {
    return {
      id: this.id,
      name: this.name,
      dim: this.dim,
      metric: this.metric,
      embedder: this.embedder,
      metadata: this.metadata,
      chunk_count: this.size,
      document_count: this.documents.size,
      index: this.indexView(),
      text_index: this.text.view(this.rowSeqs()),
      created_at: this.created_at,
      updated_at: this.updated_at,
    };
  }

  chunkView(row: number, withEmbedding = false): ChunkView {
    const c = this.chunkAt(row);
    const v: ChunkView = {
      id: c.id,
      lib_id: this.id,
      doc_id: c.doc_id ?? null,
      text: c.text,
      metadata: c.metadata,
      tags: c.tags,
      created_at: c.created_at,
      updated_at: c.updated_at,
    };
    if (withEmbedding) v.embedding = Array.from(this.vectorAt(row));
    return v;
  }
}

/**
 * Rows read from disk into a prepared block as a search touches them, or all
 * at once for a scan: page by page through RowPages (which worker threads can
 * share) when the vectors have a page table, else row by row.
 */
class PagedRows {
  /** null: no page table, rows are read one by one on this thread (`done` marks them). */
  readonly pages: RowPages | null;
  private readonly done: Uint8Array | null;
  private whole = false;

  constructor(
    private readonly lazy: LazyRows,
    private readonly metric: Library['metric'],
    private readonly dim: number,
    readonly data: Float32Array,
  ) {
    const file = lazy.vectorPages();
    this.pages = file && RowPages.open(file.source, lazy.count, dim, metric, data, (what) => file.damaged(what), () => file.hold());
    this.done = this.pages ? null : new Uint8Array(lazy.count);
  }

  /** Makes `row` readable in `data`. */
  readonly fill = (row: number): void => {
    if (this.pages) return this.pages.fill(row);
    if (this.whole || row >= this.lazy.count || this.done![row] === 1) return;
    this.lazy.readVectors(this.data, row * this.dim, row, row + 1);
    prepareRows(this.metric, this.data, this.dim, row, row + 1);
    this.done![row] = 1;
  };

  fillAll(): void {
    if (this.pages) return this.pages.fillAll();
    if (this.whole) return;
    // Rows read singly are read again: every row then goes through the same preparation once.
    this.lazy.readVectors(this.data, 0, 0, this.lazy.count);
    prepareRows(this.metric, this.data, this.dim, 0, this.lazy.count);
    this.whole = true;
  }
}

/**
 * Where a database stands as a replica in a cluster (vdb serve --cluster):
 * the cluster it belongs to and the last entry of the cluster's log applied
 * to it. Committed together with the change that entry made.
 */
export interface Replication {
  cluster_id: string;
  applied_seq: number;
}

export class Database {
  libraries: Library[] = [];
  /** Counter behind generated ids; persisted so seeded ids never repeat. */
  nextId = 0;
  /** Set on a cluster node's database; null for a standalone one. */
  replication: Replication | null = null;
  /** Generated ids handed out for a change not yet applied, so one batch never repeats an id. */
  private claimed = new Set<string>();

  /** Finds a library by id or unique name. */
  library(ref: string): Library {
    const lib = this.libraries.find((l) => l.id === ref) ?? this.libraries.find((l) => l.name === ref);
    if (!lib) throw new NotFound(`library ${quote(ref)} not found`, { hint: 'see vdb lib list' });
    return lib;
  }

  hasLibraryName(name: string): boolean {
    return this.libraries.some((l) => l.name === name);
  }

  /**
   * Finds a chunk by id: in library `libRef` when given, else in whichever
   * library holds it.
   * @throws NotFound; UsageError when no library is given and several hold the id
   */
  chunk(id: string, libRef?: string): { lib: Library; row: number } {
    if (libRef !== undefined) {
      const lib = this.library(libRef);
      const row = lib.rowOf(id);
      if (row < 0) throw new NotFound(`chunk ${quote(id)} not found in library ${quote(lib.name)}`, { hint: `see vdb chunk list --lib ${lib.name}` });
      return { lib, row };
    }
    const found: { lib: Library; row: number }[] = [];
    for (const lib of this.libraries) {
      const row = lib.rowOf(id);
      if (row >= 0) found.push({ lib, row });
    }
    if (found.length === 0) throw new NotFound(`chunk ${quote(id)} not found`, { hint: 'see vdb chunk list --lib LIB' });
    if (found.length > 1) throw ambiguous('chunk', id, found.map((f) => f.lib));
    return found[0];
  }

  /**
   * Finds a document by id, as `chunk` finds a chunk.
   * @throws NotFound; UsageError when no library is given and several hold the id
   */
  document(id: string, libRef?: string): { lib: Library; doc: Document } {
    const libs = libRef !== undefined ? [this.library(libRef)] : this.libraries;
    const found: { lib: Library; doc: Document }[] = [];
    for (const lib of libs) {
      const doc = lib.documents.get(id);
      if (doc) found.push({ lib, doc });
    }
    if (found.length === 0) {
      const where = libRef !== undefined ? ` in library ${quote(libs[0].name)}` : '';
      throw new NotFound(`document ${quote(id)} not found${where}`, { hint: `see vdb doc list --lib ${libRef !== undefined ? libs[0].name : 'LIB'}` });
    }
    if (found.length > 1) throw ambiguous('document', id, found.map((f) => f.lib));
    return found[0];
  }

  /** Whether `id` is taken anywhere: by a library, a chunk or a document, or claimed for the change under way. */
  hasId(id: string): boolean {
    return this.claimed.has(id) || this.libraries.some((l) => l.id === id || l.rowOf(id) >= 0 || l.documents.has(id));
  }

  /** Reserves a generated id until the change is applied (see changed()). */
  claimId(id: string): void {
    this.claimed.add(id);
  }

  /** Call after adding or removing chunks, documents or libraries. */
  changed(): void {
    this.claimed.clear();
  }
}

/** An id or name in a message: JSON-quoted, so any character shows on one line. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** Equal as JSON, key order included: the snapshot would store the same. */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Equal bit for bit (so -0 differs from 0): the snapshot would store the same. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function ambiguous(what: string, id: string, libs: Library[]): UsageError {
  const names = libs.map((l) => quote(l.name)).join(', ');
  return new UsageError(`${what} id ${quote(id)} is in ${libs.length} libraries (${names}); say which`, {
    hint: `give --lib LIB, or use /api/v1/libraries/{lib}/${what === 'chunk' ? 'chunks' : 'documents'}/{id}`,
  });
}

/** True when the two arrays hold the same numbers (memcmp of their bytes). */
function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
