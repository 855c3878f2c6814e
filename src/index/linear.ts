import { rowScorer, scan, scanAllowed } from './kernels.js';
import type { TopK } from './topk.js';
import type { IndexKind, RowFilter, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

/** Exact scan over every current row. Holds no state, so it is never stale. */
export class LinearIndex implements VectorIndex {
  readonly type = 'linear' as const;
  readonly slots = 0;

  params(): Record<string, number> {
    return {};
  }

  search(query: Float32Array, space: SearchSpace, top: TopK, _ef?: number, filter?: RowFilter): void {
    if (filter) scanAllowed(rowScorer(space.metric, query, space.data, space.dim), filter.bits, space.rows, top);
    else scan(space.metric, query, space.data, space.dim, 0, space.rows, top);
  }

  serialize(): SerializedIndex {
    return { params: {}, arrays: {} };
  }
}

export const linearKind: IndexKind = {
  type: 'linear',
  exact: true,
  description: 'exact scan of every chunk; no build cost, O(n·dim) per query',
  options: [],
  build: () => new LinearIndex(),
  from: () => new LinearIndex(),
};
