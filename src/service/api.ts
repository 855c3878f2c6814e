/**
 * What the CLI commands and the REST routes call: one interface, with one
 * implementation per place the data lives. VdbService works on a local
 * snapshot; RemoteService (src/client/remote.ts) on a server over REST;
 * ClusterNode (src/cluster/node.ts) reads its local replica and sends writes
 * through its cluster's log. Reads may answer at once or later (Awaitable):
 * callers await them all.
 */
import type {
  ChunkPatch,
  ChunkView,
  CompactView,
  IndexBuildView,
  LibraryPatch,
  LibraryView,
  NewChunk,
  NewLibrary,
  QueryInput,
  QueryResult,
} from '../domain/types.js';
import type { DocumentPatch, DocumentView, NewDocument } from '../domain/documents.js';
import type { AddOutcome } from '../domain/types.js';
import type { AddDocumentOptions } from './documents.js';
import type { DocumentReplacement, ReplaceFailure, ReplaceOptions, ReplaceResult } from './replace.js';
import type { AddOptions, BuildRequest, LineDefaults, MetadataTarget, Progress, PutResult, QuerySession, SessionOptions } from './service.js';
import type { Database } from '../domain/model.js';
import type { NumberedRecord } from '../transfer/format.js';
import type { ImportBatchOptions, ImportedLibraryReport } from './transfer.js';
import type { OnConflict } from '../domain/types.js';
import type { Metadata, TextBuildReport } from '../domain/types.js';
import type { FilterInput } from '../filter/parse.js';
import type { IndexInfo } from '../domain/wire.js';

export type Awaitable<T> = T | Promise<T>;

/**
 * Answers many queries against one library (`query --stdin`): prepare each
 * (it validates, and names the line in its error), then answer them together.
 */
export interface QueryRunner<P = unknown> {
  prepare(input: QueryInput, where?: string): Promise<P>;
  /** A hint: the texts of the queries about to be prepared, to embed in one go. */
  embedAhead(texts: string[]): Promise<void>;
  /**
   * A hint, before the first query: `inputBytes` of query lines are coming
   * (stdin is a file of that size), each in `defaults`' mode unless it names
   * its own. The session may read its index and start threads meanwhile.
   */
  warm(inputBytes: number, defaults?: LineDefaults): void;
  /** `ahead`: a hint, about how many queries will follow these (see QuerySession.queryBatch). */
  queryBatch(queries: P[], ahead?: number): Promise<QueryResult[]>;
  close(): Promise<void>;
}

export interface ChunkPageResult {
  total: number;
  chunks: ChunkView[];
}

export type IndexInfoResult = IndexInfo;

/** Documents: the same calls as DocumentService. */
export interface DocumentsApi {
  list(libRef: string, opts?: { offset?: number; limit?: number }): Awaitable<{ total: number; documents: DocumentView[] }>;
  get(id: string, libRef?: string): Awaitable<DocumentView>;
  add(libRef: string, items: NewDocument[], opts?: AddDocumentOptions): Promise<{ documents: DocumentView[]; outcomes: AddOutcome[] }>;
  update(id: string, patch: DocumentPatch, libRef?: string): Promise<DocumentView>;
  delete(ids: string[], libRef?: string): Promise<DocumentView[]>;
  /** Each document with exactly these chunks (replace.ts): atomic per call locally, per log entry on a cluster. */
  replace(libRef: string, items: DocumentReplacement[], opts?: ReplaceOptions): Promise<(ReplaceResult | ReplaceFailure)[]>;
}

export interface VdbApi {
  readonly documents: DocumentsApi;
  listLibraries(): Awaitable<LibraryView[]>;
  getLibrary(ref: string): Awaitable<LibraryView>;
  createLibrary(input: NewLibrary): Promise<LibraryView>;
  updateLibrary(ref: string, patch: LibraryPatch): Promise<LibraryView>;
  deleteLibrary(ref: string): Promise<LibraryView>;
  /** With a filter: a page of the matching chunks (`total` counts those). */
  listChunks(ref: string, opts?: { offset?: number; limit?: number; withEmbedding?: boolean; filter?: FilterInput }): Awaitable<ChunkPageResult>;
  countChunks(ref: string, filter?: FilterInput): Awaitable<{ lib_id: string; count: number }>;
  /** `libRef` names the chunk's library (needed when several hold the id). */
  getChunk(id: string, withEmbedding?: boolean, libRef?: string): Awaitable<ChunkView>;
  addChunks(ref: string, items: NewChunk[], opts?: AddOptions): Promise<ChunkView[]>;
  putChunks(ref: string, items: NewChunk[], opts?: AddOptions): Promise<PutResult>;
  updateChunk(id: string, patch: ChunkPatch, libRef?: string): Promise<ChunkView>;
  deleteChunks(ids: string[], libRef?: string): Promise<ChunkView[]>;
  /** Every chunk the filter matches, in one atomic change; `dryRun` only says which. */
  deleteWhere(ref: string, filter: FilterInput, opts?: { dryRun?: boolean }): Promise<ChunkView[]>;
  buildIndex(ref: string, req: BuildRequest, onProgress?: Progress): Promise<IndexBuildView>;
  /** Stores the full-text index brought up to date; `whenWorthIt`: only as search.ts textIndexWorthStoring says (else null). */
  storeTextIndex(ref: string, opts?: { whenWorthIt?: boolean }): Promise<TextBuildReport | null>;
  indexInfo(ref: string): Awaitable<IndexInfoResult>;
  query(ref: string, input: QueryInput): Promise<QueryResult>;
  querySession(ref: string, opts?: SessionOptions): Promise<QueryRunner>;
  compact(): Promise<CompactView>;
  /** An import sent in batches (transfer/batches.ts): the checks before the first write, on the data where it is. */
  checkImport(libraries: NumberedRecord[], opts: { onConflict?: OnConflict; outside?: Record<string, string[]> }): Promise<void>;
  /** One batch of an import: one library line and some of its documents and chunks, as one atomic change. */
  importBatch(records: NumberedRecord[], opts: ImportBatchOptions): Promise<ImportedLibraryReport>;
}

/**
 * A VdbApi whose data is on this machine (a single node's snapshot, a cluster
 * node's replica), as the Qdrant routes need it: they read a library directly
 * from `snapshot()` and write through these calls, which a cluster node sends
 * through its log like every other write.
 */
export interface LocalApi extends VdbApi {
  /** The data as of now. @throws Unavailable while a cluster node is still catching up */
  snapshot(): Database;
  /** A session over the library here, its Library at hand. */
  querySession(ref: string, opts?: SessionOptions): Promise<QuerySession>;
  /** Metadata written into the chunks picked by ids or a filter, in one atomic change (Qdrant's set/overwrite payload). */
  setMetadata(ref: string, target: MetadataTarget, values: Metadata, opts: { mode: 'merge' | 'replace'; path?: string[] }): Promise<{ updated: number }>;
  /** Keys removed from the metadata of the chunks picked (Qdrant's delete payload). */
  unsetMetadata(ref: string, target: MetadataTarget, paths: string[][]): Promise<{ updated: number }>;
}

export function isLocalApi(api: VdbApi): api is LocalApi {
  return typeof (api as Partial<LocalApi>).snapshot === 'function';
}
