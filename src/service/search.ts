/**
 * Full-text search over a library (BM25, src/text), kept fresh as vector
 * coverage is: the stored index plus the rows written since, read one record
 * each (src/text/state.ts).
 */
import type { Library } from '../domain/model.js';
import type { SnapshotStore } from '../store/store.js';
import type { Bm25Index } from '../text/bm25.js';
import type { TextBuildReport } from '../text/state.js';

/** The library's full-text index holding exactly its current texts (in memory; nothing is written). */
export function freshTextIndex(lib: Library): Bm25Index {
  return lib.text.fresh(lib.rowSeqs(), (rows, each) => lib.forEachText(rows, each));
}

/** Brings the library's stored full-text index up to date (creating it); the caller commits. */
export function buildTextIndex(lib: Library, builtAt: string): TextBuildReport {
  return lib.text.build(lib.rowSeqs(), (rows, each) => lib.forEachText(rows, each), builtAt);
}

/**
 * Stores the library's full-text index brought up to date, as one commit,
 * when `wanted(lib)` says so (on the state read before the lock); null when not.
 */
export async function persistTextIndex(svc: { readonly store: SnapshotStore; readonly now: () => string }, ref: string, wanted: (lib: Library) => boolean = () => true): Promise<TextBuildReport | null> {
  if (!wanted(svc.store.read().library(ref))) return null;
  return svc.store.update((db) => buildTextIndex(db.library(ref), svc.now()));
}
