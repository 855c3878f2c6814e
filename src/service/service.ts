/**
 * The use cases. The CLI and the REST server only parse input, call one of
 * these methods and format the result; all validation and all data rules are here.
 */
import { Conflict, InvalidFilter, InvalidInput, NotFound } from '../domain/errors.js';
import { Library, quote, sameBits, sameJson } from '../domain/model.js';
import type { Chunk, Database } from '../domain/model.js';
import type {
  AddOutcome,
  BuildReport,
  ChunkPatch,
  ChunkView,
  CompactView,
  Hit,
  IndexBuildView,
  IndexType,
  IndexView,
  LibraryPatch,
  LibraryView,
  Metadata,
  Metric,
  NewChunk,
  NewLibrary,
  OnConflict,
  QueryExplain,
  QueryInput,
  QueryResult,
  SearchMode,
  TextBuildReport,
} from '../domain/types.js';
import { DEFAULT_K, outcomeCounts } from '../domain/types.js';
import type { IndexInfo } from '../domain/wire.js';
import { checkEf, checkEmbedding, checkId, checkK, checkMetadata, checkName, checkOnConflict, checkTags, checkText, prefix } from '../domain/validate.js';
import { embedTexts, openEmbedder, resolveSpec } from '../embed/registry.js';
import { and, render } from '../filter/ast.js';
import type { Filter } from '../filter/ast.js';
import type { FilterInput } from '../filter/parse.js';
import { parseFilter } from '../filter/parse.js';
import { planFiltered } from '../filter/planner.js';
import { BatchSearch } from '../index/batch.js';
import type { Ranked } from '../index/batch.js';
import { PoolWorkerFailed, nearestUnfiltered } from '../index/pool.js';
import { threadCount } from '../index/thread.js';
import { METRICS, prepareQuery, scanAllowed, spaceScorer } from '../index/kernels.js';
import { LinearIndex } from '../index/linear.js';
import { INDEX_KINDS, INDEX_TYPES, isIndexType } from '../index/registry.js';
import { TopK } from '../index/topk.js';
import { runBuildJob, runBuildJobOffThread } from '../index/build-job.js';
import type { BuildJob, BuildOutcome } from '../index/build-job.js';
import type { SearchSpace, VectorIndex } from '../index/types.js';
import { beamOf, QueryPools } from './pools.js';
import { SnapshotStore } from '../store/store.js';
import type { LockOptions } from '../store/lock.js';
import type { StoreTuning } from '../store/store.js';
import { DocumentService } from './documents.js';
import { readRecords } from '../transfer/format.js';
import type { NumberedRecord } from '../transfer/format.js';
import { TransferService } from './transfer.js';
import type { ImportBatchOptions, ImportedLibraryReport } from './transfer.js';
import { answerText, buildTextIndex, checkTextQuery, depth, persistTextIndex, textIndexWorthStoring } from './search.js';
import type { RankedRows, TextQuery } from './search.js';
import { newId, randomUint32 } from './ids.js';
import type { VdbApi } from './api.js';

export interface ServiceOptions {
  /** Snapshot file. */
  path: string;
  /** Makes ids and index randomness reproducible (`--seed`, `VDB_SEED`). */
  seed?: string;
  /** ISO time for created_at/updated_at; defaults to SOURCE_DATE_EPOCH or the clock. */
  now?: () => string;
  lock?: LockOptions;
  /** Queries run while writes are in progress (a server): writes work on a private copy. */
  concurrentReaders?: boolean;
  /** When the snapshot moves to sidecar files and when its log is folded; defaults from the environment. */
  storage?: StoreTuning;
  /** Index builds run on a worker thread, so this thread goes on answering (a server). */
  buildsOffThread?: boolean;
  /**
   * Threads for `query` and `querySession` on an HNSW index (a server): above
   * 1, a pool of worker threads per loaded library generation answers them,
   * sharing the graph and the rows, while this thread serves (index/pool.ts).
   * Default 1: queries run on this thread.
   */
  queryThreads?: number;
  /**
   * Writes arrive prepared by the prepare* methods, possibly in another
   * process (a cluster node applying its log): the write methods neither
   * resolve nor call an embedder, so applying a write depends on nothing
   * outside the database. The prepare* methods still do.
   */
  preparedWrites?: boolean;
}

export interface Progress {
  (done: number, total: number): void;
}

export interface AddOptions {
  /** Names item i in error messages, e.g. `line ${i + 1}`. */
  where?: (i: number) => string | undefined;
  onProgress?: Progress;
  /** An item whose id exists in the library: refused (fail, the default: exit 5 / 409), left as it is (skip) or replaced. */
  onConflict?: OnConflict;
}

/** What `putChunks` did, item by item in input order. */
export interface PutResult {
  /** Each item's chunk as it now is (for a skipped item: the chunk that was there). */
  chunks: ChunkView[];
  outcomes: AddOutcome[];
}

export interface BuildRequest {
  /** Default: the library's current index type, else linear. */
  type?: IndexType;
  /** Options not given keep the current index's values when the type stays (see refreshIndex). */
  params?: Record<string, number>;
  /** Build from scratch even when the current index could be updated in place. */
  full?: boolean;
  /**
   * The full-text index: true builds it (or brings it up to date), false
   * leaves it as it is; undefined: brought up to date when there is one.
   */
  text?: boolean;
}

export interface RefreshOptions {
  full?: boolean;
  /** built_at of the result. */
  builtAt: string;
  /** Key of the seeded stream for the build (see seededRandom); called once, and only if something is built. */
  randomKey: () => string | number;
  onProgress?: Progress;
}

const LINEAR = new LinearIndex();

/** created_at/updated_at source honouring SOURCE_DATE_EPOCH (reproducible builds). */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): () => string {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) {
    const fixed = new Date(Number(epoch) * 1000).toISOString();
    return () => fixed;
  }
  return () => new Date().toISOString();
}

export class VdbService implements VdbApi {
  readonly store: SnapshotStore;
  /** Documents: add, list, get, update, delete (with their chunks). */
  readonly documents: DocumentService;
  readonly seed?: string;
  readonly now: () => string;
  private readonly buildsOffThread: boolean;
  private readonly preparedWrites: boolean;
  private readonly pools: QueryPools | null;

  constructor(opts: ServiceOptions) {
    this.store = new SnapshotStore(opts.path, opts.lock, opts.storage, opts.concurrentReaders);
    this.seed = opts.seed;
    this.now = opts.now ?? clockFromEnv();
    this.buildsOffThread = opts.buildsOffThread ?? false;
    this.preparedWrites = opts.preparedWrites ?? false;
    this.documents = new DocumentService(this);
    const threads = opts.queryThreads ?? 1;
    this.pools = threads > 1 ? new QueryPools(threads, true, () => this.store.read().libraries.map((l) => l.id)) : null;
  }

  /** Stops the query worker threads, if any (a server shutting down; idle ones never keep the process alive). */
  async closeQueryThreads(): Promise<void> {
    await this.pools?.close();
  }

  // ---- libraries -------------------------------------------------------

  listLibraries(): LibraryView[] {
    return this.store.read().libraries.map((l) => l.view());
  }

  getLibrary(ref: string): LibraryView {
    return this.store.read().library(ref).view();
  }

