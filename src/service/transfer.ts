/**
 * Export and import of whole libraries (format in transfer/format.ts).
 * Export streams: lines are made one at a time from the loaded database.
 * Import applies everything it read as one atomic change, after checking
 * all of it: any problem, and nothing is imported.
 */
import { Conflict, InvalidInput, NotFound } from '../domain/errors.js';
import { Library, quote, sameBits, sameJson } from '../domain/model.js';
import type { Chunk, Database } from '../domain/model.js';
import type { AddOutcome, BuildReport, OnConflict } from '../domain/types.js';
import type { ImportedLibraryReport } from '../domain/wire.js';
import { outcomeCounts } from '../domain/types.js';
import { checkOnConflict, prefix } from '../domain/validate.js';
import type { SnapshotStore } from '../store/store.js';
import { chunkLine, documentLine, headerLine, libraryLine } from '../transfer/format.js';
import type { ImportedLibrary, ImportReader } from '../transfer/format.js';
import { newId, randomUint32 } from './ids.js';
import type { Progress } from './service.js';
import { checkIndexParams, refreshIndex } from './service.js';
import { buildTextIndex } from './search.js';

export interface TransferContext {
  readonly store: SnapshotStore;
  readonly now: () => string;
  readonly seed?: string;
}

export interface ImportOptions {
  /** A library name, document or chunk id that exists: refused (fail, the default), left as it is (skip) or replaced. */
  onConflict?: OnConflict;
  /** Progress of the index builds. */
  onProgress?: Progress;
}

/** What `vdb import` did to one library. */
export type { ImportedLibraryReport };

export class TransferService {
  constructor(private readonly ctx: TransferContext) {}

  /**
   * The export of the given libraries (default: all), line by line (see `exportLines`).
   * @throws NotFound for an unknown library
   */
  exportLines(libRefs: string[] = []): Generator<string> {
    return exportLines(this.ctx.store.read(), libRefs);
  }

  /**
   * Imports what `reader` read, as one atomic change. A library is created
   * with its id (a new one if that is taken) unless one of its name exists:
   * that is a conflict, or with skip / replace the documents and chunks are
   * merged into it (same dim, metric and embedder required), each existing
   * id left as it is or replaced. Indexes are built again: a created library
   * gets the export's index, a merged one its own index brought up to date
   * (with replace: the export's).
   */
  async import(reader: ImportReader, opts: ImportOptions = {}): Promise<ImportedLibraryReport[]> {
    const onConflict = checkOnConflict(opts.onConflict ?? 'fail');
    if (reader.libraries.length === 0) throw new InvalidInput('nothing to import: no library lines', { hint: 'make an export with vdb export' });
    const indexParams = reader.libraries.map(checkedIndexParams);
    return this.ctx.store.update((db) => {
      // Every check first: a refused import writes nothing.
      const plans = reader.libraries.map((L) => planLibrary(L, db.libraries.find((l) => l.name === L.name) ?? null, onConflict));
      return plans.map((plan, li) => writeLibrary(db, this.ctx, plan, indexParams[li], onConflict, { final: true, onProgress: opts.onProgress }));
    });
  }

  /**
   * The checks import makes before it writes, for an import sent in batches
   * (importBatch): each library's name, dim, metric and embedder against
   * this database, and the documents its chunks name that are not in the
   * export (`outside`, by library id) against the library they merge into.
   * Writes nothing.
   */
  checkImport(reader: ImportReader, opts: { onConflict?: OnConflict; outside?: Record<string, string[]> } = {}): void {
    const onConflict = checkOnConflict(opts.onConflict ?? 'fail');
    reader.libraries.forEach(checkedIndexParams);
    const db = this.ctx.store.read();
    for (const L of reader.libraries) {
      const target = db.libraries.find((l) => l.name === L.name) ?? null;
      planLibrary(L, target, onConflict);
      for (const id of opts.outside?.[L.id] ?? []) {
        if (!target?.documents.has(id)) throw new NotFound(`a chunk of library ${quote(L.name)} names document ${quote(id)}, which is neither in the export nor in the library`);
      }
    }
  }

