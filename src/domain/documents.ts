/**
 * Documents: Library → Document → Chunk. A document groups chunks (a file, a
 * web page) and carries its own title and metadata; a chunk names its
 * document by `doc_id` (or null). Document ids are unique per library: the
 * user's own (a path, a URL) or generated (`doc_` + 16 hex digits).
 *
 * A library's documents are kept in id order. In a large snapshot they stay
 * in their sidecar file (LazyDocuments) and are read one by one as they are
 * asked for, so adding chunks that name documents reads a record or two per
 * document, not all of them; what changes lives in an overlay until the next
 * snapshot folds it in.
 */
import type { Metadata } from './types.js';

export interface Document {
  id: string;
  /** null: no title. */
  title: string | null;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
}

/** Wire form of a document (`doc get --json`, REST bodies). */
export interface DocumentView extends Document {
  lib_id: string;
  /** Chunks that name this document. */
  chunk_count: number;
}

/** A library's documents still in a snapshot's sidecar, read as they are asked for. */
export interface LazyDocuments {
  readonly count: number;
  /** The document with this id, or null; reads and checks the record (or two, on a hash collision). @throws CorruptSnapshot */
  find(id: string): Document | null;
  /** Every document, in id order, read and checked. @throws CorruptSnapshot */
  all(): Document[];
  close(): void;
}

/** `doc add`: the id is generated when absent; an empty title is none. */
export interface NewDocument {
  id?: string;
  title?: string | null;
  metadata?: Metadata;
}

/** `doc update`: the fields given replace the old ones. */
export interface DocumentPatch {
  title?: string | null;
  metadata?: Metadata;
}

/** What changed since `trackChanges()`, in the shape a log record carries: both in id order. */
export interface DocumentChanges {
  /** Documents created or changed: their resulting records. */
  put: Document[];
  /** Ids of documents that existed when tracking began and are gone now. */
  removed: string[];
}

/** The documents of one library, by id. */
export class Documents {
  private base: LazyDocuments | null = null;
  /** Every document; while `base` is set, only those put since (an overlay). */
  private map = new Map<string, Document>();
  /** While `base` is set: its documents deleted since, and those read so far. */
  private gone = new Set<string>();
  private read = new Map<string, Document>();
  private count = 0;
  private ordered: Document[] | null = null;
  /** id → whether it existed when tracking began. */
  private tracked: Map<string, boolean> | null = null;

  constructor(docs: readonly Document[] = []) {
    for (const d of docs) this.map.set(d.id, d);
    this.count = this.map.size;
  }

  /** Leaves the documents on disk until asked for; must hold none yet. */
  setLazy(base: LazyDocuments): void {
    if (this.count > 0 || this.base) throw new Error('setLazy on documents already held');
    this.base = base;
    this.count = base.count;
  }

  get size(): number {
    return this.count;
  }

  get(id: string): Document | undefined {
    const d = this.map.get(id);
    if (d !== undefined || !this.base || this.gone.has(id)) return d;
    const known = this.read.get(id);
    if (known) return known;
    // Past a sixteenth of them, one sequential read of all beats reading them one by one.
    if (this.read.size > this.base.count / 16) {
      this.materialize();
      return this.map.get(id);
    }
    // A miss costs a look at the id table, no read: only hits are kept.
    const found = this.base.find(id);
    if (!found) return undefined;
    this.read.set(id, Object.freeze(found));
    return found;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Creates or replaces the document with `doc.id`. */
  put(doc: Document): void {
    const existed = this.note(doc.id);
    this.map.set(doc.id, doc);
    if (!existed) this.count++;
    this.ordered = null;
  }

  /** Deletes the document; false if there was none. */
  delete(id: string): boolean {
    const existed = this.note(id);
    if (!existed) return false;
    this.map.delete(id);
    if (this.base) this.gone.add(id);
    this.count--;
    this.ordered = null;
    return true;
  }

  /** Every document in id order (reads them all first if they are still on disk). */
  list(): readonly Document[] {
    if (this.ordered) return this.ordered;
    this.materialize();
    return (this.ordered = [...this.map.values()].sort(byId));
  }

  /** Starts recording changes for the store's log (see DocumentChanges). */
  trackChanges(): void {
    this.tracked = new Map();
  }

  /** Stops recording; what changed, or null when nothing did. */
  takeChanges(): DocumentChanges | null {
    const tracked = this.tracked;
    this.tracked = null;
    if (!tracked || tracked.size === 0) return null;
    const put: Document[] = [];
    const removed: string[] = [];
    for (const [id, existed] of tracked) {
      const now = this.get(id);
      if (now) put.push(now);
      else if (existed) removed.push(id);
    }
    if (put.length === 0 && removed.length === 0) return null;
    put.sort(byId);
    removed.sort();
    return { put, removed };
  }

  /** Releases the sidecar once everything is in memory. */
  close(): void {
    this.base?.close();
  }

  /** Records `id` as touched; returns whether it exists now. */
  private note(id: string): boolean {
    const existed = this.has(id);
    if (this.tracked && !this.tracked.has(id)) this.tracked.set(id, existed);
    return existed;
  }

  private materialize(): void {
    const base = this.base;
    if (!base) return;
    const all = new Map<string, Document>();
    for (const d of base.all()) if (!this.gone.has(d.id)) all.set(d.id, d);
    for (const [id, d] of this.map) all.set(id, d);
    base.close();
    this.base = null;
    this.map = all;
    this.gone.clear();
    this.read.clear();
    this.count = all.size;
  }
}

function byId(a: Document, b: Document): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