  async createLibrary(input: NewLibrary): Promise<LibraryView> {
    const { name, metric, dim, embedder, metadata } = await this.checkNewLibrary(input, !this.preparedWrites);
    return this.store.update((db) => {
      if (db.hasLibraryName(name)) throw new Conflict(`a library named "${name}" already exists`, { hint: 'choose another name or see vdb lib list' });
      const now = this.now();
      const lib = new Library({ id: newId(db, 'lib', this.seed), name, dim, metric, embedder, metadata, created_at: now, updated_at: now, nextSeq: 0 });
      db.libraries.push(lib);
      db.changed();
      return lib.view();
    });
  }

  /**
   * Checks a new library and finds its embedder's dimension (which may ask
   * the provider), writing nothing: the result, with `embedder` and `dim`
   * set, creates the library without an embedder (see preparedWrites).
   */
  async prepareLibrary(input: NewLibrary): Promise<NewLibrary> {
    const { name, metric, dim, embedder, metadata } = await this.checkNewLibrary(input, true);
    return { name, metric, dim, embedder, metadata };
  }

  /** @param resolve find the embedder's dimension (it must be usable here); else trust the given `dim` (a prepared write) */
  private async checkNewLibrary(input: NewLibrary, resolve: boolean) {
    const name = checkName(input.name);
    const metric = input.metric ?? 'cosine';
    if (!METRICS.includes(metric)) throw new InvalidInput(`unknown metric "${metric}" (use one of: ${METRICS.join(', ')})`);
    // No dim and no embedder: the seed's letters embedder. A dim alone: explicit embeddings only.
    const embedderSpec = input.embedder !== undefined ? input.embedder : input.dim === undefined ? 'letters' : null;
    if (input.dim !== undefined && (!Number.isInteger(input.dim) || input.dim < 1 || input.dim > 65536)) throw new InvalidInput(`dim must be an integer from 1 to 65536, got ${input.dim}`);
    const embedder = embedderSpec === null ? null : resolve ? await resolveSpec(embedderSpec, input.dim) : preparedSpec(embedderSpec, input.dim);
    const dim = input.dim ?? embedder?.dim;
    if (dim === undefined) throw new InvalidInput('a library without an embedder needs --dim N');
    if (embedder && embedder.dim !== dim) {
      throw new InvalidInput(`embedder ${embedder.spec} gives ${embedder.dim} dims but --dim is ${dim}`, { hint: 'drop --dim or choose another embedder' });
    }
    const metadata = input.metadata === undefined ? {} : checkMetadata(input.metadata);
    return { name, metric, dim, embedder: embedder?.spec ?? null, metadata };
  }

  async updateLibrary(ref: string, patch: LibraryPatch): Promise<LibraryView> {
    const name = patch.name === undefined ? undefined : checkName(patch.name);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    return this.store.update((db) => {
      const lib = db.library(ref);
      if (name !== undefined && name !== lib.name) {
        if (db.hasLibraryName(name)) throw new Conflict(`a library named "${name}" already exists`);
        lib.name = name;
      }
      if (metadata !== undefined) lib.metadata = metadata;
      lib.updated_at = this.now();
      return lib.view();
    });
  }

  async deleteLibrary(ref: string): Promise<LibraryView> {
    return this.store.update((db) => {
      const lib = db.library(ref);
      db.libraries = db.libraries.filter((l) => l !== lib);
      db.changed();
      return lib.view();
    });
  }

  // ---- chunks ----------------------------------------------------------

  /**
   * A page of the library's chunks in insertion order; with a filter, of the
   * matching ones (`total` counts those).
   */
  listChunks(ref: string, opts: { offset?: number; limit?: number; withEmbedding?: boolean; filter?: FilterInput } = {}): { total: number; chunks: ChunkView[] } {
    const filter = opts.filter ? parseFilter(opts.filter) : null;
    const lib = this.store.read().library(ref);
    const offset = opts.offset ?? 0;
    const chunks: ChunkView[] = [];
    if (filter) {
      const rows = lib.filterRows(filter).toArray();
      const end = Math.min(rows.length, opts.limit === undefined ? Infinity : offset + opts.limit);
      for (let i = offset; i < end; i++) chunks.push(lib.chunkView(rows[i], opts.withEmbedding));
      return { total: rows.length, chunks };
    }
    const end = Math.min(lib.size, opts.limit === undefined ? Infinity : offset + opts.limit);
    for (let r = offset; r < end; r++) chunks.push(lib.chunkView(r, opts.withEmbedding));
    return { total: lib.size, chunks };
  }

  /** How many of the library's chunks match the filter (all of them without one). */
  countChunks(ref: string, filter: FilterInput = {}): { lib_id: string; count: number } {
    const f = parseFilter(filter);
    const lib = this.store.read().library(ref);
    return { lib_id: lib.id, count: f ? lib.filterRows(f).count() : lib.size };
  }

  /** One chunk; `libRef` names its library (needed when several hold the id). */
  getChunk(id: string, withEmbedding = false, libRef?: string): ChunkView {
    const { lib, row } = this.store.read().chunk(id, libRef);
    return lib.chunkView(row, withEmbedding);
  }

  /** `putChunks`, returning just the chunks. */
  async addChunks(ref: string, items: NewChunk[], opts: AddOptions = {}): Promise<ChunkView[]> {
    return (await this.putChunks(ref, items, opts)).chunks;
  }

  /**
   * Adds chunks as one atomic change: every item is validated (and embedded)
   * first; if any fails, nothing is written. An item with an id that exists in
   * the library is a conflict, or with `onConflict` skipped or replaced in
   * place (text, embedding, metadata, tags and doc_id; created_at kept). A
   * replacement identical to the chunk changes nothing, so re-running an
   * ingest of the same ids is idempotent.
   */
  async putChunks(ref: string, items: NewChunk[], opts: AddOptions = {}): Promise<PutResult> {
    const where = opts.where ?? itemLabel(items);
    const onConflict = checkOnConflict(opts.onConflict ?? 'fail');
    // Embed outside the lock: a real embedding provider may be slow.
    const target = this.store.read().library(ref);
    const ids = itemIds(items, where);
    const skip = toSkip(target, ids, onConflict, where);
    const prepared = await this.prepareChunks(target, items, where, opts.onProgress, skip);
    return this.store.update((db) => {
      const lib = db.library(ref);
      if (lib.id !== target.id || lib.dim !== target.dim || lib.embedder !== target.embedder) {
        throw new Conflict(`library ${quote(ref)} changed while adding chunks`, { hint: 'retry' });
      }
      // Every check before the first change.
      const rows = ids.map((id, i) => {
        const row = id === undefined ? -1 : lib.rowOf(id);
        if (row >= 0 && onConflict === 'fail') throw chunkConflict(id!, lib, where(i));
        if (row < 0 && skip.has(i)) throw new Conflict(`library ${quote(ref)} changed while adding chunks`, { hint: 'retry' });
        const docId = prepared[i].doc_id;
        if (!skip.has(i) && docId !== undefined && !lib.documents.has(docId)) {
          throw new NotFound(prefix(where(i), `document ${quote(docId)} not found in library ${quote(lib.name)}`), {
            hint: `create it first: vdb doc add --lib ${lib.name} --id ${quote(docId)}`,
          });
        }
        return row;
      });
      for (const id of ids) if (id !== undefined) db.claimId(id);
      const now = this.now();
      const outcomes: AddOutcome[] = [];
      const added: Chunk[] = [];
      const addedVectors: Float32Array[] = [];
      prepared.forEach((p, i) => {
        const row = rows[i];
        if (skip.has(i)) return void (outcomes[i] = 'skipped');
        if (row < 0) {
          outcomes[i] = 'added';
          const id = ids[i] ?? newId(db, 'chk', this.seed);
          const chunk: Chunk = { id, text: p.text, metadata: p.metadata, tags: p.tags, created_at: now, updated_at: now, seq: 0 };
          if (p.doc_id !== undefined) chunk.doc_id = p.doc_id;
          added.push(chunk);
          addedVectors.push(p.vector);
          return;
        }
        outcomes[i] = replaceChunk(lib, row, p, now);
      });
      lib.append(added, addedVectors);
      if (outcomes.some((o) => o === 'added' || o === 'replaced')) lib.updated_at = now;
      db.changed();
      let next = lib.size - added.length;
      const chunks = outcomes.map((o, i) => lib.chunkView(o === 'added' ? next++ : rows[i]));
      return { chunks, outcomes };
    });
  }

