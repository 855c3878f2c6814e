import type { Metric } from '../index/kernels.js';
import type { IndexType } from '../index/types.js';
import type { Filter } from '../filter/ast.js';
import type { FusionMethod } from '../text/fusion.js';
import type { TextBuildReport, TextIndexView } from '../text/state.js';

export type { Metric, IndexType, TextBuildReport, TextIndexView };

/** A JSON object: the only shape metadata may take. */
export type Metadata = Record<string, unknown>;

/** What a library is, as stored and as shown. */
export interface LibraryFields {
  id: string;
  name: string;
  dim: number;
  metric: Metric;
  embedder: string | null;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
}

/** Wire form of a library (`lib show --json`, REST bodies). */
export interface LibraryView extends LibraryFields {
  chunk_count: number;
  document_count: number;
  index: IndexView | null;
  /** The full-text index (BM25) a build stored; null: none (text queries index every chunk in memory). */
  text_index: TextIndexView | null;
}

/** Wire form of a chunk; `embedding` only when asked for. */
export interface ChunkView {
  id: string;
  lib_id: string;
  /** The chunk's document, or null. */
  doc_id: string | null;
  text: string;
  metadata: Metadata;
  tags: string[];
  created_at: string;
  updated_at: string;
  embedding?: number[];
}

/** What an index covers (`index show --json`). */
export interface IndexView {
  type: IndexType;
  exact: boolean;
  params: Record<string, number>;
  built_at: string;
  /** Chunks the index structure answers for. */
  indexed: number;
  /** Chunks added or re-embedded since the build: scanned exactly on every query. */
  unindexed: number;
  /** Index entries whose chunk was deleted or re-embedded since: skipped. */
  stale: number;
}

/** What `index build` did, with the index it left (`index build --json`, `POST …/index`). */
export interface IndexBuildView extends IndexView {
  build: BuildReport;
  /** The full-text index after the build; null: there is none. */
  text_index: TextIndexView | null;
  /** What the build did to it; null: it was left alone. */
  text_build: TextBuildReport | null;
}

export interface BuildReport {
  /**
   * full: built from scratch; incremental: chunks added or re-embedded since
   * were inserted into the index and stale entries removed; none: it was up to date.
   */
  mode: 'full' | 'incremental' | 'none';
  /** Why a full build (e.g. "no index yet", "full build requested"); null otherwise. */
  reason: string | null;
  /** Chunks inserted into the index (every chunk for a full build). */
  inserted: number;
  /** Entries of deleted or re-embedded chunks removed from the index. */
  removed: number;
}

export interface Hit {
  id: string;
  doc_id: string | null;
  text: string;
  /**
   * Vector mode: what Qdrant reports for the metric, cosine similarity (1 − distance)
   * and the dot product (−distance), higher is nearer; for l2 the Euclidean distance,
   * lower is nearer. Text mode: the BM25 score; hybrid: the fused score (both higher is better).
   */
  score: number;
  /**
   * Lower is nearer for every metric: cosine 1 − similarity, l2 Euclidean, dot −(q·x);
   * null for a text or hybrid hit the vector search did not find.
   */
  distance: number | null;
  metadata: Metadata;
  /** Text and hybrid queries: how each mode ranked the hit (null: that mode did not find it). */
  modes?: HitModes;
}

/** A text or hybrid hit's rank (from 1) and score in each mode. */
export interface HitModes {
  vector: { rank: number; score: number; distance: number } | null;
  text: { rank: number; score: number } | null;
}

/** How a query searches: nearest vectors, BM25 over the texts, or both fused. */
export type SearchMode = 'vector' | 'text' | 'hybrid';
export const SEARCH_MODES: readonly SearchMode[] = ['vector', 'text', 'hybrid'];
export { FUSION_METHODS } from '../text/fusion.js';
export type { FusionMethod } from '../text/fusion.js';

export interface QueryResult {
  /** Text and hybrid queries only (a vector query's result is as before modes existed). */
  mode?: 'text' | 'hybrid';
  hits: Hit[];
  /** Only when asked for (`--explain`, `"explain": true`). */
  explain?: QueryExplain;
}

