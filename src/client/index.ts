/**
 * `vdb/client`: the typed REST client with the error classes and wire types,
 * and nothing that touches the file system.
 */
export { ApiError, VdbClient } from './client.js';
export type { ClientOptions, PageOptions } from './client.js';
export {
  BadRequest,
  Conflict,
  CorruptSnapshot,
  EXIT_CODES,
  HTTP_STATUS,
  InvalidInput,
  Locked,
  NotFound,
  PayloadTooLarge,
  StorageError,
  Unauthorized,
  Unavailable,
  UnsupportedMediaType,
  UsageError,
  VdbError,
} from '../domain/errors.js';
export type { ErrorCode, ErrorOptions } from '../domain/errors.js';
export { DEFAULT_K, MAX_EF, MAX_K, ON_CONFLICT } from '../domain/types.js';
export type { DocumentPatch, DocumentView, NewDocument } from '../domain/documents.js';
export type {
  AddOutcome,
  BuildReport,
  ChunkPatch,
  ChunkView,
  CompactView,
  Hit,
  IndexBuildView,
  IndexType,
  IndexView,
  LibraryFields,
  LibraryPatch,
  LibraryView,
  Metadata,
  Metric,
  NewChunk,
  NewLibrary,
  OnConflict,
  QueryInput,
  QueryResult,
} from '../domain/types.js';
export type {
  BuildIndexRequest,
  ChunkListView,
  ChunkPageView,
  ChunkPatchRequest,
  DocumentPageView,
  DocumentPatchRequest,
  IndexInfo,
  LibraryPageView,
  LibraryPatchRequest,
  NewChunkRequest,
  NewDocumentRequest,
  NewLibraryRequest,
  QueryRequest,
} from '../domain/wire.js';