  /**
   * Validates chunks as putChunks does and embeds their texts, writing
   * nothing: the items come back each with its `embedding` (but those
   * putChunks would skip), so putting them needs no embedder (see preparedWrites).
   */
  async prepareChunkPut(ref: string, items: NewChunk[], opts: AddOptions = {}): Promise<NewChunk[]> {
    const where = opts.where ?? itemLabel(items);
    const target = this.store.read().library(ref);
    const skip = toSkip(target, itemIds(items, where), checkOnConflict(opts.onConflict ?? 'fail'), where);
    const prepared = await this.prepareChunks(target, items, where, opts.onProgress, skip, true);
    return items.map((item, i) => (skip.has(i) ? item : { ...item, embedding: prepared[i].vector }));
  }

  /**
   * Validates chunks and embeds the texts of those without an embedding (all
   * in batches), for `lib`; items in `skip` are not embedded. Outside the lock.
   * @param embed embed texts; else every item to write must have its embedding (a prepared write)
   * @throws InvalidInput naming the item; EmbedderError
   */
  async prepareChunks(
    lib: Library,
    items: NewChunk[],
    where: (i: number) => string | undefined,
    onProgress?: Progress,
    skip: ReadonlySet<number> = new Set(),
    embed = !this.preparedWrites,
  ): Promise<PreparedChunk[]> {
    let validated = 0;
    const out = items.map((item, i) => {
      const at = where(i);
      if ((i & 1023) === 1023) onProgress?.(validated, items.length);
      if (item === null || typeof item !== 'object') throw new InvalidInput(prefix(at, 'chunk must be a JSON object'));
      const text = item.text === undefined ? '' : checkText(item.text, at);
      const metadata = item.metadata === undefined ? {} : checkMetadata(item.metadata, at);
      const tags = item.tags === undefined ? [] : checkTags(item.tags, at);
      const doc_id = item.doc_id === undefined || item.doc_id === null ? undefined : checkId(item.doc_id, 'doc_id', at);
      let vector: Float32Array | null = null;
      if (item.embedding !== undefined) {
        vector = checkEmbedding(item.embedding, lib.dim, at);
        validated++;
      } else if (!lib.embedder) {
        throw new InvalidInput(prefix(at, `library "${lib.name}" has no embedder, so each chunk needs an "embedding" of ${lib.dim} numbers`));
      } else if (skip.has(i)) {
        // Skipped: left as it is, so not embedded.
        vector = new Float32Array(lib.dim);
      }
      return { text, metadata, tags, doc_id, vector };
    });
    const toEmbed = out.map((p, i) => (p.vector === null ? i : -1)).filter((i) => i >= 0);
    // Progress counts items ready: explicit embeddings now, texts as their batches are embedded.
    const explicit = out.length - toEmbed.length;
    onProgress?.(explicit, out.length);
    if (toEmbed.length > 0) {
      // A prepared item lacks its embedding only if the library changed since it was prepared.
      if (!embed) throw new Conflict(`library "${lib.name}" changed while adding chunks`, { hint: 'retry' });
      const embedder = await openEmbedder(lib.embedder as string, lib.dim);
      const vectors = await embedTexts(embedder, toEmbed.map((i) => out[i].text), {
        inputType: 'document',
        metric: lib.metric,
        where: (j) => where(toEmbed[j]),
        onProgress: (done) => onProgress?.(explicit + done, out.length),
      });
      toEmbed.forEach((i, j) => (out[i].vector = vectors[j]));
    }
    return out.map((p, i) => {
      const vector = p.vector as Float32Array;
      if (!skip.has(i)) lib.checkVector(vector, where(i));
      return { ...p, vector };
    });
  }

  /** Changes a chunk; `libRef` names its library (needed when several hold the id). */
  async updateChunk(id: string, patch: ChunkPatch, libRef?: string): Promise<ChunkView> {
    const { current, text, metadata, tags, docId, vector } = await this.checkPatch(id, patch, libRef, !this.preparedWrites);
    return this.store.update((db) => {
      const { lib, row } = db.chunk(id, libRef ?? current.lib.id);
      if (vector && lib.dim !== vector.length) throw new Conflict(`library of chunk ${quote(id)} changed`, { hint: 'retry' });
      if (typeof docId === 'string' && !lib.documents.has(docId)) {
        throw new NotFound(`document ${quote(docId)} not found in library ${quote(lib.name)}`, { hint: `create it first: vdb doc add --lib ${lib.name} --id ${quote(docId)}` });
      }
      const c = lib.chunks[row];
      const textChanged = text !== undefined && text !== c.text;
      if (text !== undefined) c.text = text;
      if (metadata !== undefined) c.metadata = metadata;
      if (tags !== undefined) c.tags = tags;
      if (docId === null) delete c.doc_id;
      else if (docId !== undefined) c.doc_id = docId;
      if (vector) lib.replaceVector(row, vector);
      else if (textChanged) lib.renew(row);
      c.updated_at = this.now();
      lib.markEdited(row);
      lib.updated_at = c.updated_at;
      return lib.chunkView(row);
    });
  }

  /**
   * Validates a chunk patch as updateChunk does and embeds a new text, writing
   * nothing: the result carries the `embedding`, so applying it needs no
   * embedder (see preparedWrites).
   */
  async prepareChunkPatch(id: string, patch: ChunkPatch, libRef?: string): Promise<ChunkPatch> {
    const { vector } = await this.checkPatch(id, patch, libRef, true);
    return vector ? { ...patch, embedding: vector } : patch;
  }

