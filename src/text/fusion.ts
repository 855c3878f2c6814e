/**
 * Hybrid search: fusing the ranked lists of the vector and the full-text
 * search into one. Pure functions over (key, score) lists, best first.
 *
 * - Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): a hit's
 *   fused score is Σ 1 / (RRF_K + rank) over the lists it is in, rank from 1,
 *   RRF_K = 60. Only ranks count, so the two modes' scales never matter.
 * - Score fusion (Weaviate's relativeScore): each list's scores are scaled to
 *   [0, 1] by min-max over that list (all equal: 1), and fused as
 *   alpha · vector + (1 − alpha) · text, a list a hit is not in giving 0.
 *   alpha = 1 is vector only, 0 text only.
 *
 * Ties on the fused score go to the hit with the better best rank in any
 * list, then to the smaller key. Input scores are "higher is better": pass
 * −distance for a vector search.
 */

export type Mode = 'vector' | 'text';

export interface ScoredKey {
  key: number;
  score: number;
}

export interface ModeHit {
  /** 1-based rank in that mode's list. */
  rank: number;
  /** That mode's own score, as given. */
  score: number;
}

export interface FusedHit {
  key: number;
  /** The fused score (RRF sum, or the weighted scaled scores). */
  score: number;
  vector: ModeHit | null;
  text: ModeHit | null;
}

/** How hybrid fuses its two lists: reciprocal rank fusion, or min-max scaled scores weighted by alpha. */
export type FusionMethod = 'rrf' | 'score';
export const FUSION_METHODS: readonly FusionMethod[] = ['rrf', 'score'];

export const RRF_K = 60;

export interface FusionOptions {
  method: FusionMethod;
  /** Score fusion's weight of the vector list, in [0, 1]. */
  alpha: number;
}

/**
 * Fuses the two lists (each best first, keys unique within a list) and keeps the k best.
 * @throws Error on alpha outside [0, 1] or a repeated key in a list
 */
export function fuse(vector: readonly ScoredKey[], text: readonly ScoredKey[], k: number, options: FusionOptions): FusedHit[] {
  if (!(options.alpha >= 0 && options.alpha <= 1)) throw new Error(`alpha must be in [0, 1], got ${options.alpha}`);
  const byKey = new Map<number, FusedHit>();
  const add = (list: readonly ScoredKey[], mode: Mode) => {
    list.forEach(({ key, score }, i) => {
      let hit = byKey.get(key);
      if (hit === undefined) byKey.set(key, (hit = { key, score: 0, vector: null, text: null }));
      if (hit[mode] !== null) throw new Error(`key ${key} is twice in the ${mode} list`);
      hit[mode] = { rank: i + 1, score };
    });
  };
  add(vector, 'vector');
  add(text, 'text');
  const hits = [...byKey.values()];
  if (options.method === 'rrf') {
    for (const h of hits) h.score = (h.vector ? 1 / (RRF_K + h.vector.rank) : 0) + (h.text ? 1 / (RRF_K + h.text.rank) : 0);
  } else {
    const v = scaler(vector);
    const t = scaler(text);
    const a = options.alpha;
    for (const h of hits) h.score = a * (h.vector ? v(h.vector.score) : 0) + (1 - a) * (h.text ? t(h.text.score) : 0);
  }
  hits.sort((x, y) => y.score - x.score || bestRank(x) - bestRank(y) || x.key - y.key);
  return hits.slice(0, Math.max(0, k));
}

function bestRank(h: FusedHit): number {
  return Math.min(h.vector?.rank ?? Infinity, h.text?.rank ?? Infinity);
}

/** Min-max scaling to [0, 1] over one list; a list of equal scores scales to 1. */
function scaler(list: readonly ScoredKey[]): (score: number) => number {
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const span = max - min;
  return span > 0 ? (s) => (s - min) / span : () => 1;
}
