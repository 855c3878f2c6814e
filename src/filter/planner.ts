/**
 * The per-query plan of a filtered search. The filter's matches are counted
 * exactly from the filter columns first (a bitmap's popcount), then:
 *
 *   no match                   nothing to search
 *   no index, or linear        exact scan of the matching rows
 *   hnsw                       the index, among the matches only: it scans
 *                              the int8 vectors of up to 64·ef matches (or
 *                              more when the filter is away from the query),
 *                              else walks its graph (hnsw.ts)
 *   kdtree, lsh, few matches   exact scan of them: cheaper than the index's
 *                              walk, and exact (Qdrant's full_scan_threshold)
 *   kdtree, lsh, otherwise     the index, offering matching rows only
 *
 * When every row matches, an index plan runs the index's own unfiltered
 * search: the same hits, at its unfiltered recall and speed.
 *
 * "Few" is a cost: scanning m rows reads m·dim floats. Up to
 * EXACT_SCAN_FLOATS (4 MB of vectors: 2,730 rows at 384 dims) a scan costs
 * about what an index search does at that size.
 */
import { percent, thousands } from '../domain/format.js';
import type { IndexType } from '../index/types.js';

export const EXACT_SCAN_FLOATS = 1 << 20;

export type PlanKind = 'none' | 'exact-scan' | 'index';

export interface Plan {
  kind: PlanKind;
  reason: string;
}

export interface PlanInput {
  /** Matching rows. */
  matches: number;
  rows: number;
  dim: number;
  /** The library's index; null or linear: exact scans only. */
  index: IndexType | null;
}

export function planFiltered(p: PlanInput): Plan {
  const share = p.rows === 0 ? 0 : p.matches / p.rows;
  const of = `${thousands(p.matches)} of ${thousands(p.rows)} chunks match (${percent(share)})`;
  if (p.matches === 0) return { kind: 'none', reason: 'no chunk matches the filter' };
  // Nothing to leave out: the unfiltered search gives the same hits, at its own recall and speed.
  if (p.index === null || p.index === 'linear') return { kind: 'exact-scan', reason: `${of}; ${p.index === null ? 'no index' : 'linear index'}: exact scan of the matching chunks` };
  if (p.index === 'hnsw') return { kind: 'index', reason: p.matches === p.rows ? `${of}: every chunk matches, so the hnsw index searches as without a filter` : `${of}: the hnsw index searches among them` };
  if (p.matches * p.dim <= EXACT_SCAN_FLOATS) {
    return { kind: 'exact-scan', reason: `${of}: an exact scan of them (up to ${thousands(Math.floor(EXACT_SCAN_FLOATS / p.dim))} at ${p.dim} dims) costs less than the ${p.index} search and finds every neighbour` };
  }
  return { kind: 'index', reason: `${of}: too many for an exact scan, so the ${p.index} index searches among them` };
}

