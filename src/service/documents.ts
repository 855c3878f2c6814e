/**
 * Document use cases: add (with the user's own ids or generated ones, and
 * fail / skip / replace for ids that exist), list, get, update, and delete
 * with all their chunks in the same atomic change. As in service.ts, every
 * check runs before the first change, so a refused request writes nothing.
 */
import type { Document, DocumentPatch, DocumentView, NewDocument } from '../domain/documents.js';
import { Conflict, InvalidInput } from '../domain/errors.js';
import { quote, sameJson } from '../domain/model.js';
import type { Library } from '../domain/model.js';
import type { AddOutcome, OnConflict } from '../domain/types.js';
import { checkId, checkMetadata, checkOnConflict, checkTitle, prefix } from '../domain/validate.js';
import { newId } from './ids.js';
import { replaceDocuments } from './replace.js';
import type { DocumentReplacement, ReplaceContext, ReplaceFailure, ReplaceOptions, ReplaceResult } from './replace.js';

/** What the document use cases need of the service. */
export type DocumentContext = ReplaceContext;

export interface AddDocumentOptions {
  onConflict?: OnConflict;
  /** Names item i in error messages, e.g. `line ${i + 1}`. */
  where?: (i: number) => string | undefined;
}

export class DocumentService {
  constructor(private readonly ctx: DocumentContext) {}

  /** A page of the library's documents, in id order. Counting their chunks reads every chunk record. */
  list(libRef: string, opts: { offset?: number; limit?: number } = {}): { total: number; documents: DocumentView[] } {
    const lib = this.ctx.store.read().library(libRef);
    const all = lib.documents.list();
    const offset = opts.offset ?? 0;
    const page = all.slice(offset, opts.limit === undefined ? undefined : offset + opts.limit);
    const counts = page.length > 0 ? lib.documentChunkCounts() : new Map<string, number>();
    return { total: all.length, documents: page.map((d) => documentView(lib, d, counts.get(d.id) ?? 0)) };
  }

  /** One document; `libRef` names its library (needed when several hold the id). */
  get(id: string, libRef?: string): DocumentView {
    const { lib, doc } = this.ctx.store.read().document(id, libRef);
    return documentView(lib, doc, lib.documentChunkCounts().get(id) ?? 0);
  }

  /**
   * Adds documents as one atomic change. An id that exists in the library is
   * a conflict, or with `onConflict` left as it is (skip) or replaced (title
   * and metadata; created_at kept; identical means unchanged).
   */
  async add(libRef: string, items: NewDocument[], opts: AddDocumentOptions = {}): Promise<{ documents: DocumentView[]; outcomes: AddOutcome[] }> {
    const where = opts.where ?? ((i: number) => (items.length > 1 ? `document ${i + 1}` : undefined));
    const onConflict = checkOnConflict(opts.onConflict ?? 'fail');
    if (items.length === 0) throw new InvalidInput('give at least one document');
    const first = new Map<string, number>();
    const checked = items.map((item, i) => {
      const at = where(i);
      if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new InvalidInput(prefix(at, 'document must be a JSON object'));
      const id = item.id === undefined ? undefined : checkId(item.id, 'id', at);
      if (id !== undefined) {
        const seen = first.get(id);
        if (seen !== undefined) throw new InvalidInput(prefix(at, `id ${quote(id)} is given twice (also ${where(seen) ?? `item ${seen + 1}`})`));
        first.set(id, i);
      }
      return { id, title: item.title === undefined ? null : checkTitle(item.title, at), metadata: item.metadata === undefined ? {} : checkMetadata(item.metadata, at) };
    });
    return this.ctx.store.update((db) => {
      const lib = db.library(libRef);
      const existing = checked.map((c, i) => {
        const doc = c.id === undefined ? undefined : lib.documents.get(c.id);
        if (doc && onConflict === 'fail') throw documentConflict(doc.id, lib, where(i));
        return doc;
      });
      for (const c of checked) if (c.id !== undefined) db.claimId(c.id);
      const now = this.ctx.now();
      const outcomes: AddOutcome[] = [];
      const docs = checked.map((c, i): Document => {
        const old = existing[i];
        if (!old) {
          const doc = { id: c.id ?? newId(db, 'doc', this.ctx.seed), title: c.title, metadata: c.metadata, created_at: now, updated_at: now };
          lib.documents.put(doc);
          outcomes.push('added');
          return doc;
        }
        if (onConflict === 'skip' || (old.title === c.title && sameJson(old.metadata, c.metadata))) {
          outcomes.push(onConflict === 'skip' ? 'skipped' : 'unchanged');
          return old;
        }
        const doc = { ...old, title: c.title, metadata: c.metadata, updated_at: now };
        lib.documents.put(doc);
        outcomes.push('replaced');
        return doc;
      });
      if (outcomes.some((o) => o === 'added' || o === 'replaced')) lib.updated_at = now;
      db.changed();
      // Only documents that were there can have chunks.
      const counts = existing.some((d) => d) ? lib.documentChunkCounts() : new Map<string, number>();
      return { documents: docs.map((d) => documentView(lib, d, counts.get(d.id) ?? 0)), outcomes };
    });
  }

