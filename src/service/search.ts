/**
 * Text and hybrid search over a library.
 *
 * - text: BM25 (src/text/bm25.ts) over the chunk texts, from the library's
 *   full-text index kept fresh as vector coverage is: the stored index plus
 *   the rows written since, read once each (src/text/state.ts). Nothing is
 *   written by a query.
 * - hybrid: the vector search's and the text search's best HYBRID_DEPTH (or
 *   2k, if more) candidates, fused (src/text/fusion.ts): reciprocal rank
 *   fusion by default, or min-max scaled scores weighted by alpha.
 *
 * A filter restricts both searches to the same rows; BM25's statistics still
 * count every chunk, so filtering never changes a score.
 */
import { InvalidInput } from '../domain/errors.js';
import type { Library } from '../domain/model.js';
import type { FusionMethod, Hit, QueryResult, SearchMode } from '../domain/types.js';
import { FUSION_METHODS, SEARCH_MODES } from '../domain/types.js';
import { prefix } from '../domain/validate.js';
import type { SnapshotStore } from '../store/store.js';
import { scoreOf } from './service.js';
import type { Bm25Index } from '../text/bm25.js';
import { fuse } from '../text/fusion.js';
import type { TextBuildReport } from '../text/state.js';
import { analyze } from '../text/tokenizer.js';

/**
 * Hybrid's defaults, from bench/retrieval.mjs (WordNet usage examples → their
 * definitions, recall@10): score fusion with alpha 0.3 came within 0.002 of
 * the better single mode with letters (0.069 against BM25's 0.071) and beat
 * both with glove (0.080 against 0.071 and 0.063), where reciprocal rank
 * fusion lost 0.016 and 0.004. Alpha 0.2 did as well here; 0.3 leaves more
 * weight to an embedder better than these.
 */
export const DEFAULT_FUSION: FusionMethod = 'score';
export const DEFAULT_ALPHA = 0.3;
/** Candidates each mode hands to the fusion (at least 2k). */
export const HYBRID_DEPTH = 100;

/** What a text or hybrid query searches for, checked. */
export interface TextQuery {
  mode: 'text' | 'hybrid';
  /** The query's terms (the analyzer's), at least one. */
  terms: string[];
  fusion: FusionMethod;
  alpha: number;
}

/** A vector search's rows and their lower-is-nearer distances, nearest first. */
export interface RankedRows {
  rows: Int32Array;
  distances: Float64Array;
}

/**
 * The mode of a query that does not name one: hybrid (fusion or alpha given,
 * or a text on a library with a full-text index and a way to the query's
 * vector), text (such a library without an embedder), else vector, as queries
 * were before modes existed: a library nobody made a full-text index for
 * answers as it always did.
 */
export function defaultMode(lib: Library, input: { text?: unknown; embedding?: unknown; fusion?: unknown; alpha?: unknown }): SearchMode {
  if (input.fusion !== undefined || input.alpha !== undefined) return 'hybrid';
  if (input.text === undefined || lib.text.stored === null) return 'vector';
  return lib.embedder !== null || input.embedding !== undefined ? 'hybrid' : 'text';
}

/**
 * Checks a query's mode, fusion and alpha: null for a vector query, else what
 * to search for. The rules of every surface (CLI, NDJSON lines, REST).
 * @throws InvalidInput naming `where`
 */
export function checkTextQuery(lib: Library, input: { mode?: unknown; fusion?: unknown; alpha?: unknown; text?: unknown; embedding?: unknown }, where?: string): TextQuery | null {
  const implicit = input.mode === undefined;
  const mode = input.mode ?? defaultMode(lib, input);
  if (!(SEARCH_MODES as readonly unknown[]).includes(mode)) throw new InvalidInput(prefix(where, `mode must be one of ${SEARCH_MODES.join(', ')}, got ${JSON.stringify(mode)}`));
  if (mode !== 'hybrid' && (input.fusion !== undefined || input.alpha !== undefined)) {
    throw new InvalidInput(prefix(where, `${input.fusion !== undefined ? 'fusion' : 'alpha'} applies to hybrid queries; this one is ${mode}`), { hint: 'add --mode hybrid ("mode": "hybrid")' });
  }
  if (mode === 'vector') return null;
  const fusion = input.fusion ?? DEFAULT_FUSION;
  if (!(FUSION_METHODS as readonly unknown[]).includes(fusion)) throw new InvalidInput(prefix(where, `fusion must be one of ${FUSION_METHODS.join(', ')}, got ${JSON.stringify(fusion)}`));
  if (input.alpha !== undefined && fusion !== 'score') throw new InvalidInput(prefix(where, 'alpha weighs score fusion; reciprocal rank fusion has no weight'), { hint: 'add --fusion score ("fusion": "score"), or drop alpha' });
  const alpha = input.alpha ?? DEFAULT_ALPHA;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw new InvalidInput(prefix(where, `alpha must be a number from 0 to 1, got ${JSON.stringify(alpha)}`));
  if (typeof input.text !== 'string') throw new InvalidInput(prefix(where, `a ${mode} query needs a text`), { hint: mode === 'text' ? 'give --text ("text")' : 'give --text, and --embedding too on a library without an embedder' });
  const terms = analyze(input.text);
  // Not asked for by name: a text of stop words is searched by its vector alone, as before modes.
  if (terms.length === 0 && implicit && mode === 'hybrid' && input.fusion === undefined && input.alpha === undefined) return null;
  if (terms.length === 0) {
    throw new InvalidInput(prefix(where, `the query text ${JSON.stringify(input.text.slice(0, 80))} has no searchable words (only stop words, punctuation or nothing)`), {
      hint: mode === 'hybrid' ? 'give words to match, or use --mode vector' : 'give words to match',
    });
  }
  return { mode: mode as 'text' | 'hybrid', terms, fusion: fusion as FusionMethod, alpha };
}