  /** @param embed embed a new text; else a new text must come with its embedding (a prepared write) */
  private async checkPatch(id: string, patch: ChunkPatch, libRef: string | undefined, embed: boolean) {
    const current = this.store.read().chunk(id, libRef);
    const text = patch.text === undefined ? undefined : checkText(patch.text);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    // undefined: leave it; null: out of its document.
    const docId = patch.doc_id === undefined || patch.doc_id === null ? patch.doc_id : checkId(patch.doc_id, 'doc_id');
    let vector: Float32Array | undefined;
    if (patch.embedding !== undefined) vector = checkEmbedding(patch.embedding, current.lib.dim);
    else if (text !== undefined && current.lib.embedder) {
      if (!embed) throw new Conflict(`the library of chunk ${quote(id)} changed while it was updated`, { hint: 'retry' });
      [vector] = await embedTexts(await openEmbedder(current.lib.embedder, current.lib.dim), [text], { inputType: 'document', metric: current.lib.metric });
    }
    if (vector) current.lib.checkVector(vector);
    return { current, text, metadata, tags, docId, vector };
  }

  /** Deletes all the given chunks or, if any id is unknown, none; `libRef` names their library. */
  async deleteChunks(ids: string[], libRef?: string): Promise<ChunkView[]> {
    if (ids.length === 0) throw new InvalidInput('give at least one chunk id');
    return this.store.update((db) => {
      const found = [...new Set(ids)].map((id) => db.chunk(id, libRef));
      const views = found.map(({ lib, row }) => lib.chunkView(row));
      const byLib = new Map<Library, Set<number>>();
      for (const { lib, row } of found) {
        if (!byLib.has(lib)) byLib.set(lib, new Set());
        byLib.get(lib)!.add(row);
      }
      const now = this.now();
      for (const [lib, rows] of byLib) {
        lib.removeRows(rows);
        lib.updated_at = now;
      }
      db.changed();
      return views;
    });
  }

  /**
   * Deletes every chunk of the library the filter matches, as one atomic
   * change (all of them or, on any error, none); `dryRun` only says which.
   * @throws InvalidFilter before anything changes when the filter is bad
   */
  async deleteWhere(ref: string, filter: FilterInput, opts: { dryRun?: boolean } = {}): Promise<ChunkView[]> {
    const f = parseFilter(filter);
    if (f === null) throw new InvalidFilter('give a filter (--where or --filter, "filter" or "where") to delete by', { hint: 'to delete every chunk, give the filter {}' });
    const select = (lib: Library) => {
      const rows = lib.filterRows(f).toArray();
      return { rows, views: Array.from(rows, (r) => lib.chunkView(r)) };
    };
    if (opts.dryRun) return select(this.store.read().library(ref)).views;
    return this.store.update((db) => {
      const lib = db.library(ref);
      const { rows, views } = select(lib);
      if (rows.length === 0) return views;
      lib.removeRows(new Set(rows));
      lib.updated_at = this.now();
      db.changed();
      return views;
    });
  }

  /**
   * Writes metadata into the chunks picked by `ids` (all must exist) or a
   * filter, as one atomic change: `merge` sets the keys of `values` over the
   * old ones, `replace` makes `values` the whole metadata; with `path`, at
   * that nested key instead of the top (objects made on the way, a non-object
   * there replaced). Returns how many chunks changed. Qdrant's set and
   * overwrite payload.
   * @throws NotFound naming the first unknown id, before anything changes
   */
  async setMetadata(ref: string, target: MetadataTarget, values: Metadata, opts: { mode: 'merge' | 'replace'; path?: string[] }): Promise<{ updated: number }> {
    checkMetadata(values);
    const path = checkKeyPath(opts.path ?? []);
    return this.rewriteMetadata(ref, target, (m) => withValues(m, path, values, opts.mode));
  }

  /**
   * Removes the keys at `paths` (each a nested key path, e.g. ["a", "b"]) from
   * the metadata of the chunks picked by `ids` or a filter, as one atomic
   * change; missing keys are no error. Qdrant's delete payload.
   */
  async unsetMetadata(ref: string, target: MetadataTarget, paths: string[][]): Promise<{ updated: number }> {
    const checked = paths.map(checkKeyPath);
    return this.rewriteMetadata(ref, target, (m) => checked.reduce(withoutKey, m));
  }

  private async rewriteMetadata(ref: string, target: MetadataTarget, rewrite: (m: Metadata) => Metadata): Promise<{ updated: number }> {
    const f = target.filter ? parseFilter(target.filter) : null;
    if ((target.ids === undefined) === (f === null)) throw new InvalidInput('give either chunk ids or a filter to update the metadata of');
    return this.store.update((db) => {
      const lib = db.library(ref);
      let rows: number[];
      if (f) rows = Array.from(lib.filterRows(f).toArray());
      else {
        rows = [...new Set(target.ids)].map((id) => {
          const row = lib.rowOf(id);
          if (row < 0) throw new NotFound(`chunk ${quote(id)} not found in library ${quote(lib.name)}`);
          return row;
        });
      }
      // Every new metadata object is checked before the first change.
      const next = rows.map((row, i) => checkMetadata(rewrite(lib.chunkAt(row).metadata), rows.length > 1 ? `chunk ${i + 1}` : undefined));
      const now = this.now();
      let updated = 0;
      rows.forEach((row, i) => {
        if (sameJson(lib.chunkAt(row).metadata, next[i])) return;
        const c = lib.chunks[row];
        c.metadata = next[i];
        c.updated_at = now;
        lib.markEdited(row);
        updated++;
      });
      if (updated > 0) {
        lib.updated_at = now;
        db.changed();
      }
      return { updated };
    });
  }

  // ---- indexes ---------------------------------------------------------

  /**
   * Builds the library's index, or updates the current one in place when it
   * can (see refreshIndex). Nothing is written when it was up to date.
   */
  async buildIndex(ref: string, req: BuildRequest, onProgress?: Progress): Promise<IndexBuildView> {
    if (req.type !== undefined && !isIndexType(req.type)) throw new InvalidInput(`unknown index type "${req.type}" (use one of: ${INDEX_TYPES.join(', ')})`);
    const refresh = this.buildsOffThread ? refreshIndexOffThread : refreshIndex;
    if (req.text !== undefined && typeof req.text !== 'boolean') throw new InvalidInput('text must be true or false');
    return this.store.update(async (db) => {
      const lib = db.library(ref);
      const type = req.type ?? lib.indexState?.type ?? 'linear';
      const builtAt = this.now();
      const build = await refresh(lib, type, checkIndexParams(type, req.params ?? {}), {
        full: req.full,
        builtAt,
        randomKey: () => (this.seed !== undefined ? `${this.seed}:index:${db.nextId++}` : randomUint32()),
        onProgress,
      });
      const wantText = req.text ?? lib.text.stored !== null;
      const textBuild = wantText ? buildTextIndex(lib, builtAt) : null;
      return { ...(lib.indexView() as IndexView), build, text_index: lib.text.view(lib.rowSeqs()), text_build: textBuild };
    });
  }

  /** The library's index coverage; null when no index was built (queries scan exactly). */
  /**
   * Stores the library's full-text index brought up to date; with
   * `whenWorthIt`, only as textIndexWorthStoring says (null when not), as
   * `vdb ingest` does at its end.
   */
  async storeTextIndex(ref: string, opts: { whenWorthIt?: boolean } = {}): Promise<TextBuildReport | null> {
    return persistTextIndex(this, ref, opts.whenWorthIt ? textIndexWorthStoring : undefined);
  }

