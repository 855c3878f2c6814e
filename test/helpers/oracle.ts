/** Brute-force exact kNN: the reference every index is checked against. */
import { distance, prepareData, prepareQuery } from '../../src/index/kernels.js';
import type { Metric } from '../../src/index/kernels.js';
import type { SearchSpace } from '../../src/index/types.js';
import { seededRandom } from '../../src/domain/random.js';

export interface Ranked {
  rows: number[];
  dists: number[];
}

/** Top k rows of `space` by (distance, row), over the rows `alive` allows. */
export function oracle(space: SearchSpace, query: Float32Array, k: number, alive: (row: number) => boolean = () => true): Ranked {
  const all: [number, number][] = [];
  for (let r = 0; r < space.rows; r++) {
    if (alive(r)) all.push([distance(space.metric, query, space.data, r * space.dim, space.dim), r]);
  }
  all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const top = all.slice(0, k);
  return { rows: top.map((t) => t[1]), dists: top.map((t) => t[0]) };
}

export function makeSpace(metric: Metric, raw: Float32Array, dim: number): SearchSpace {
  return { metric, dim, data: prepareData(metric, raw, dim), rows: raw.length / dim, slotToRow: null };
}

export { prepareQuery };

/** Gaussian clusters: `clusters` centres, points = centre + noise, row-major. */
export function clustered(n: number, dim: number, clusters: number, noise: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, () => rnd.gaussian()));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rnd.next() * clusters)];
    for (let d = 0; d < dim; d++) out[i * dim + d] = c[d] + noise * rnd.gaussian();
  }
  return out;
}

/** Fraction of the oracle's top-k rows that `got` contains (ties counted by distance). */
export function recall(got: number[], truth: Ranked, gotDists: number[]): number {
  if (truth.rows.length === 0) return 1;
  const kth = truth.dists[truth.dists.length - 1];
  const truthSet = new Set(truth.rows);
  let hits = 0;
  got.forEach((row, i) => {
    if (truthSet.has(row) || gotDists[i] <= kth) hits++;
  });
  return Math.min(1, hits / truth.rows.length);
}
