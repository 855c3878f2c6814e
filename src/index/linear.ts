import { scan } from './kernels.js';
import type { TopK } from './topk.js';
import type { IndexKind, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

/** Exact scan over every current row. Holds no state, so it is never stale. */
export class LinearIndex implements VectorIndex {
  readonly type = 'linear' as const;
  readonly slots = 0;

  params(): Record<string, number> {
    return {};
  }

  search(query: Float32Array, space: SearchSpace, top: TopK): void {
    scanRows(query, space, 0, space.rows, top);
  }

  serialize(): SerializedIndex {
    return { params: {}, arrays: {} };
  }
}

/** Offers rows [from, to) of the space to `top`. */
export function scanRows(query: Float32Array, space: SearchSpace, from: number, to: number, top: TopK): void {
  scan(space.metric, query, space.data, space.dim, from, to, top);
}

export const linearKind: IndexKind = {
  type: 'linear',
  exact: true,
  description: 'exact scan of every chunk; no build cost, O(n·dim) per query',
  options: [],
  build: () => new LinearIndex(),
  from: () => new LinearIndex(),
};