  async checkImport(libraries: NumberedRecord[], opts: { onConflict?: OnConflict; outside?: Record<string, string[]> }): Promise<void> {
    new TransferService(this).checkImport(readRecords(libraries), opts);
  }

  async importBatch(records: NumberedRecord[], opts: ImportBatchOptions): Promise<ImportedLibraryReport> {
    return new TransferService(this).importBatch(readRecords(records), opts);
  }

  /** The database as of now, for readers that work on its libraries directly (the Qdrant routes). */
  snapshot(): Database {
    return this.store.read();
  }

  indexInfo(ref: string): IndexInfo {
    const lib = this.store.read().library(ref);
    return { lib_id: lib.id, chunk_count: lib.size, index: lib.indexView(), text_index: lib.text.view(lib.rowSeqs()) };
  }

  // ---- queries ---------------------------------------------------------

  async query(ref: string, input: QueryInput): Promise<QueryResult> {
    const session = await this.querySession(ref);
    try {
      return await session.query(input);
    } finally {
      await session.close();
    }
  }

  /** Resolves the library once, for answering many queries (`query --stdin`). */
  async querySession(ref: string, opts: SessionOptions = {}): Promise<QuerySession> {
    return new QuerySession(this.store.read().library(ref), opts, this.pools ?? undefined);
  }

  // ---- storage ---------------------------------------------------------

  /** Folds recent changes into a fresh snapshot, so loading replays nothing. */
  async compact(): Promise<CompactView> {
    return this.store.compact();
  }

}

/** The chunks a metadata update applies to: these ids (all must exist) or those a filter matches. */
export interface MetadataTarget {
  ids?: string[];
  filter?: FilterInput;
}

function checkKeyPath(path: string[]): string[] {
  if (!Array.isArray(path) || path.some((k) => typeof k !== 'string' || k === '')) throw new InvalidInput('a metadata key path needs non-empty keys, e.g. a.b');
  return path;
}

/** `metadata` without the key at `path` (objects on the way copied, the input not changed). */
function withoutKey(metadata: Metadata, path: string[]): Metadata {
  const [head, ...rest] = path;
  if (!Object.prototype.hasOwnProperty.call(metadata, head)) return metadata;
  const out = { ...metadata };
  if (rest.length === 0) delete out[head];
  else {
    const v = metadata[head];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return metadata;
    out[head] = withoutKey(v as Metadata, rest);
  }
  return out;
}

/** `metadata` with `values` merged in (or replacing) at `path`; the input is not changed. */
function withValues(metadata: Metadata, path: string[], values: Metadata, mode: 'merge' | 'replace'): Metadata {
  const isObject = (v: unknown): v is Metadata => v !== null && typeof v === 'object' && !Array.isArray(v);
  const put = (at: unknown, i: number): Metadata => {
    const base = isObject(at) ? at : {};
    if (i === path.length) return mode === 'replace' ? { ...values } : { ...base, ...values };
    return { ...base, [path[i]]: put(base[path[i]], i + 1) };
  };
  return path.length === 0 && mode === 'replace' ? { ...values } : put(metadata, 0);
}

/** Names item i in errors of a bulk add: `chunk 3`; a single item needs no name. */
function itemLabel(items: readonly unknown[]): (i: number) => string | undefined {
  return (i) => (items.length > 1 ? `chunk ${i + 1}` : undefined);
}

/** Items whose id exists and that on_conflict skip leaves as they are; with fail, the first such id is a conflict. */
function toSkip(target: Library, ids: (string | undefined)[], onConflict: OnConflict, where: (i: number) => string | undefined): Set<number> {
  // Conflicts show before anything is embedded, and items to skip are not embedded at all.
  const skip = new Set<number>();
  if (onConflict !== 'replace') {
    ids.forEach((id, i) => {
      if (id === undefined || target.rowOf(id) < 0) return;
      if (onConflict === 'fail') throw chunkConflict(id, target, where(i));
      skip.add(i);
    });
  }
  return skip;
}

/** A prepared write's embedder: recorded as it was resolved, with its dimension, where the write was taken. */
function preparedSpec(spec: string, dim: number | undefined): { spec: string; dim: number } {
  if (dim === undefined) throw new InvalidInput(`embedder ${spec} without a dim: prepare the library first (prepareLibrary)`);
  return { spec, dim };
}

/** A chunk that passed validation, with its vector. */
export interface PreparedChunk {
  text: string;
  metadata: Metadata;
  tags: string[];
  doc_id: string | undefined;
  vector: Float32Array;
}

/**
 * Replaces the chunk at `row` in place with `p` (created_at kept, a new seq
 * when its vector or text changes), or leaves it when `p` is identical;
 * compared as read one by one, so an identical replacement reads no more of a
 * large library.
 */
export function replaceChunk(lib: Library, row: number, p: PreparedChunk, now: string): 'replaced' | 'unchanged' {
  const old = lib.chunkAt(row);
  const sameVector = sameBits(lib.readVector(row), p.vector);
  if (sameVector && old.text === p.text && old.doc_id === p.doc_id && sameJson(old.metadata, p.metadata) && sameJson(old.tags, p.tags)) return 'unchanged';
  const c = lib.chunks[row];
  const sameText = c.text === p.text;
  Object.assign(c, { text: p.text, doc_id: p.doc_id, metadata: p.metadata, tags: p.tags, updated_at: now });
  if (p.doc_id === undefined) delete c.doc_id;
  if (!sameVector) lib.replaceVector(row, p.vector);
  else if (!sameText) lib.renew(row);
  lib.markEdited(row);
  return 'replaced';
}

/** Each item's own id (checked), or undefined; an id given twice is refused, naming both items. */
function itemIds(items: NewChunk[], where: (i: number) => string | undefined): (string | undefined)[] {
  const first = new Map<string, number>();
  return items.map((item, i) => {
    if (item === null || typeof item !== 'object' || item.id === undefined) return undefined;
    const id = checkId(item.id, 'id', where(i));
    const seen = first.get(id);
    if (seen !== undefined) throw new InvalidInput(prefix(where(i), `id ${quote(id)} is given twice (also ${where(seen) ?? `item ${seen + 1}`})`), { hint: 'each chunk of one add needs its own id' });
    first.set(id, i);
    return id;
  });
}

function chunkConflict(id: string, lib: Library, at: string | undefined): Conflict {
  return new Conflict(prefix(at, `chunk ${quote(id)} already exists in library ${quote(lib.name)}`), {
    hint: 'to replace it or leave it: --on-conflict replace|skip ("on_conflict" over REST)',
  });
}

export function checkIndexParams(type: IndexType, given: Record<string, number>): Record<string, number> {
  const kind = INDEX_KINDS[type];
  const params: Record<string, number> = {};
  for (const [name, value] of Object.entries(given)) {
    const opt = kind.options.find((o) => o.name === name);
    if (!opt) {
      const known = kind.options.map((o) => o.name).join(', ') || 'none';
      throw new InvalidInput(`index type ${type} has no option "${name}" (its options: ${known})`);
    }
    if (!Number.isInteger(value) || value < opt.min || value > opt.max) {
      throw new InvalidInput(`${name} must be an integer from ${opt.min} to ${opt.max}, got ${value}`);
    }
    params[name] = value;
  }
  return params;
}

