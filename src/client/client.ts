/**
 * A small typed client for `vdb serve`, on the global fetch. Bodies and
 * results are the REST wire types (the same as `vdb … --json`); a non-2xx
 * answer throws ApiError carrying the server's `{"error": {"code", "message"}}`.
 *
 *   const vdb = new VdbClient('http://127.0.0.1:8000', { apiKey: process.env.VDB_API_KEY });
 *   const lib = await vdb.createLibrary({ name: 'docs' });
 *   await vdb.addChunk({ lib_id: lib.id, text: 'hello vector world' });
 *   const { hits } = await vdb.query(lib.id, { text: 'hello', k: 3 });
 */
import type { ErrorCode } from '../domain/errors.js';
import { VdbError } from '../domain/errors.js';
import type { DocumentView } from '../domain/documents.js';
import type { ChunkView, IndexBuildView, LibraryView, OnConflict, QueryResult, TextBuildReport } from '../domain/types.js';
import type {
  BuildIndexRequest,
  ChunkListRequest,
  ChunkListView,
  ChunkPageView,
  ClusterStatusView,
  CountRequest,
  CountView,
  DeletedView,
  DeleteWhereRequest,
  ChunkPatchRequest,
  DocumentListView,
  DocumentPageView,
  DocumentPatchRequest,
  NewDocumentRequest,
  IndexInfo,
  LibraryPageView,
  LibraryPatchRequest,
  NewChunkRequest,
  NewLibraryRequest,
  QueryRequest,
  ReplaceDocumentRequest,
  ImportBatchRequest,
  ImportCheckRequest,
  ImportedLibraryReport,
  ReplaceFailureView,
  ReplaceResultView,
} from '../domain/wire.js';

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Per-request timeout in milliseconds; default 30 000. */
  timeoutMs?: number;
  /**
   * Reads from a cluster node: `strong` waits until the node applied every
   * write committed when the read arrived (read-your-writes on any node);
   * `local` (the server's default) answers from the node's replica at once.
   */
  consistency?: 'strong' | 'local';
}

export interface PageOptions {
  offset?: number;
  limit?: number;
}

/** A non-2xx answer: `code` is the server's error code, `status` the HTTP status. */
export class ApiError extends VdbError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

export class VdbClient {
  private readonly base: string;

