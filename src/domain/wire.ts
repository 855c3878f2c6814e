/**
 * REST request bodies and list pages as plain types, for the client and the
 * library API (`import type { … } from 'vdb'`): their .d.ts need no TypeBox.
 * server/schemas.ts checks at compile time that its schemas accept exactly these.
 */
import type { DocumentView } from './documents.js';
import type { ErrorCode } from './errors.js';
import type { AddOutcome, BuildReport, TextBuildReport } from './types.js';
import type { ChunkView, FusionMethod, IndexType, IndexView, LibraryView, Metadata, Metric, OnConflict, SearchMode, TextIndexView } from './types.js';

/** `POST /api/v1/libraries`. */
export interface NewLibraryRequest {
  name: string;
  dim?: number;
  metric?: Metric;
  /** `letters` (the default without dim), or null for explicit embeddings only. */
  embedder?: string | null;
  metadata?: Metadata;
}

/** `PATCH /api/v1/libraries/{lib}`: at least one field. */
export interface LibraryPatchRequest {
  name?: string;
  metadata?: Metadata;
}

/** `PATCH /api/v1/chunks/{id}`: at least one field; a new text is re-embedded; `doc_id: null` takes it out of its document. */
export interface ChunkPatchRequest {
  doc_id?: string | null;
  text?: string;
  embedding?: number[];
  metadata?: Metadata;
  tags?: string[];
}

/**
 * One chunk of `POST /api/v1/libraries/{lib}/chunks`; with `lib_id` (and
 * `on_conflict`), the body of `POST /api/v1/chunks`. `id`: your own, unique in
 * the library (printable, at most 256 UTF-8 bytes); generated when absent.
 */
export interface NewChunkRequest extends ChunkPatchRequest {
  id?: string;
}

/** `POST /api/v1/libraries/{lib}/documents`; `id` as for chunks, generated (`doc_…`) when absent. */
export interface NewDocumentRequest {
  id?: string;
  title?: string | null;
  metadata?: Metadata;
  on_conflict?: OnConflict;
}

/** One document of `POST /api/v1/libraries/{lib}/documents/replace`: the document afterwards, with exactly these chunks. */
export interface ReplaceDocumentRequest {
  id: string;
  title?: string | null;
  metadata?: Metadata;
  chunks: NewChunkRequest[];
}

/** What became of a replaced document. */
export interface ReplaceResultView {
  id: string;
  document: 'added' | 'replaced' | 'unchanged';
  chunks: { added: number; replaced: number; unchanged: number; removed: number };
}

/** A document the replace left out (`isolate`), and why. */
export interface ReplaceFailureView {
  id: string;
  error: { code: ErrorCode; message: string; hint?: string };
}

/** `PATCH /api/v1/libraries/{lib}/documents/{id}`: at least one field. */
export interface DocumentPatchRequest {
  title?: string | null;
  metadata?: Metadata;
}

/** `POST /api/v1/libraries/{lib}/index`: `{}`, or a type with its options (`leaf_size`, `m`, …) as numbers. */
export interface BuildIndexRequest {
  type?: IndexType;
  full?: boolean;
  /** true: build the full-text index too (or bring it up to date); false: leave it; absent: bring it up to date if there is one. */
  text?: boolean;
  [option: string]: number | boolean | string | undefined;
}

/** The filter of a request (docs/filters.md): JSON and shorthand, all of it must hold. */
export interface FilterFields {
  /** A JSON filter, e.g. `{"lang": "en", "year": {"$gte": 2020}}`. */
  filter?: unknown;
  /** Shorthand expressions, e.g. `"lang=en"`, `["tag=faq", "year>=2020"]`. */
  where?: string | string[];
}

/** `POST /api/v1/libraries/{lib}/query`: an embedding or a text (hybrid: both on a library without an embedder). */
export interface QueryRequest extends FilterFields {
  embedding?: number[];
  text?: string;
  k?: number;
  ef?: number;
  mode?: SearchMode;
  fusion?: FusionMethod;
  alpha?: number;
  /** Add `explain` to the answer: which plan ran and why. */
  explain?: boolean;
}

/** `POST /api/v1/libraries/{lib}/chunks/list`: a page of the matching chunks. */
export interface ChunkListRequest extends FilterFields {
  offset?: number;
  limit?: number;
  with_embedding?: boolean;
}

/** `POST /api/v1/libraries/{lib}/count`. */
export type CountRequest = FilterFields;