/**
 * Gives `lib` an index of `type`. When it has one of that type, `full` is not
 * set and the kind can update (hnsw), the index is updated in place instead:
 * chunks added or re-embedded since are inserted and stale entries removed,
 * unless the kind asks for a full build (too many stale entries, ...).
 * Options not in `params` keep the current index's values when the type
 * stays, except those derived from the data (default null), derived again.
 */
export function refreshIndex(lib: Library, type: IndexType, params: Record<string, number>, opts: RefreshOptions): BuildReport {
  const job = planRefresh(lib, type, params, opts);
  return job === null ? nothingToBuild() : finishRefresh(lib, job, runBuildJob(job, opts.onProgress), opts.builtAt);
}

/** refreshIndex with the build on a worker thread: the same index, byte for byte, while this thread goes on. */
export async function refreshIndexOffThread(lib: Library, type: IndexType, params: Record<string, number>, opts: RefreshOptions): Promise<BuildReport> {
  const job = planRefresh(lib, type, params, opts);
  return job === null ? nothingToBuild() : finishRefresh(lib, job, await runBuildJobOffThread(job, opts.onProgress), opts.builtAt);
}

function nothingToBuild(): BuildReport {
  return { mode: 'none', reason: null, inserted: 0, removed: 0 };
}

/** What refreshIndex will build, over which rows; null when the index is up to date. */
function planRefresh(lib: Library, type: IndexType, params: Record<string, number>, opts: RefreshOptions): BuildJob | null {
  const kind = INDEX_KINDS[type];
  const current = lib.indexState;
  const currentParams = current?.type === type ? (current.params ?? current.index.params()) : {};
  const kept = Object.entries(currentParams).filter(([name]) => kind.options.some((o) => o.name === name && o.default !== null));
  const wanted = { ...Object.fromEntries(kept), ...params };
  if (current?.type === type && !opts.full && kind.update) {
    const added = lib.unindexedRows();
    const unchanged = Object.entries(wanted).every(([name, v]) => currentParams[name] === v);
    if (added.length === 0 && (lib.indexView() as IndexView).stale === 0 && unchanged) return null;
    // An update reads every row and the whole graph: in sequential passes, not page by page.
    lib.preload(true);
    return { type, params: wanted, randomKey: opts.randomKey(), space: lib.searchSpace(), update: { index: current.index, added }, reason: '' };
  }
  const reason = !current ? 'no index yet' : current.type !== type ? `replaces the ${current.type} index` : opts.full ? 'full build requested' : `${type} has no incremental update`;
  // The current index goes on answering queries until the new one replaces it (during a build off this thread).
  return { type, params: wanted, randomKey: opts.randomKey(), space: lib.rowSpace(), reason };
}

function finishRefresh(lib: Library, job: BuildJob, outcome: BuildOutcome, builtAt: string): BuildReport {
  setBuiltIndex(lib, job.type, outcome.index, builtAt);
  return { mode: outcome.mode, reason: outcome.reason, inserted: outcome.inserted, removed: outcome.removed };
}

/** Makes `index`, which answers for every row now, the library's index. */
function setBuiltIndex(lib: Library, type: IndexType, index: VectorIndex, builtAt: string): void {
  const slotSeqs = type === 'linear' ? new Uint32Array(0) : lib.rowSeqs().slice();
  lib.setIndex({ type, built_at: builtAt, coveredBelowSeq: lib.nextSeq, slotSeqs, index });
}

/** A query that passed validation: its embedding (checked or embedded from its text) and k. */
export interface PreparedQuery {
  /** null for a text query. */
  vector: Float32Array | null;
  k: number;
  /** Candidate list size for an hnsw index; undefined: the index's own. */
  ef?: number;
  /** A text or hybrid query's terms and fusion; undefined for a vector query. */
  text?: TextQuery;
  /** Only chunks matching this are searched; null: every chunk. */
  filter?: Filter | null;
  explain?: boolean;
}

export interface SessionOptions {
  /** Threads for batched search (`queryBatch`: exact scans, and HNSW on a pool of workers); default: the machine's. */
  threads?: number;
  /** A filter ANDed into every query of the session (`query --stdin --where ...`). */
  filter?: FilterInput;
  /**
   * The caller keeps several `queryBatch` calls in flight (`query --stdin`):
   * pooled HNSW searches all go to `threads` workers, so this thread parses,
   * prepares and writes meanwhile instead of searching its share and waiting.
   */
  pipelined?: boolean;
  /** Queries known to come from which a pool opens (VDB_POOL_LINES), instead of where it earns its cost (QueryPools). */
  poolAt?: number;
}

/** Characters of the longest number JSON.stringify writes, and a comma: -1.2345678901234567e-308, */
const LONGEST_NUMBER = 25;
/** Characters of a query line besides its numbers: `{"embedding":[...],"k":10}` and room for a few more keys. */
const LINE_OVERHEAD = 64;

/** What the lines of a `query --stdin` are unless they say otherwise (its flags). */
export interface LineDefaults {
  mode?: SearchMode;
  explain?: boolean;
  ef?: number;
  k?: number;
}

/**
 * Whether a query is answered on its own rather than in a batch or a pool:
 * text and hybrid queries, filtered scans (they touch only their matches) and
 * explained queries (they report their own plan).
 */
function answeredAlone(q: { text?: unknown; filter?: unknown; explain?: boolean }): boolean {
  return Boolean(q.text || q.filter || q.explain);
}

/** The mean beam (max(ef, k)) of `queries` on `lib`'s index: what a pool would save on each. */
function meanBeam(lib: Library, queries: readonly PreparedQuery[]): number {
  const index = lib.indexState?.index as VectorIndex;
  let sum = 0;
  for (const q of queries) sum += beamOf(index, q.ef, q.k);
  return sum / queries.length;
}

/** A session's own pools: with `pipelined`, one worker per thread and none of the searching on this thread. */
function sessionPools(opts: SessionOptions): QueryPools {
  if (!opts.pipelined) return new QueryPools(opts.threads, false, undefined, opts.poolAt);
  const threads = threadCount(opts.threads);
  return threads >= 2 ? new QueryPools(threads + 1, true, undefined, opts.poolAt) : new QueryPools(threads);
}

/** Answers queries against one loaded library. */
export class QuerySession {
  private answered = 0;
  private batch: BatchSearch | null = null;
  /** Worker pools for an index that can be shared (HNSW): the service's (a server), else the session's own. */
  private readonly pools: QueryPools;
  private readonly ownPools: boolean;
  /** Vectors of texts embedded ahead by embedAhead, for the prepare calls that follow. */
  private ahead = new Map<string, Float32Array>();
  private readonly filter: Filter | null;

  /**
   * @param pools the service's pools, shared by its sessions; default: the session's own, closed with it
   * @throws InvalidFilter when the session's filter is bad
   */
  constructor(
    readonly lib: Library,
    private readonly opts: SessionOptions = {},
    pools?: QueryPools,
  ) {
    this.filter = opts.filter ? parseFilter(opts.filter) : null;
    this.ownPools = pools === undefined;
    this.pools = pools ?? sessionPools(opts);
  }

  async query(input: QueryInput, where?: string): Promise<QueryResult> {
    const [result] = await this.queryBatch([await this.prepare(input, where)]);
    return result;
  }

