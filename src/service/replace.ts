/**
 * "Replace this document with exactly these chunks", for several documents
 * in one atomic change (one log record or one rewrite): what `vdb ingest`
 * does with each batch of new and changed files. A crash leaves every
 * document of the batch as it was or as it was asked to be, never between.
 *
 * Per document: it is created, or its title and metadata replaced (identical:
 * unchanged, created_at kept); each chunk given is added, or replaced in place
 * when the document has a chunk with its id (identical: unchanged, so a
 * re-run changes nothing); the document's other chunks are deleted.
 *
 * With `isolate`, a document whose input is invalid (a bad id or metadata, a
 * text its embedder refuses, a chunk id held by a chunk of another document)
 * is left out and reported, and the others are written; without it the first
 * such problem fails the call and nothing is written.
 */
import { Conflict, InvalidInput, NotFound, VdbError } from '../domain/errors.js';
import { quote, sameJson } from '../domain/model.js';
import type { Chunk, Library } from '../domain/model.js';
import type { Metadata, NewChunk } from '../domain/types.js';
import { checkId, checkMetadata, checkTitle, prefix } from '../domain/validate.js';
import type { SnapshotStore } from '../store/store.js';
import type { ReplaceFailureView, ReplaceResultView } from '../domain/wire.js';
import { newId } from './ids.js';
import type { PreparedChunk, Progress } from './service.js';
import { replaceChunk } from './service.js';

export interface DocumentReplacement {
  id: string;
  title?: string | null;
  metadata?: Metadata;
  /** The document's chunks afterwards. Ids are unique in the library (generated when absent); `doc_id` is the document's. */
  chunks: NewChunk[];
}

/** What became of a document (the wire's ReplaceResultView). */
export type ReplaceResult = ReplaceResultView;

export interface ReplaceFailure {
  id: string;
  error: VdbError;
}

export interface ReplaceOptions {
  /** Leave out and report the documents whose input is invalid, instead of failing the call. */
  isolate?: boolean;
  /** Chunks validated and embedded so far, of all. */
  onProgress?: Progress;
}

/** The wire form of a document left out (REST answers, the cluster's log): its error as code and message. */
export type { ReplaceFailureView };

/**
 * Documents checked and embedded, ready to be written by replaceDocuments on
 * a service that embeds nothing (a cluster's replicas): each chunk carries
 * its id and its `embedding`. `failed` holds, by input position, the
 * documents left out (only with `isolate`).
 */
export interface PreparedReplacements {
  ready: { at: number; item: DocumentReplacement }[];
  failed: Map<number, VdbError>;
}

/** What replacing needs of the service. */
export interface ReplaceContext {
  readonly store: SnapshotStore;
  readonly now: () => string;
  readonly seed?: string;
  prepareChunks(lib: Library, items: NewChunk[], where: (i: number) => string | undefined, onProgress?: Progress, skip?: ReadonlySet<number>, embed?: boolean): Promise<PreparedChunk[]>;
}

interface Checked {
  id: string;
  title: string | null;
  metadata: Metadata;
  chunkIds: (string | undefined)[];
  prepared: PreparedChunk[];
}