  /**
   * One batch of an import of one library, as one atomic change: the first
   * (no `into`) creates the library or merges into the one of its name as
   * import does; the next ones (`into`: what the first made) add their
   * documents and chunks to it. The last builds the indexes import builds.
   */
  async importBatch(reader: ImportReader, opts: ImportBatchOptions): Promise<ImportedLibraryReport> {
    const onConflict = checkOnConflict(opts.onConflict ?? 'fail');
    if (reader.libraries.length !== 1) throw new InvalidInput(`an import batch holds one library line, got ${reader.libraries.length}`);
    const [L] = reader.libraries;
    const params = checkedIndexParams(L);
    return this.ctx.store.update((db) => {
      const into = opts.into;
      if (!into) return writeLibrary(db, this.ctx, planLibrary(L, db.libraries.find((l) => l.name === L.name) ?? null, onConflict), params, onConflict, { final: opts.last, changed: opts.changed });
      const target = db.libraries.find((l) => l.id === into.id);
      if (!target || target.name !== L.name) throw new Conflict(`library ${quote(L.name)} (${into.id}) was deleted or renamed during the import`, { hint: 'import again' });
      // Ids this import added itself come again only from a repeat of this batch: replace leaves them as they are.
      const mode: OnConflict = into.created ? 'replace' : onConflict;
      return writeLibrary(db, this.ctx, planLibrary(L, target, mode, true), params, mode, { final: opts.last, changed: opts.changed, created: into.created, keepLibrary: true });
    });
  }
}

export interface ImportBatchOptions {
  onConflict?: OnConflict;
  /** The library the import's first batch of it made or merged into. */
  into?: { id: string; created: boolean };
  /** The library's last batch: its indexes are built. */
  last: boolean;
  /** Chunks were added or replaced by the earlier batches (the index is brought up to date for them too). */
  changed?: boolean;
}

function checkedIndexParams(L: ImportedLibrary): Record<string, number> | null {
  if (!L.index) return null;
  try {
    return checkIndexParams(L.index.type, L.index.params);
  } catch (err) {
    throw new InvalidInput(prefix(`line ${L.line}`, (err as Error).message));
  }
}

/** Writes one planned library (the caller commits); `final`: its indexes are built, as import does at the end. */
function writeLibrary(
  db: Database,
  ctx: TransferContext,
  plan: LibraryPlan,
  params: Record<string, number> | null,
  onConflict: OnConflict,
  opts: { final: boolean; changed?: boolean; created?: boolean; keepLibrary?: boolean; onProgress?: Progress },
): ImportedLibraryReport {
  const L = plan.source;
  let lib = plan.target;
  const created = opts.created ?? lib === null;
  const now = ctx.now();
  if (!lib) {
    const id = db.hasId(L.id) ? newId(db, 'lib', ctx.seed) : L.id;
    lib = new Library({ id, name: L.name, dim: L.dim, metric: L.metric, embedder: L.embedder, metadata: L.metadata, created_at: L.created_at, updated_at: L.updated_at, nextSeq: 0 });
    db.libraries.push(lib);
    db.claimId(id);
  } else if (!opts.keepLibrary && onConflict === 'replace' && !sameJson(lib.metadata, L.metadata)) {
    lib.metadata = L.metadata;
    lib.updated_at = now;
  }
  const target = lib;
  L.documents.forEach((d, i) => {
    const outcome = plan.docOutcomes[i];
    if (outcome === 'added' || outcome === 'replaced') target.documents.put({ id: d.id, title: d.title, metadata: d.metadata, created_at: d.created_at, updated_at: d.updated_at });
  });
  if (plan.target === null) {
    // The chunks as read, and their vectors in the buffer they were read into: nothing is copied.
    lib.append(L.chunks, L.vectors.all());
  } else {
    const added: Chunk[] = [];
    const vectors: Float32Array[] = [];
    L.chunks.forEach((c, i) => {
      const outcome = plan.chunkOutcomes[i];
      if (outcome === 'added') {
        added.push(c);
        vectors.push(L.vectors.row(i));
      } else if (outcome === 'replaced') {
        const row = plan.chunkRows[i];
        const { seq, text } = target.chunks[row];
        target.chunks[row] = { ...c, seq };
        if (!sameBits(target.vectorAt(row), L.vectors.row(i))) target.replaceVector(row, L.vectors.row(i));
        else if (c.text !== text) target.renew(row);
        target.markEdited(row);
      }
    });
    lib.append(added, vectors);
  }
  const docCounts = outcomeCounts(plan.docOutcomes);
  const chunkCounts = outcomeCounts(plan.chunkOutcomes);
  if (!created && docCounts.added + docCounts.replaced + chunkCounts.added + chunkCounts.replaced > 0) lib.updated_at = now;
  db.changed();
  if (!opts.final) return { id: lib.id, name: lib.name, created, documents: docCounts, chunks: chunkCounts, index: null, text_index: null };
  const randomKey = () => (ctx.seed !== undefined ? `${ctx.seed}:index:${db.nextId++}` : randomUint32());
  let index: BuildReport | null = null;
  const changedRows = opts.changed === true || chunkCounts.added + chunkCounts.replaced > 0;
  const current = lib.indexView();
  const wanted = created || onConflict === 'replace' ? L.index : null;
  const asWanted = current !== null && wanted !== null && current.type === wanted.type && sameJson(current.params, params);
  if (wanted && (created || changedRows || !asWanted)) {
    index = refreshIndex(lib, wanted.type, params!, { full: true, builtAt: now, randomKey, onProgress: opts.onProgress });
  } else if (!created && onConflict === 'replace' && !wanted && lib.indexState) {
    lib.setIndex(null);
  } else if (!created && !wanted && lib.indexState && changedRows) {
    index = refreshIndex(lib, lib.indexState.type, {}, { builtAt: now, randomKey, onProgress: opts.onProgress });
  }
  // The full-text index as the export had it, or the merged library's own, brought up to date.
  const text = L.textIndex || lib.text.stored ? buildTextIndex(lib, now) : null;
  return { id: lib.id, name: lib.name, created, documents: docCounts, chunks: chunkCounts, index, text_index: text };
}