  /** Validates one query (embedding its text); `where` names it in errors, e.g. `line 3`. */
  async prepare(input: QueryInput, where?: string): Promise<PreparedQuery> {
    const lib = this.lib;
    // One query reads only what it touches; from the second on, sequential reads of everything pay off.
    if (++this.answered === 2) lib.preload();
    if (input === null || typeof input !== 'object') throw new InvalidInput(prefix(where, 'query must be a JSON object'));
    const k = input.k === undefined ? DEFAULT_K : checkK(input.k, where);
    if (input.text !== undefined) checkText(input.text, where);
    const text = checkTextQuery(lib, input, where) ?? undefined;
    let vector: Float32Array | null = null;
    if (text?.mode === 'text') {
      if (input.embedding !== undefined) throw new InvalidInput(prefix(where, 'a text query matches words, not an embedding; drop the embedding'), { hint: 'or use --mode hybrid for both' });
      if (input.ef !== undefined) throw new InvalidInput(prefix(where, 'ef sizes the vector search, and a text query has none'), { hint: 'drop ef, or use --mode hybrid' });
    } else if (input.embedding !== undefined) {
      // Hybrid takes both: the embedding for the vector search, the text for BM25 (a library without an embedder).
      if (input.text !== undefined && !text) throw new InvalidInput(prefix(where, 'give either text or embedding, not both'), { hint: 'or both with --mode hybrid' });
      vector = checkEmbedding(input.embedding, lib.dim, where);
    } else if (input.text !== undefined) {
      if (!lib.embedder) {
        const also = text ? `; a hybrid query on it needs the text's embedding too (${lib.dim} numbers), or use --mode text` : `; query it with an embedding of ${lib.dim} numbers, or its texts with --mode text`;
        throw new InvalidInput(prefix(where, `library "${lib.name}" has no embedder${also}`));
      }
      const early = this.ahead.get(input.text);
      [vector] = early ? [early] : await embedTexts(await openEmbedder(lib.embedder, lib.dim), [input.text], { inputType: 'query', metric: lib.metric, where: () => where });
    } else {
      throw new InvalidInput(prefix(where, 'a query needs text or embedding'));
    }
    if (vector) lib.checkVector(vector, where);
    const own = parseFilter({ filter: input.filter, where: input.where, ast: input.ast }, where);
    const filter = own && this.filter ? and([this.filter, own]) : (own ?? this.filter);
    if (input.explain !== undefined && typeof input.explain !== 'boolean') throw new InvalidInput(prefix(where, 'explain must be true or false'));
    // A filter that admits every chunk (`{}`, a Qdrant query without conditions) is no filter: the unfiltered search.
    return { vector, k, ef: this.efFor(input.ef, where), text, filter: filter?.kind === 'all' ? null : filter, explain: input.explain === true };
  }

  /**
   * Embeds the texts of several queries in one go (an HTTP provider gets one
   * request, not one per line) for the prepare calls that follow. Errors are
   * left to prepare: it reports them for the line that has them, as without this.
   */
  async embedAhead(texts: string[]): Promise<void> {
    this.ahead.clear();
    const lib = this.lib;
    if (!lib.embedder || texts.length < 2) return;
    try {
      const vectors = await embedTexts(await openEmbedder(lib.embedder, lib.dim), texts, { inputType: 'query', metric: lib.metric });
      texts.forEach((t, i) => this.ahead.set(t, vectors[i]));
    } catch {
      // prepare embeds line by line and names the line that fails.
    }
  }

  /**
   * Reads the index, and boots a pool's workers if they would pay, while the
   * first lines are still being parsed; the second query and the first batch
   * would do the same, later. `inputBytes` is counted as lines at the longest
   * an embedding line can be, so the count is a floor: text queries are shorter.
   * No workers boot when lines in `defaults`' mode would not use a pool.
   */
  warm(inputBytes: number, defaults: LineDefaults = {}): void {
    const lines = Math.floor(inputBytes / (this.lib.dim * LONGEST_NUMBER + LINE_OVERHEAD));
    if (lines < 2) return;
    this.lib.preload();
    // Lines that are text, hybrid, filtered or explained unless they say otherwise are answered one by one: no pool.
    const typical = { text: (defaults.mode ?? 'vector') === 'vector' ? undefined : {}, filter: this.filter?.kind === 'all' ? null : this.filter, explain: defaults.explain };
    const index = this.lib.indexState?.index;
    if (index && !answeredAlone(typical)) this.pools.prestartFor(this.lib, lines, beamOf(index, defaults.ef, defaults.k ?? DEFAULT_K));
  }

  /** A query's ef, checked; only an index with an ef_search option takes one. */
  private efFor(value: unknown, where?: string): number | undefined {
    if (value === undefined) return undefined;
    const ef = checkEf(value, where);
    const state = this.lib.indexState;
    if (!state || !INDEX_KINDS[state.type].options.some((o) => o.name === 'ef_search')) {
      const has = state ? `a ${state.type} index` : 'no index (queries scan exactly)';
      throw new InvalidInput(prefix(where, `ef applies to an hnsw index; library "${this.lib.name}" has ${has}`), { hint: 'drop ef, or build one with vdb index build --type hnsw' });
    }
    return ef;
  }

  /**
   * Answers prepared queries, in order, with the same hits as one `query`
   * each. On a library scanned exactly (no index, or linear) several queries
   * share each pass over the vectors, on up to `threads` threads; on an HNSW
   * index plain vector queries are spread over a pool of worker threads
   * sharing the graph and the rows (index/pool.ts).
   * @param ahead about how many queries follow this batch in the session, when
   *   the caller knows (`query --stdin < file`): a pool then opens at once if
   *   they earn its cost, and never if they do not (QueryPools.get)
   */
  async queryBatch(queries: PreparedQuery[], ahead?: number): Promise<QueryResult[]> {
    const lib = this.lib;
    const type = lib.indexState?.type ?? 'linear';
    const one = (q: PreparedQuery): QueryResult => answerPrepared(lib, q);
    const batched = queries.filter((q) => !answeredAlone(q));
    await this.pools.recover(lib);
    const revision = lib.revision;
    // A server's pool takes even a lone query: this thread goes on serving meanwhile.
    const pooled = type !== 'linear' && lib.size > 0 && batched.length >= (this.pools.offThread ? 1 : 2);
    const beam = pooled ? meanBeam(lib, batched) : undefined;
    const pool = pooled ? this.pools.get(lib, batched.length, ahead, beam) : null;
    if (lib.size === 0 || (batched.length < 2 && pool === null)) return queries.map(one);
    let ranked: Ranked[];
    if (type === 'linear') {
      const space = lib.searchSpace();
      if (this.batch?.rows.data !== space.data) {
        void this.batch?.close();
        this.batch = new BatchSearch(space, { threads: this.opts.threads });
      }
      ranked = await this.batch.search(
        batched.map((q) => prepareQuery(lib.metric, q.vector as Float32Array)),
        batched.map((q) => q.k),
      );
    } else {
      if (pool === null) return queries.map(one);
      const asked = batched.map((q) => ({ vector: prepareQuery(lib.metric, q.vector as Float32Array), k: q.k, ef: q.ef }));
      try {
        ranked = await pool.search(asked);
      } catch (err) {
        // A worker that failed fails only the searches it had: they go once more, to the pool that replaces it.
        if (!(err instanceof PoolWorkerFailed)) throw err;
        await this.pools.recover(lib);
        const fresh = this.pools.get(lib, batched.length, ahead, beam);
        if (fresh === null) return queries.map(one);
        ranked = await fresh.search(asked);
      }
    }
    // A write while other threads searched (a Node program writing to the library it queries) may have renumbered
    // the rows they ranked: answered as of now.
    if (lib.revision !== revision) return queries.map(one);
    let next = 0;
    return queries.map((q) => {
      if (answeredAlone(q)) return one(q);
      const { keys, dists } = ranked[next++];
      return { hits: toHits(lib, keys, dists) };
    });
  }