/**
 * Answers a text or hybrid query.
 * @param vector for hybrid: the vector search's ranked rows (at least `depth(k)` long, or all matching)
 * @param accept the rows a filter lets through; undefined: all
 */
export function answerText(lib: Library, q: TextQuery, k: number, vector: RankedRows | null, accept?: (row: number) => boolean): QueryResult {
  const index = freshTextIndex(lib);
  const rowOf = rowsBySeq(lib);
  const want = q.mode === 'text' ? k : depth(k);
  // Keyed (and ties ordered) by row, as vector hits are.
  const text = index.search(q.terms, want, accept ? (seq) => accept(rowOf[seq]) : undefined, (seq) => rowOf[seq]);
  if (q.mode === 'text') {
    return { mode: 'text', hits: text.map((t, i) => hit(lib, t.key, t.score, null, { rank: i + 1, score: t.score })) };
  }
  const v = vector as RankedRows;
  const distanceOf = new Map<number, number>();
  const vectorList = Array.from(v.rows, (row, i) => {
    distanceOf.set(row, v.distances[i]);
    return { key: row, score: -v.distances[i] };
  });
  const fused = fuse(vectorList, text, k, { method: q.fusion, alpha: q.alpha });
  return {
    mode: 'hybrid',
    hits: fused.map((f) => {
      const d = f.vector ? (distanceOf.get(f.key) as number) : null;
      return hit(lib, f.key, f.score, f.vector && d !== null ? { rank: f.vector.rank, distance: d } : null, f.text);
    }),
  };
}

/** How many candidates hybrid asks each mode for. */
export function depth(k: number): number {
  return Math.max(HYBRID_DEPTH, 2 * k);
}

function hit(lib: Library, row: number, score: number, vector: { rank: number; distance: number } | null, text: { rank: number; score: number } | null): Hit {
  const c = lib.chunkAt(row);
  return {
    id: c.id,
    doc_id: c.doc_id ?? null,
    text: c.text,
    score,
    distance: vector?.distance ?? null,
    metadata: c.metadata,
    modes: { vector: vector && { rank: vector.rank, score: scoreOf(lib.metric, vector.distance), distance: vector.distance }, text },
  };
}

const bySeq = new WeakMap<Uint32Array, Int32Array>();

/** seq → row for the library's current rows (cached with its row seqs, which change with any write). */
function rowsBySeq(lib: Library): Int32Array {
  const seqs = lib.rowSeqs();
  let map = bySeq.get(seqs);
  if (!map) {
    map = new Int32Array(lib.nextSeq).fill(-1);
    for (let r = 0; r < seqs.length; r++) map[seqs[r]] = r;
    bySeq.set(seqs, map);
  }
  return map;
}

/** The library's full-text index holding exactly its current texts (in memory; nothing is written). */
export function freshTextIndex(lib: Library): Bm25Index {
  return lib.text.fresh(lib.rowSeqs(), (rows, each) => lib.forEachText(rows, each));
}

/** Brings the library's stored full-text index up to date (creating it); the caller commits. */
export function buildTextIndex(lib: Library, builtAt: string): TextBuildReport {
  return lib.text.build(lib.rowSeqs(), (rows, each) => lib.forEachText(rows, each), builtAt);
}

/** The full-text index is worth storing after a bulk write when the library has at most this many chunks ... */
export const TEXT_INDEX_SMALL = 20_000;

/**
 * ... or when at least 1/16 of its rows wait to be indexed: below that, a
 * large database is not rewritten for a small change (text queries index the
 * few new rows themselves).
 */
export function textIndexWorthStoring(lib: Library): boolean {
  const view = lib.text.view(lib.rowSeqs());
  if (!view) return true;
  const pendingRows = view.unindexed + view.stale;
  return pendingRows > 0 && (lib.size <= TEXT_INDEX_SMALL || pendingRows * 16 >= lib.size);
}

/**
 * Stores the library's full-text index brought up to date, as one commit,
 * when `wanted(lib)` says so (on the state read before the lock); null when not.
 */
export async function persistTextIndex(svc: { readonly store: SnapshotStore; readonly now: () => string }, ref: string, wanted: (lib: Library) => boolean = () => true): Promise<TextBuildReport | null> {
  if (!wanted(svc.store.read().library(ref))) return null;
  return svc.store.update((db) => buildTextIndex(db.library(ref), svc.now()));
}