interface LibraryPlan {
  source: ImportedLibrary;
  target: Library | null;
  docOutcomes: AddOutcome[];
  chunkOutcomes: AddOutcome[];
  /** Row in `target` of each chunk that exists there; -1 otherwise. */
  chunkRows: number[];
}

/** What importing `L` does, item by item; throws for what it may not do, before anything changes. */
function planLibrary(L: ImportedLibrary, target: Library | null, onConflict: OnConflict, continued = false): LibraryPlan {
  const at = `line ${L.line}`;
  if (target && !continued) {
    if (onConflict === 'fail') {
      throw new Conflict(`${at}: library ${quote(L.name)} already exists`, { hint: 'import into another database, or merge with --on-conflict skip|replace' });
    }
    const mine = `${target.dim} dims, ${target.metric}, embedder ${target.embedder ?? 'none'}`;
    const theirs = `${L.dim} dims, ${L.metric}, embedder ${L.embedder ?? 'none'}`;
    if (mine !== theirs) throw new Conflict(`${at}: library ${quote(L.name)} exists with ${mine}; the export has ${theirs}`, { hint: 'import into another database, or rename the library first' });
  }
  const docOutcomes = L.documents.map((d): AddOutcome => {
    const old = target?.documents.get(d.id);
    if (!old) return 'added';
    if (onConflict === 'skip') return 'skipped';
    const same = old.title === d.title && sameJson(old.metadata, d.metadata) && old.created_at === d.created_at && old.updated_at === d.updated_at;
    return same ? 'unchanged' : 'replaced';
  });
  const inFile = new Set(L.documents.map((d) => d.id));
  const chunkRows: number[] = [];
  const chunkOutcomes = L.chunks.map((c, i): AddOutcome => {
    const row = target ? target.rowOf(c.id) : -1;
    chunkRows.push(row);
    if (row >= 0 && onConflict === 'skip') return 'skipped';
    if (c.doc_id !== undefined && !inFile.has(c.doc_id) && !target?.documents.has(c.doc_id)) {
      throw new NotFound(`line ${L.chunkLines[i]}: document ${quote(c.doc_id)} is neither in the export nor in library ${quote(L.name)}`);
    }
    if (row < 0) return 'added';
    const old = target!.chunkAt(row);
    const same =
      old.text === c.text &&
      old.doc_id === c.doc_id &&
      sameJson(old.metadata, c.metadata) &&
      sameJson(old.tags, c.tags) &&
      old.created_at === c.created_at &&
      old.updated_at === c.updated_at &&
      sameBits(target!.readVector(row), L.vectors.row(i));
    return same ? 'unchanged' : 'replaced';
  });
  return { source: L, target, docOutcomes, chunkOutcomes, chunkRows };
}

/**
 * The export of `db`'s libraries named in `libRefs` (default: all), line by
 * line; a server streams it as `GET /api/v1/export`. Reads each library's
 * rows as it gets to them; nothing is held as one string.
 * @throws NotFound for an unknown library, at once (before the first line)
 */
export function exportLines(db: Database, libRefs: string[] = []): Generator<string> {
  const libs = libRefs.length === 0 ? db.libraries : [...new Set(libRefs.map((ref) => db.library(ref)))];
  return (function* () {
    yield headerLine();
    for (const lib of libs) {
      yield libraryLine(lib);
      for (const d of lib.documents.list()) yield documentLine(lib, d);
      for (let r = 0; r < lib.size; r++) yield chunkLine(lib, r);
    }
  })();
}

/**
 * Export lines (or pieces of them) joined into pieces of at least `size`
 * characters, the last one shorter: a write per line would cost more than the
 * lines. What `vdb export` writes to stdout and `GET /api/v1/export` to the socket.
 */
export async function* exportPieces(lines: Iterable<string> | AsyncIterable<string>, size = 1 << 20): AsyncGenerator<string> {
  let buf = '';
  for await (const line of lines) {
    buf += line;
    if (buf.length >= size) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