  /** Stops the threads of batched search, if any were started. */
  async close(): Promise<void> {
    await this.batch?.close();
    this.batch = null;
    if (this.ownPools) await this.pools.close();
  }
}

/**
 * Exact merge of the index's answer with an exact scan of what it does not cover.
 * @param ef the index's candidate list size for this query (hnsw), instead of its ef_search
 */
export function nearest(lib: Library, vector: Float32Array, k: number, ef?: number): Hit[] {
  return answer(lib, vector, k, ef).hits;
}

/** Answers one prepared query of any mode, its filter applied to every search it makes. */
export function answerPrepared(lib: Library, q: PreparedQuery): QueryResult {
  if (!q.text) return answer(lib, q.vector as Float32Array, q.k, q.ef, q.filter ?? null, q.explain === true);
  const filter = q.filter ?? null;
  const bits = filter ? lib.filterRows(filter) : null;
  const vector = q.text.mode === 'hybrid' ? nearestRows(lib, q.vector as Float32Array, depth(q.k), q.ef, filter) : null;
  const result = bits?.count() === 0 ? { mode: q.text.mode, hits: [] } : answerText(lib, q.text, q.k, vector, bits ? (row) => bits.has(row) : undefined);
  if (q.explain) {
    const terms = q.text.terms;
    const matches = bits ? bits.count() : null;
    const bm25 = `BM25 over the full-text index${bits ? ' among the matching chunks' : ''} for ${terms.length} term(s)`;
    result.explain = vector
      ? { ...vector.explain, reason: `${vector.explain.reason}; ${bm25}; fused by ${q.text.fusion}`, terms }
      : {
          plan: matches === 0 ? 'none' : 'text',
          index: null,
          filter: filter ? render(filter) : null,
          chunks: lib.size,
          matches,
          reason: matches === 0 ? 'no chunk matches the filter' : bm25,
          search: null,
          unindexed: 0,
          terms,
        };
  }
  return result;
}

/**
 * `nearest`, with a filter: the k nearest among the matching chunks, by the
 * plan of src/filter/planner.ts; with `explain`, the result says how.
 */
export function answer(lib: Library, vector: Float32Array, k: number, ef?: number, filter: Filter | null = null, explain = false): QueryResult {
  const ranked = nearestRows(lib, vector, k, ef, filter);
  const result: QueryResult = { hits: toHits(lib, ranked.rows, ranked.distances) };
  if (explain) result.explain = ranked.explain;
  return result;
}

/** The k nearest rows among those `filter` matches (all, without one) and their distances, nearest first; and how they were found. */
export function nearestRows(lib: Library, vector: Float32Array, k: number, ef?: number, filter: Filter | null = null): RankedRows & { explain: QueryExplain } {
  // Read only when used: the codes path needs no search space (which would read every row).
  let memo: SearchSpace | null = null;
  const space = (): SearchSpace => (memo ??= lib.searchSpace());
  const q = prepareQuery(lib.metric, vector);
  const top = new TopK(Math.min(k, lib.size));
  const state = lib.indexState;
  const unindexed = lib.unindexedRows();
  const bits = filter ? lib.filterRows(filter) : null;
  const matches = bits ? bits.count() : null;
  const plan = bits ? planFiltered({ matches: matches as number, rows: lib.size, dim: lib.dim, index: state?.type ?? null }) : null;
  let search: string | void = undefined;
  let ranked: { keys: Int32Array; dists: Float64Array } | null = null;
  // An exact query over rows still on disk reads their codes and the float rows of the candidates they leave.
  const coded = !bits && (state === null || state.type === 'linear') ? lib.nearestByCodes(q, k) : null;
  if (coded) {
    ranked = coded;
    search = 'int8 row codes, then the float rows of the candidates they leave';
  } else if (!bits) {
    // What every thread of a query pool computes (index/pool.ts), so pooled answers are these, bit for bit.
    const answer = nearestUnfiltered(state?.index ?? LINEAR, space(), unindexed, { vector: q, k, ef });
    ranked = answer;
    search = answer.note;
  } else if (plan?.kind === 'exact-scan') {
    scanAllowed(spaceScorer(space(), q), bits.words, lib.size, top);
  } else if (plan?.kind !== 'none') {
    // Unindexed rows first: a fuller heap lets an exact index prune more.
    let unindexedMatches = 0;
    if (unindexed.length > 0) {
      const score = spaceScorer(space(), q);
      for (const r of unindexed) {
        if (bits && !bits.has(r)) continue;
        top.push(score(r), r);
        unindexedMatches++;
      }
    }
    const rowFilter = bits && matches !== lib.size ? { bits: bits.words, count: (matches as number) - unindexedMatches } : undefined;
    search = (state?.index ?? LINEAR).search(q, space(), top, ef, rowFilter);
  }
  const { keys, dists } = ranked ?? top.drain();
  const type = state?.type ?? null;
  const exact = type === null || type === 'linear';
  const explain: QueryExplain = {
    plan: plan?.kind ?? (exact ? 'exact-scan' : 'index'),
    index: type,
    filter: filter ? render(filter) : null,
    chunks: lib.size,
    matches,
    reason: plan?.reason ?? (exact ? `${type === null ? 'no index' : 'linear index'}: exact scan of every chunk` : `no filter: the ${type} index searches every chunk`),
    search: search ?? null,
    unindexed: plan?.kind === 'exact-scan' || exact ? 0 : unindexed.length,
  };
  return { rows: keys, distances: Float64Array.from(dists, (d) => presentDistance(lib.metric, d)), explain };
}

function toHits(lib: Library, rows: Int32Array, dists: Float64Array): Hit[] {
  return Array.from(rows, (row, i) => {
    const c = lib.chunkAt(row);
    const distance = presentDistance(lib.metric, dists[i]);
    return { id: c.id, doc_id: c.doc_id ?? null, text: c.text, score: scoreOf(lib.metric, distance), distance, metadata: c.metadata };
  });
}

/** A hit's score as Qdrant reports it: cosine similarity, the dot product, the Euclidean distance. */
export function scoreOf(metric: Metric, distance: number): number {
  return metric === 'l2' ? distance : metric === 'cosine' ? 1 - distance : -distance;
}

/** Cosine distance is 1 - cos in [0, 2]; rounding on unit vectors can stray just outside. */
function presentDistance(metric: Metric, d: number): number {
  return metric === 'cosine' ? Math.min(2, Math.max(0, d)) : d;
}