/** How a query was answered (`vdb query --explain`). */
export interface QueryExplain {
  /** index: the library's index searched (among the matching chunks, with a filter); exact-scan: every (matching) chunk scored; text: BM25 alone (a text query); none: no chunk matches. Hybrid: the vector search's plan. */
  plan: 'index' | 'exact-scan' | 'text' | 'none';
  /** The library's index type; null without one. */
  index: IndexType | null;
  /** The filter as vdb read it, or null. */
  filter: string | null;
  chunks: number;
  /** Chunks the filter matches (null without a filter). */
  matches: number | null;
  /** Why this plan. */
  reason: string;
  /** What the index did, when it says (e.g. its filtered graph walk); null otherwise. */
  search: string | null;
  /** Chunks added or re-embedded since the index was built, scanned exactly beside it. */
  unindexed: number;
  /** Text and hybrid queries: the terms BM25 matched (the analyzer's). */
  terms?: string[];
}

export interface NewLibrary {
  name: string;
  dim?: number;
  metric?: Metric;
  /** Embedder name, or null for explicit embeddings only. */
  embedder?: string | null;
  metadata?: Metadata;
}

export interface LibraryPatch {
  name?: string;
  metadata?: Metadata;
}

/** What to do when a chunk or document id being added exists already. */
export type OnConflict = 'fail' | 'skip' | 'replace';
export const ON_CONFLICT: readonly OnConflict[] = ['fail', 'skip', 'replace'];

/** What adding one item did: a new one, an existing one replaced (or found identical), or left as it was. */
export type AddOutcome = 'added' | 'replaced' | 'unchanged' | 'skipped';

/** How many items had each outcome (REST answers, CLI summaries). */
export function outcomeCounts(outcomes: readonly AddOutcome[]): Record<AddOutcome, number> {
  const counts = { added: 0, replaced: 0, unchanged: 0, skipped: 0 };
  for (const o of outcomes) counts[o]++;
  return counts;
}

export interface NewChunk {
  /** The user's own id, unique in the library; generated when absent. */
  id?: string;
  /** A document of the library. */
  doc_id?: string | null;
  text?: string;
  embedding?: ArrayLike<number>;
  metadata?: Metadata;
  tags?: string[];
}

export interface ChunkPatch {
  /** Moves the chunk to this document of its library; null: to none. */
  doc_id?: string | null;
  text?: string;
  embedding?: ArrayLike<number>;
  metadata?: Metadata;
  tags?: string[];
}

export interface QueryInput {
  text?: string;
  embedding?: ArrayLike<number>;
  k?: number;
  /** Candidate list size for this query; only for an index with an `ef_search` option (hnsw). */
  ef?: number;
  /** vector, text (BM25 over the chunk texts) or hybrid (both, fused); the default: src/service/search.ts. */
  mode?: SearchMode;
  /** Hybrid: score (the default) or rrf. */
  fusion?: FusionMethod;
  /** Hybrid with score fusion: the vector list's weight, 0 … 1 (default DEFAULT_ALPHA). */
  alpha?: number;
  /** A JSON filter (a value, or its text; src/filter/parse.ts): only matching chunks are searched. */
  filter?: unknown;
  /** `--where` shorthand expressions, ANDed with each other and with `filter`. */
  where?: string | readonly string[];
  /** A filter compiled to the AST already (src/filter/ast.ts; Qdrant's filters), ANDed with the others. */
  ast?: Filter;
  /** Add `explain` to the result: which plan ran and why. */
  explain?: boolean;
}

export const DEFAULT_K = 10;
/** Larger k is refused: it would return most of a library and is almost always a mistake. */
export const MAX_K = 10_000;
/** Range of a query's `ef`, as of the hnsw `ef_search` option. */
export const MAX_EF = 10_000;

/** What `vdb compact` did. */
export interface CompactView {
  /** 1: one JSON file; 2: a manifest with sidecar files and a log. */
  format_version: number;
  /** The manifest's generation after compacting (0 for format 1). */
  generation: number;
  /** Log records folded into the new generation. */
  log_records_folded: number;
  log_bytes_folded: number;
  /** Bytes of the snapshot now: manifest plus sidecars. */
  snapshot_bytes: number;
}