/** `POST /api/v1/libraries/{lib}/chunks/delete`: a filter is required (`{"filter": {}}` matches every chunk). */
export interface DeleteWhereRequest extends FilterFields {
  dry_run?: boolean;
  /** Answer with the deleted chunks too (as `vdb chunk delete --json` prints them). */
  with_chunks?: boolean;
}

/** `…/count`. */
export interface CountView {
  lib_id: string;
  count: number;
}

/** `POST …/chunks/delete`: the chunks deleted (or, with dry_run, that would be). */
export interface DeletedView {
  deleted: number;
  ids: string[];
  /** With `with_chunks`. */
  chunks?: ChunkView[];
}

/** `GET /api/v1/libraries/{lib}/index`, as `vdb index show --json`. */
export interface IndexInfo {
  lib_id: string;
  chunk_count: number;
  index: IndexView | null;
  /** The full-text index; null: none was built (text queries index every chunk in memory). */
  text_index: TextIndexView | null;
}

interface Page {
  total: number;
  offset: number;
  limit: number;
}

/** `GET /api/v1/libraries`. */
export interface LibraryPageView extends Page {
  libraries: LibraryView[];
}

/** `GET /api/v1/libraries/{lib}/chunks`. */
export interface ChunkPageView extends Page {
  chunks: ChunkView[];
}

/** `GET /api/v1/libraries/{lib}/documents`. */
export interface DocumentPageView extends Page {
  documents: DocumentView[];
}

/** `POST /api/v1/libraries/{lib}/chunks`: the chunks in input order, and what became of them. */
export interface ChunkListView {
  chunks: ChunkView[];
  added: number;
  replaced: number;
  unchanged: number;
  skipped: number;
}

/** `POST /api/v1/libraries/{lib}/documents/batch`: the documents in input order, and what became of them. */
export interface DocumentListView {
  documents: DocumentView[];
  added: number;
  replaced: number;
  unchanged: number;
  skipped: number;
}

/** One node as `GET /api/v1/cluster` reports it. */
export interface ClusterNodeView {
  node_id: string;
  /** Where the other nodes (and clients) reach it (--advertise). */
  url: string;
  role: 'leader' | 'follower';
  /** The last log entry applied to its replica. */
  applied_seq: number;
  /** Entries committed to the log and not yet applied there. */
  lag: number;
  /** ready: applying as entries come; catching_up: behind since it started; bootstrapping: copying a snapshot; stalled: cannot apply (see error). */
  state: 'catching_up' | 'bootstrapping' | 'ready' | 'stalled';
  error: string | null;
  started_at: string;
  /** When the node last reported (the node answering reports live values for itself). */
  updated_at: string;
}

/** `GET /api/v1/cluster`, as `vdb cluster status --json`. */
export interface ClusterStatusView {
  /** single: a server started without --cluster (every other field is null or empty). */
  mode: 'cluster' | 'single';
  cluster_id: string | null;
  /** The cluster's name: the prefix of its keys in etcd. */
  name: string | null;
  /** The node that answered. */
  node_id: string | null;
  leader: { node_id: string; url: string } | null;
  /** The leader's term: its election key's create revision in etcd; a new leader always has a larger one. */
  term: number | null;
  /** The last sequence appended to the log. */
  committed_seq: number | null;
  /** The sequence of the latest published snapshot (null: none yet); the log holds what came after the one before it. */
  snapshot_seq: number | null;
  nodes: ClusterNodeView[];
}

/** What `vdb import` did to one library (`vdb import --json`, the import routes). */
export interface ImportedLibraryReport {
  id: string;
  name: string;
  /** false: merged into a library of that name. */
  created: boolean;
  documents: Record<AddOutcome, number>;
  chunks: Record<AddOutcome, number>;
  /** The index build, or null when none was built. */
  index: BuildReport | null;
  /** The full-text index build, or null when the library has none. */
  text_index: TextBuildReport | null;
}

/** An export's record and its line number: how `vdb import --remote` sends what it read. */
export type NumberedRecordWire = [number, Record<string, unknown>];

/** `POST /api/v1/import/check`: the export's library lines, and the documents its chunks name from outside it. */
export interface ImportCheckRequest {
  records: NumberedRecordWire[];
  on_conflict?: OnConflict;
  outside?: Record<string, string[]>;
}

/** `POST /api/v1/import/batch`: one library line and some of its documents and chunks. */
export interface ImportBatchRequest {
  records: NumberedRecordWire[];
  on_conflict?: OnConflict;
  into?: { id: string; created: boolean };
  last: boolean;
  changed?: boolean;
}