  /** @param baseUrl the server's root, e.g. `http://127.0.0.1:8000` (without /api/v1) */
  constructor(
    baseUrl: string,
    private readonly options: ClientOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  health(): Promise<{ status: 'ok' }> {
    return this.call('GET', '/healthz');
  }

  // ---- libraries ---------------------------------------------------------

  createLibrary(body: NewLibraryRequest): Promise<LibraryView> {
    return this.call('POST', '/api/v1/libraries', body);
  }

  listLibraries(page: PageOptions = {}): Promise<LibraryPageView> {
    return this.call('GET', `/api/v1/libraries${this.read({ ...page })}`);
  }

  /** @param lib library id or name */
  getLibrary(lib: string): Promise<LibraryView> {
    return this.call('GET', `/api/v1/libraries/${enc(lib)}${this.read({})}`);
  }

  updateLibrary(lib: string, patch: LibraryPatchRequest): Promise<LibraryView> {
    return this.call('PATCH', `/api/v1/libraries/${enc(lib)}`, patch);
  }

  deleteLibrary(lib: string): Promise<LibraryView> {
    return this.call('DELETE', `/api/v1/libraries/${enc(lib)}`);
  }

  // ---- chunks --------------------------------------------------------------

  /** The seed's single-chunk insert, `POST /api/v1/chunks/`; `on_conflict` for an id that exists. */
  addChunk(body: NewChunkRequest & { lib_id: string; on_conflict?: OnConflict }): Promise<ChunkView> {
    return this.call('POST', '/api/v1/chunks', body);
  }

  /** Adds all the chunks or, if any is invalid, none. */
  async addChunks(lib: string, chunks: NewChunkRequest[], onConflict?: OnConflict): Promise<ChunkView[]> {
    return (await this.putChunks(lib, chunks, onConflict)).chunks;
  }

  /** `addChunks`, with how many were added, replaced, unchanged and skipped. */
  putChunks(lib: string, chunks: NewChunkRequest[], onConflict?: OnConflict): Promise<ChunkListView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/chunks`, { chunks, on_conflict: onConflict });
  }

  listChunks(lib: string, page: PageOptions & { withEmbedding?: boolean } = {}): Promise<ChunkPageView> {
    const { withEmbedding, ...rest } = page;
    return this.call('GET', `/api/v1/libraries/${enc(lib)}/chunks${this.read({ ...rest, with_embedding: withEmbedding })}`);
  }

  /** @param lib the chunk's library; needed when several libraries hold the id */
  getChunk(id: string, withEmbedding = false, lib?: string): Promise<ChunkView> {
    return this.call('GET', `${chunkPath(id, lib)}${this.read({ with_embedding: withEmbedding || undefined })}`);
  }

  updateChunk(id: string, patch: ChunkPatchRequest, lib?: string): Promise<ChunkView> {
    return this.call('PATCH', chunkPath(id, lib), patch);
  }

  deleteChunk(id: string, lib?: string): Promise<ChunkView> {
    return this.call('DELETE', chunkPath(id, lib));
  }

  // ---- documents -------------------------------------------------------------

  /** `on_conflict` in the body says what to do when the id exists. */
  addDocument(lib: string, body: NewDocumentRequest = {}): Promise<DocumentView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/documents`, body);
  }

  listDocuments(lib: string, page: PageOptions = {}): Promise<DocumentPageView> {
    return this.call('GET', `/api/v1/libraries/${enc(lib)}/documents${this.read({ ...page })}`);
  }

  getDocument(lib: string, id: string): Promise<DocumentView> {
    return this.call('GET', `/api/v1/libraries/${enc(lib)}/documents/${enc(id)}${this.read({})}`);
  }

  updateDocument(lib: string, id: string, patch: DocumentPatchRequest): Promise<DocumentView> {
    return this.call('PATCH', `/api/v1/libraries/${enc(lib)}/documents/${enc(id)}`, patch);
  }

  /** Deletes the document and every chunk in it; `chunk_count` says how many. */
  deleteDocument(lib: string, id: string): Promise<DocumentView> {
    return this.call('DELETE', `/api/v1/libraries/${enc(lib)}/documents/${enc(id)}`);
  }

  /** Deletes all the chunks or, if any id is unknown, none; `lib` names their library (needed when several hold an id). */
  async deleteChunks(ids: string[], lib?: string): Promise<ChunkView[]> {
    return (await this.call<{ chunks: ChunkView[] }>('POST', '/api/v1/chunks/delete', { ids, lib })).chunks;
  }

  /** Adds all the documents or, if any is invalid, none. */
  addDocuments(lib: string, documents: NewDocumentRequest[], onConflict?: OnConflict): Promise<DocumentListView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/documents/batch`, { documents, on_conflict: onConflict });
  }

  /** Each document with exactly these chunks (`isolate`: invalid ones left out and reported). */
  replaceDocuments(lib: string, documents: ReplaceDocumentRequest[], isolate?: boolean): Promise<{ results: (ReplaceResultView | ReplaceFailureView)[] }> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/documents/replace`, { documents, isolate });
  }

  /** Stores the full-text index brought up to date (`whenWorthIt`: only if worth it; else null). */
  async storeTextIndex(lib: string, whenWorthIt?: boolean): Promise<TextBuildReport | null> {
    return (await this.call<{ text_build: TextBuildReport | null }>('POST', `/api/v1/libraries/${enc(lib)}/text-index`, { when_worth_it: whenWorthIt })).text_build;
  }

  /** The checks before an import's first batch (vdb import --remote); answers 204-like {} when they pass. */
  async checkImport(body: ImportCheckRequest): Promise<void> {
    await this.call('POST', '/api/v1/import/check', body);
  }

  /** One batch of an import, as one atomic change. */
  importBatch(body: ImportBatchRequest): Promise<ImportedLibraryReport> {
    return this.call('POST', '/api/v1/import/batch', body);
  }

  /** Deletes all the documents (and their chunks) or, if any id is unknown, none. */
  async deleteDocuments(lib: string, ids: string[]): Promise<DocumentView[]> {
    return (await this.call<{ documents: DocumentView[] }>('POST', `/api/v1/libraries/${enc(lib)}/documents/delete`, { ids })).documents;
  }

  /** A page of the chunks matching `{filter?, where?}` (README "Filters"); `total` counts the matches. */
  listMatching(lib: string, body: ChunkListRequest): Promise<ChunkPageView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/chunks/list`, body);
  }

  /** How many chunks match `{filter?, where?}` (all of them for `{}`). */
  count(lib: string, body: CountRequest = {}): Promise<CountView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/count`, body);
  }

  /** Deletes every chunk matching the filter, atomically; `{"filter": {}}` deletes them all. */
  deleteMatching(lib: string, body: DeleteWhereRequest): Promise<DeletedView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/chunks/delete`, body);
  }

  // ---- index and queries -------------------------------------------------------

  /** `{}` updates the current index (or builds a linear one); `{type: 'kdtree', leaf_size: 32}`, `{full: true}` etc. */
  buildIndex(lib: string, body: BuildIndexRequest = {}): Promise<IndexBuildView> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/index`, body);
  }

  indexInfo(lib: string): Promise<IndexInfo> {
    return this.call('GET', `/api/v1/libraries/${enc(lib)}/index${this.read({})}`);
  }

  query(lib: string, body: QueryRequest): Promise<QueryResult> {
    return this.call('POST', `/api/v1/libraries/${enc(lib)}/query${this.read({})}`, body);
  }

  // ---- export --------------------------------------------------------------------

  /**
   * The export of `libs` (ids or names; all when empty) as `vdb export` writes
   * it, NDJSON text in pieces as the server streams them. The timeout applies
   * until the answer starts; a stream cut short throws ApiError `unavailable`.
   */
  async *exportNdjson(libs: string[] = []): AsyncGenerator<string> {
    const params = new URLSearchParams(libs.map((l): [string, string] => ['lib', l]));
    if (this.options.consistency !== undefined) params.set('consistency', this.options.consistency);
    const qs = params.toString();
    const path = `/api/v1/export${qs ? `?${qs}` : ''}`;
    const started = new AbortController();
    const timer = setTimeout(() => started.abort(new DOMException('no answer', 'TimeoutError')), this.options.timeoutMs ?? 30_000);
    let res: Response;
    try {
      res = await this.send('GET', path, undefined, started.signal);
    } finally {
      clearTimeout(timer);
    }
    const text = new TextDecoder();
    try {
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) yield text.decode(piece, { stream: true });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new ApiError(0, 'unavailable', `the export from ${this.base} was cut short (${e.cause?.code ?? e.cause?.message ?? e.message}): what arrived is incomplete`);
    }
    const rest = text.decode();
    if (rest) yield rest;
  }

  // ---- cluster -------------------------------------------------------------------

  /** The cluster as the node sees it (`{"mode": "single", …}` from a server without --cluster). */
  clusterStatus(): Promise<ClusterStatusView> {
    return this.call('GET', '/api/v1/cluster');
  }

  // ---- transport -----------------------------------------------------------------

  /** A read's query string, with the consistency asked for. */
  private read(params: { [name: string]: number | boolean | string | undefined }): string {
    return query({ ...params, consistency: this.options.consistency });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const res = await this.send(method, path, body, AbortSignal.timeout(timeoutMs));
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.unreachable(method, path, err);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'internal', `${method} ${path}: HTTP ${res.status} with a body that is not JSON`);
    }
    return json as T;
  }

  /** The request's response once its status is 2xx; a non-2xx one throws its ApiError. */
  private async send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        // Embeddings may come as typed arrays (Float32Array): sent as plain arrays of their numbers.
        body: body === undefined ? undefined : JSON.stringify(body, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v)),
        signal,
      });
    } catch (err) {
      throw this.unreachable(method, path, err);
    }
    if (res.ok) return res;
    let err: { code?: ErrorCode; message?: string } | undefined;
    try {
      err = (JSON.parse(await res.text()) as { error?: { code?: ErrorCode; message?: string } } | undefined)?.error;
    } catch {
      throw new ApiError(res.status, 'internal', `${method} ${path}: HTTP ${res.status} with a body that is not JSON`);
    }
    throw new ApiError(res.status, err?.code ?? 'internal', err?.message ?? `${method} ${path}: HTTP ${res.status}`);
  }

  private unreachable(method: string, path: string, err: unknown): ApiError {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs ?? 30_000} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    const unknown = method === 'GET' || path.endsWith('/query') ? '' : ': the write may or may not have been made';
    return new ApiError(0, 'unavailable', `cannot reach ${this.base} (${why})${unknown}`);
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function chunkPath(id: string, lib?: string): string {
  return lib === undefined ? `/api/v1/chunks/${enc(id)}` : `/api/v1/libraries/${enc(lib)}/chunks/${enc(id)}`;
}

function query(params: { [name: string]: number | boolean | string | undefined }): string {
  const entries = Object.entries(params).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]]));
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}
