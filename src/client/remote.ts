/**
 * VdbApi over REST (`vdb --remote URL …`): every CLI command that works on
 * data runs against a server (a single node or any node of a cluster) with
 * the output and exit codes it has on a local snapshot. The server's error
 * codes map back to the same exit codes (domain/errors.ts); bulk adds are one
 * request, all or nothing, as locally.
 */
import { InvalidInput, NotFound, renameItem, UsageError, VdbError } from '../domain/errors.js';
import { checkMetadata, checkTags, checkText, prefix } from '../domain/validate.js';
import type { ChunkPatch, ChunkView, IndexBuildView, LibraryPatch, LibraryView, NewChunk, NewLibrary, QueryInput, QueryResult, TextBuildReport } from '../domain/types.js';
import type { ChunkPageResult, DocumentsApi, IndexInfoResult, QueryRunner, VdbApi } from '../service/api.js';
import type { AddOptions, BuildRequest, PutResult } from '../service/service.js';
import type { AddOutcome, OnConflict } from '../domain/types.js';
import type { NumberedRecord } from '../transfer/format.js';
import type { ImportBatchOptions } from '../service/transfer.js';
import type { ImportedLibraryReport } from '../domain/wire.js';
import { VdbClient } from './client.js';
import type { ClientOptions } from './client.js';
import type { FilterFields, NewChunkRequest, NewDocumentRequest, QueryRequest, ReplaceDocumentRequest } from '../domain/wire.js';
import type { FilterInput } from '../filter/parse.js';

/** The server's largest page and bulk add (server/schemas.ts MAX_PAGE, MAX_BULK). */
const PAGE = 1000;
const MAX_BULK = 10_000;

export class RemoteService implements VdbApi {
  readonly client: VdbClient;

  constructor(
    readonly url: string,
    options: ClientOptions = {},
  ) {
    // A bulk add or an index build may take long on the server: no client-side cut-off below ten minutes.
    this.client = new VdbClient(url, { timeoutMs: 10 * 60_000, ...options });
  }

  async listLibraries(): Promise<LibraryView[]> {
    const out: LibraryView[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.client.listLibraries({ offset, limit: PAGE });
      out.push(...page.libraries);
      if (out.length >= page.total || page.libraries.length === 0) return out;
    }
  }

  getLibrary(ref: string): Promise<LibraryView> {
    return this.client.getLibrary(ref);
  }

  createLibrary(input: NewLibrary): Promise<LibraryView> {
    return this.client.createLibrary(input);
  }

  updateLibrary(ref: string, patch: LibraryPatch): Promise<LibraryView> {
    return this.client.updateLibrary(ref, patch);
  }

  deleteLibrary(ref: string): Promise<LibraryView> {
    return this.client.deleteLibrary(ref);
  }

  /** Pages through the server's list as one answer; no limit: every chunk from offset on. */
  async listChunks(ref: string, opts: { offset?: number; limit?: number; withEmbedding?: boolean; filter?: FilterInput } = {}): Promise<ChunkPageResult> {
    const filter = opts.filter && (opts.filter.filter !== undefined || opts.filter.where !== undefined) ? wireFilter(opts.filter) : undefined;
    const chunks: ChunkView[] = [];
    const start = opts.offset ?? 0;
    let total = 0;
    for (;;) {
      const want = opts.limit === undefined ? PAGE : Math.min(PAGE, opts.limit - chunks.length);
      if (want <= 0) return { total, chunks };
      const at = { offset: start + chunks.length, limit: want };
      const page = filter ? await this.client.listMatching(ref, { ...filter, ...at, with_embedding: opts.withEmbedding }) : await this.client.listChunks(ref, { ...at, withEmbedding: opts.withEmbedding });
      total = page.total;
      chunks.push(...page.chunks);
      if (page.chunks.length < want || start + chunks.length >= total) return { total, chunks };
    }
  }

  countChunks(ref: string, filter: FilterInput = {}): Promise<{ lib_id: string; count: number }> {
    return this.client.count(ref, wireFilter(filter));
  }