/** Results in input order: each document's outcome, or why it was left out (only with `isolate`). */
export async function replaceDocuments(ctx: ReplaceContext, libRef: string, items: DocumentReplacement[], opts: ReplaceOptions = {}): Promise<(ReplaceResult | ReplaceFailure)[]> {
  const { target, checked, failed, fail } = await check(ctx, libRef, items, opts);
  return ctx.store.update((db) => {
    const lib = db.library(libRef);
    if (lib.id !== target.id || lib.dim !== target.dim || lib.embedder !== target.embedder) throw new Conflict(`library ${quote(libRef)} changed while replacing documents`, { hint: 'retry' });
    // Every check before the first change.
    checked.forEach((c, i) => {
      if (!c || failed.has(i)) return;
      try {
        checkChunkOwners(lib, c);
      } catch (err) {
        fail(i, err);
      }
    });
    const todo = checked.flatMap((c, i) => (c && !failed.has(i) ? [{ c, i }] : []));
    const now = ctx.now();
    const results = new Map<number, ReplaceResult>();
    for (const { c, i } of todo) results.set(i, { id: c.id, document: 'added', chunks: { added: 0, replaced: 0, unchanged: 0, removed: 0 } });
    // Removals first, in one go: the change stays in the shape of one log record.
    const removed = oldRowsToRemove(lib, todo.map(({ c }) => c));
    if (removed.rows.size > 0) lib.removeRows(removed.rows);
    const added: Chunk[] = [];
    const addedVectors: Float32Array[] = [];
    for (const { c, i } of todo) {
      const r = results.get(i) as ReplaceResult;
      r.chunks.removed = removed.perDocument.get(c.id) ?? 0;
      const old = lib.documents.get(c.id);
      if (!old) lib.documents.put({ id: c.id, title: c.title, metadata: c.metadata, created_at: now, updated_at: now });
      else if (old.title === c.title && sameJson(old.metadata, c.metadata)) r.document = 'unchanged';
      else {
        lib.documents.put({ ...old, title: c.title, metadata: c.metadata, updated_at: now });
        r.document = 'replaced';
      }
      c.prepared.forEach((p, j) => {
        const id = c.chunkIds[j];
        const row = id === undefined ? -1 : lib.rowOf(id);
        if (row >= 0) {
          r.chunks[replaceChunk(lib, row, p, now)]++;
          return;
        }
        const chunk: Chunk = { id: id ?? newId(db, 'chk', ctx.seed), doc_id: c.id, text: p.text, metadata: p.metadata, tags: p.tags, created_at: now, updated_at: now, seq: 0 };
        db.claimId(chunk.id);
        added.push(chunk);
        addedVectors.push(p.vector);
        r.chunks.added++;
      });
    }
    lib.append(added, addedVectors);
    const changed = [...results.values()].some((r) => r.document !== 'unchanged' || r.chunks.added + r.chunks.replaced + r.chunks.removed > 0);
    if (changed) lib.updated_at = now;
    db.changed();
    return items.map((item, i) => results.get(i) ?? { id: String(item?.id), error: failed.get(i) as VdbError });
  });
}

/**
 * Every check replaceDocuments makes before it writes, and the embedding, with
 * the embedder even on a service that embeds nothing by itself: a cluster's
 * leader prepares a `doc.replace` entry with it. Writes nothing.
 */
export async function prepareReplacements(ctx: ReplaceContext, libRef: string, items: DocumentReplacement[], opts: ReplaceOptions = {}): Promise<PreparedReplacements> {
  const { checked, failed } = await check(ctx, libRef, items, opts, true);
  const ready = checked.flatMap((c, i) => {
    if (!c || failed.has(i)) return [];
    const chunks = c.prepared.map((p, j): NewChunk => ({ id: c.chunkIds[j], text: p.text, metadata: p.metadata, tags: p.tags, embedding: p.vector }));
    return [{ at: i, item: { id: c.id, title: c.title, metadata: c.metadata, chunks } }];
  });
  return { ready, failed };
}

/** A failure as the wire carries it. */
export function failureView(f: ReplaceFailure): ReplaceFailureView {
  return { id: f.id, error: { code: f.error.code, message: f.error.message, ...(f.error.hint === undefined ? {} : { hint: f.error.hint }) } };
}

async function check(ctx: ReplaceContext, libRef: string, items: DocumentReplacement[], opts: ReplaceOptions, embed?: boolean) {
  if (!Array.isArray(items) || items.length === 0) throw new InvalidInput('give at least one document');
  const failed = new Map<number, VdbError>();
  const fail = (i: number, err: unknown) => {
    if (!opts.isolate || !isItemError(err)) throw err;
    failed.set(i, err as VdbError);
  };
  const target = ctx.store.read().library(libRef);
  const checked: (Checked | null)[] = items.map(() => null);
  const docIds = new Set<string>();
  const chunkIds = new Set<string>();
  items.forEach((item, i) => {
    try {
      checked[i] = checkItem(item, docIds, chunkIds);
    } catch (err) {
      fail(i, err);
    }
  });
  await prepare(ctx, target, items, checked, opts.isolate === true, fail, opts.onProgress, embed);
  return { target, checked, failed, fail };
}

/** Only problems of one document's input are left out with `isolate`; anything else (a provider down, the disk) fails the call. */
function isItemError(err: unknown): boolean {
  return err instanceof InvalidInput || err instanceof Conflict || err instanceof NotFound;
}

