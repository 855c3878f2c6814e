import { hnswKind } from './hnsw.js';
import { kdtreeKind } from './kdtree.js';
import { linearKind } from './linear.js';
import { lshKind } from './lsh.js';
import type { IndexKind, IndexType } from './types.js';

/** Every index type vdb can build, by name. */
export const INDEX_KINDS: Record<IndexType, IndexKind> = {
  linear: linearKind,
  kdtree: kdtreeKind,
  lsh: lshKind,
  hnsw: hnswKind,
};

export const INDEX_TYPES = Object.keys(INDEX_KINDS) as IndexType[];

export function isIndexType(value: string): value is IndexType {
  return Object.prototype.hasOwnProperty.call(INDEX_KINDS, value);
}