  getChunk(id: string, withEmbedding = false, libRef?: string): Promise<ChunkView> {
    return this.client.getChunk(id, withEmbedding, libRef);
  }

  async addChunks(ref: string, items: NewChunk[], opts: AddOptions = {}): Promise<ChunkView[]> {
    return (await this.putChunks(ref, items, opts)).chunks;
  }

  async putChunks(ref: string, items: NewChunk[], opts: AddOptions = {}): Promise<PutResult> {
    if (items.length > MAX_BULK) {
      throw new InvalidInput(`a server takes at most ${MAX_BULK} chunks in one add, got ${items.length}`, { hint: `split the input, e.g. split -l ${MAX_BULK}` });
    }
    const where = opts.where ?? ((i: number) => (items.length > 1 ? `chunk ${i + 1}` : undefined));
    // The checks that need no library, here: the same message (naming the line) as on a local snapshot.
    items.forEach((item, i) => {
      const at = where(i);
      if (item === null || typeof item !== 'object') throw new InvalidInput(prefix(at, 'chunk must be a JSON object'));
      if (item.text !== undefined) checkText(item.text, at);
      if (item.metadata !== undefined) checkMetadata(item.metadata, at);
      if (item.tags !== undefined) checkTags(item.tags, at);
    });
    try {
      const r = await this.client.putChunks(ref, items as NewChunkRequest[], opts.onConflict);
      return { chunks: r.chunks, outcomes: outcomesOf(r) };
    } catch (err) {
      throw renameItem(err, items.length, opts.where);
    }
  }

  updateChunk(id: string, patch: ChunkPatch, libRef?: string): Promise<ChunkView> {
    return this.client.updateChunk(id, patch as NewChunkRequest, libRef);
  }

  deleteChunks(ids: string[], libRef?: string): Promise<ChunkView[]> {
    if (ids.length === 0) return Promise.reject(new InvalidInput('give at least one chunk id'));
    return this.client.deleteChunks(ids, libRef);
  }

  async deleteWhere(ref: string, filter: FilterInput, opts: { dryRun?: boolean } = {}): Promise<ChunkView[]> {
    return (await this.client.deleteMatching(ref, { ...wireFilter(filter), dry_run: opts.dryRun, with_chunks: true })).chunks ?? [];
  }

  readonly documents: DocumentsApi = {
    list: async (libRef, opts = {}) => {
      const page = await this.client.listDocuments(libRef, { offset: opts.offset, limit: opts.limit ?? PAGE });
      return { total: page.total, documents: page.documents };
    },
    get: async (id, libRef) => this.client.getDocument(await this.documentLib(id, libRef), id),
    add: async (libRef, items, opts = {}) => {
      if (items.length === 1 && opts.where === undefined) {
        // One document: its own route, whose answer says what became of it.
        const before = await this.client.getDocument(libRef, String(items[0].id)).catch(() => null);
        const doc = await this.client.addDocument(libRef, { ...items[0], on_conflict: opts.onConflict } as NewDocumentRequest);
        const outcome = before === null ? 'added' : opts.onConflict === 'skip' ? 'skipped' : doc.updated_at === before.updated_at ? 'unchanged' : 'replaced';
        return { documents: [doc], outcomes: [outcome] };
      }
      try {
        const r = await this.client.addDocuments(libRef, items as NewDocumentRequest[], opts.onConflict);
        return { documents: r.documents, outcomes: outcomesOf(r) };
      } catch (err) {
        throw renameItem(err, items.length, opts.where, 'document');
      }
    },
    update: async (id, patch, libRef) => this.client.updateDocument(await this.documentLib(id, libRef), id, patch),
    delete: async (ids, libRef) => {
      if (ids.length === 0) throw new InvalidInput('give at least one document id');
      return this.client.deleteDocuments(await this.documentLib(ids[0], libRef), ids);
    },
    replace: async (libRef, items, opts = {}) => {
      const body = items.map((d) => ({ ...d, chunks: d.chunks.map((c) => (c.embedding === undefined ? c : { ...c, embedding: Array.from(c.embedding) })) }));
      const { results } = await this.client.replaceDocuments(libRef, body as ReplaceDocumentRequest[], opts.isolate);
      return results.map((r) => ('error' in r ? { id: r.id, error: new VdbError(r.error.code, r.error.message, { hint: r.error.hint }) } : r));
    },
  };