  /**
   * Replaces each document with exactly the chunks given, as one atomic
   * change (see replace.ts): what `vdb ingest` writes per batch of files.
   */
  async replace(libRef: string, items: DocumentReplacement[], opts: ReplaceOptions = {}): Promise<(ReplaceResult | ReplaceFailure)[]> {
    return replaceDocuments(this.ctx, libRef, items, opts);
  }

  /** Replaces the title and/or metadata given. */
  async update(id: string, patch: DocumentPatch, libRef?: string): Promise<DocumentView> {
    if (patch === null || typeof patch !== 'object') throw new InvalidInput('a document patch must be a JSON object');
    const title = patch.title === undefined ? undefined : checkTitle(patch.title);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    if (title === undefined && metadata === undefined) throw new InvalidInput('nothing to update: give a title and/or metadata');
    return this.ctx.store.update((db) => {
      const { lib, doc } = db.document(id, libRef);
      const now = this.ctx.now();
      const next: Document = { ...doc, title: title === undefined ? doc.title : title, metadata: metadata ?? doc.metadata, updated_at: now };
      lib.documents.put(next);
      lib.updated_at = now;
      return documentView(lib, next, lib.documentChunkCounts().get(id) ?? 0);
    });
  }

  /**
   * Deletes the documents and every chunk that names them, as one atomic
   * change; none of them if any id is unknown. The views count the chunks deleted.
   */
  async delete(ids: string[], libRef?: string): Promise<DocumentView[]> {
    if (ids.length === 0) throw new InvalidInput('give at least one document id');
    return this.ctx.store.update((db) => {
      const found = [...new Set(ids)].map((id) => db.document(id, libRef));
      const byLib = new Map<Library, Set<string>>();
      for (const { lib, doc } of found) {
        if (!byLib.has(lib)) byLib.set(lib, new Set());
        byLib.get(lib)!.add(doc.id);
      }
      const deleted = new Map<string, number>();
      const now = this.ctx.now();
      for (const [lib, docIds] of byLib) {
        const rows = new Set<number>();
        lib.chunks.forEach((c, r) => {
          if (c.doc_id === undefined || !docIds.has(c.doc_id)) return;
          rows.add(r);
          const key = `${lib.id}\n${c.doc_id}`;
          deleted.set(key, (deleted.get(key) ?? 0) + 1);
        });
        if (rows.size > 0) lib.removeRows(rows);
        for (const id of docIds) lib.documents.delete(id);
        lib.updated_at = now;
      }
      db.changed();
      return found.map(({ lib, doc }) => documentView(lib, doc, deleted.get(`${lib.id}\n${doc.id}`) ?? 0));
    });
  }
}

function documentView(lib: Library, d: Document, chunkCount: number): DocumentView {
  return { id: d.id, lib_id: lib.id, title: d.title, metadata: d.metadata, chunk_count: chunkCount, created_at: d.created_at, updated_at: d.updated_at };
}

function documentConflict(id: string, lib: Library, at: string | undefined): Conflict {
  return new Conflict(prefix(at, `document ${quote(id)} already exists in library ${quote(lib.name)}`), {
    hint: 'to replace it or leave it: --on-conflict replace|skip ("on_conflict" over REST)',
  });
}
