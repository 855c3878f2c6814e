/**
 * vdb as a library (`import { … } from 'vdb'`): the service that every command
 * runs on, for embedding vdb in a Node program; the typed client of `vdb serve`;
 * the error classes; the wire types that `--json` and the REST API share.
 * `vdb/client` has the client alone, without loading the storage engine.
 * README.md, "Use vdb from Node", shows both.
 */
export { VdbService, QuerySession, clockFromEnv } from './service/service.js';
export type { AddOptions, BuildRequest, PreparedQuery, Progress, PutResult, ServiceOptions, SessionOptions } from './service/service.js';
export type { AddDocumentOptions, DocumentService } from './service/documents.js';
export { TransferService } from './service/transfer.js';
export type { ImportedLibraryReport, ImportOptions } from './service/transfer.js';
export { ImportReader } from './transfer/format.js';
export type { LockOptions } from './store/lock.js';
export type { StoreTuning } from './store/store.js';
export * from './client/index.js';