  /** The library holding a document, as the local lookup finds it: given, or the one library that has the id. */
  private async documentLib(id: string, libRef: string | undefined): Promise<string> {
    if (libRef !== undefined) return libRef;
    const holders: LibraryView[] = [];
    for (const lib of await this.listLibraries()) {
      if (await this.client.getDocument(lib.id, id).then(() => true, () => false)) holders.push(lib);
    }
    if (holders.length === 0) throw new NotFound(`document ${JSON.stringify(id)} not found`, { hint: 'see vdb doc list --lib LIB' });
    if (holders.length > 1) throw new UsageError(`document ${JSON.stringify(id)} is in several libraries (${holders.map((l) => l.name).join(', ')})`, { hint: 'give --lib' });
    return holders[0].id;
  }

  buildIndex(ref: string, req: BuildRequest): Promise<IndexBuildView> {
    return this.client.buildIndex(ref, { ...req.params, type: req.type, full: req.full, text: req.text });
  }

  async checkImport(libraries: NumberedRecord[], opts: { onConflict?: OnConflict; outside?: Record<string, string[]> }): Promise<void> {
    await this.client.checkImport({ records: libraries, on_conflict: opts.onConflict, outside: opts.outside });
  }

  importBatch(records: NumberedRecord[], opts: ImportBatchOptions): Promise<ImportedLibraryReport> {
    return this.client.importBatch({ records, on_conflict: opts.onConflict, into: opts.into, last: opts.last, changed: opts.changed });
  }

  storeTextIndex(ref: string, opts: { whenWorthIt?: boolean } = {}): Promise<TextBuildReport | null> {
    return this.client.storeTextIndex(ref, opts.whenWorthIt);
  }

  indexInfo(ref: string): Promise<IndexInfoResult> {
    return this.client.indexInfo(ref);
  }

  query(ref: string, input: QueryInput): Promise<QueryResult> {
    return this.client.query(ref, input as QueryRequest);
  }

  async querySession(ref: string): Promise<QueryRunner> {
    // The library must exist, as a local session requires.
    await this.client.getLibrary(ref);
    return new RemoteQueries(this.client, ref);
  }

  async compact(): Promise<never> {
    throw new UsageError('vdb compact works on a local snapshot (a server folds its own log as it goes); drop --remote');
  }
}

/**
 * `query --stdin` over REST: each line is asked when it is prepared, so a bad
 * line fails exactly where it would locally, after the lines before it.
 */
class RemoteQueries implements QueryRunner<QueryResult> {
  constructor(
    private readonly client: VdbClient,
    private readonly lib: string,
  ) {}

  async prepare(input: QueryInput, where?: string): Promise<QueryResult> {
    try {
      return await this.client.query(this.lib, input as QueryRequest);
    } catch (err) {
      if (err instanceof VdbError && where !== undefined) throw new VdbError(err.code, `${where}: ${err.message}`);
      throw err;
    }
  }

  async embedAhead(): Promise<void> {}

  /** The server reads and threads what it needs. */
  warm(): void {}

  async queryBatch(answers: QueryResult[]): Promise<QueryResult[]> {
    return answers;
  }

  async close(): Promise<void> {}
}

/** A command's filter as a request's fields (absent ones left out). */
function wireFilter(f: FilterInput): FilterFields {
  const out: FilterFields = {};
  if (f.filter !== undefined) out.filter = f.filter;
  if (f.where !== undefined) out.where = typeof f.where === 'string' ? f.where : [...f.where];
  return out;
}

/** Per-item outcomes in the order the server counted them (the wire carries counts, not each item's). */
function outcomesOf(r: Record<AddOutcome, number>): AddOutcome[] {
  return [...Array(r.added).fill('added'), ...Array(r.replaced).fill('replaced'), ...Array(r.unchanged).fill('unchanged'), ...Array(r.skipped).fill('skipped')];
}