function checkItem(item: DocumentReplacement, docIds: Set<string>, chunkIds: Set<string>): Checked {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new InvalidInput('a document replacement must be a JSON object');
  const id = checkId(item.id, 'id');
  const at = `document ${quote(id)}`;
  if (docIds.has(id)) throw new InvalidInput(`${at} is given twice`);
  if (!Array.isArray(item.chunks)) throw new InvalidInput(`${at}: chunks must be an array`);
  const title = item.title === undefined ? null : checkTitle(item.title, at);
  const metadata = item.metadata === undefined ? {} : checkMetadata(item.metadata, at);
  const mine = new Set<string>();
  const ids = item.chunks.map((ch, j) => {
    const where = `${at}, chunk ${j + 1}`;
    if (ch === null || typeof ch !== 'object') throw new InvalidInput(`${where}: chunk must be a JSON object`);
    if (ch.doc_id !== undefined && ch.doc_id !== null && ch.doc_id !== id) throw new InvalidInput(`${where}: doc_id ${quote(String(ch.doc_id))} is not its document`);
    if (ch.id === undefined) return undefined;
    const cid = checkId(ch.id, 'id', where);
    if (mine.has(cid) || chunkIds.has(cid)) throw new InvalidInput(`${where}: chunk id ${quote(cid)} is given twice`, { hint: 'each chunk needs its own id' });
    mine.add(cid);
    return cid;
  });
  docIds.add(id);
  for (const cid of mine) chunkIds.add(cid);
  return { id, title, metadata, chunkIds: ids, prepared: [] };
}

/** Validates and embeds every chunk in one batch; if that fails and items may be left out, item by item to find which. */
async function prepare(
  ctx: ReplaceContext,
  lib: Library,
  items: DocumentReplacement[],
  checked: (Checked | null)[],
  isolate: boolean,
  fail: (i: number, err: unknown) => void,
  onProgress?: Progress,
  embed?: boolean,
): Promise<void> {
  const live = checked.flatMap((c, i) => (c ? [i] : []));
  const flat: NewChunk[] = [];
  const owner: { i: number; j: number }[] = [];
  for (const i of live) {
    items[i].chunks.forEach((ch, j) => {
      flat.push({ ...ch, id: undefined, doc_id: (checked[i] as Checked).id });
      owner.push({ i, j });
    });
  }
  const where = (k: number) => `document ${quote((checked[owner[k].i] as Checked).id)}, chunk ${owner[k].j + 1}`;
  try {
    const prepared = await ctx.prepareChunks(lib, flat, where, onProgress, undefined, embed);
    prepared.forEach((p, k) => (checked[owner[k].i] as Checked).prepared.push(p));
    return;
  } catch (err) {
    if (live.length === 1) return fail(live[0], err);
    if (!isolate || !isItemError(err)) throw err;
  }
  for (const i of live) {
    const c = checked[i] as Checked;
    try {
      c.prepared = await ctx.prepareChunks(lib, items[i].chunks.map((ch) => ({ ...ch, id: undefined, doc_id: c.id })), (j) => `document ${quote(c.id)}, chunk ${j + 1}`, undefined, undefined, embed);
    } catch (err) {
      fail(i, err);
    }
  }
}

/** A chunk id of the document that is held by a chunk of another document (or of none) is a conflict. */
function checkChunkOwners(lib: Library, c: Checked): void {
  c.chunkIds.forEach((id, j) => {
    if (id === undefined) return;
    const row = lib.rowOf(id);
    if (row < 0) return;
    const owner = lib.chunkAt(row).doc_id;
    if (owner !== c.id) {
      const whose = owner === undefined ? 'a chunk in no document' : `a chunk of document ${quote(owner)}`;
      throw new Conflict(prefix(`document ${quote(c.id)}, chunk ${j + 1}`, `chunk id ${quote(id)} is taken by ${whose}`), { hint: 'give the chunk another id, or delete that chunk first' });
    }
  });
}

/**
 * Rows of the documents' chunks that are not among their new chunk ids. Reads
 * every chunk record once when any of the documents exists already; new
 * documents have no chunks, so adding only new ones reads none.
 */
function oldRowsToRemove(lib: Library, docs: Checked[]): { rows: Set<number>; perDocument: Map<string, number> } {
  const rows = new Set<number>();
  const perDocument = new Map<string, number>();
  const keep = new Map<string, Set<string>>();
  for (const c of docs) if (lib.documents.has(c.id)) keep.set(c.id, new Set(c.chunkIds.filter((id): id is string => id !== undefined)));
  if (keep.size === 0) return { rows, perDocument };
  lib.chunks.forEach((chunk, r) => {
    const ids = chunk.doc_id === undefined ? undefined : keep.get(chunk.doc_id);
    if (!ids || ids.has(chunk.id)) return;
    rows.add(r);
    perDocument.set(chunk.doc_id as string, (perDocument.get(chunk.doc_id as string) ?? 0) + 1);
  });
  return { rows, perDocument };
}
