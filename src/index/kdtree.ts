/**
 * Exact kNN by branch and bound over a k-d tree with per-node bounding boxes.
 *
 * Layout (all flat typed arrays, implicit binary tree):
 *   node i covers perm[start(i) .. end(i)), children 2i+1 and 2i+2, split at
 *   the middle position after a quickselect on the widest box dimension;
 *   a node with at most leafSize points is a leaf.
 *   lo/hi: nodeCount × dim box corners (exact float32 min/max of its points).
 * Boxes rather than split planes give a valid bound for every metric:
 *   l2/cosine: distance from the query to the box; dot: max of q·x over the box.
 */
import { rowScorer } from './kernels.js';
import type { Metric } from './kernels.js';
import type { TopK } from './topk.js';
import { allows, rowOf } from './types.js';
import type { BuildContext, IndexKind, RowFilter, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

const DEFAULT_LEAF_SIZE = 16;
const PUSH_RIGHT_THEN_LEFT = [false, true] as const;
const PUSH_LEFT_THEN_RIGHT = [true, false] as const;
// Depth ≤ 32 for any n < 2^32, and DFS keeps at most one pending sibling per level.
const STACK_SIZE = 80;

export class KdTree implements VectorIndex {
  readonly type = 'kdtree' as const;
  private readonly stack = {
    nodes: new Int32Array(STACK_SIZE),
    starts: new Int32Array(STACK_SIZE),
    ends: new Int32Array(STACK_SIZE),
    bounds: new Float64Array(STACK_SIZE),
  };

  constructor(
    readonly slots: number,
    readonly dim: number,
    readonly leafSize: number,
    private readonly perm: Uint32Array,
    private readonly lo: Float32Array,
    private readonly hi: Float32Array,
  ) {}

  params(): Record<string, number> {
    return { leaf_size: this.leafSize };
  }

  serialize(): SerializedIndex {
    return {
      params: { leaf_size: this.leafSize, slots: this.slots },
      arrays: { perm: this.perm, lo: this.lo, hi: this.hi },
    };
  }

  search(query: Float32Array, space: SearchSpace, top: TopK, _ef?: number, filter?: RowFilter): void {
    if (this.slots === 0) return;
    const { metric, data, dim } = space;
    const score = rowScorer(metric, query, data, dim);
    const { nodes, starts, ends, bounds } = this.stack;
    let sp = 0;
    nodes[0] = 0;
    starts[0] = 0;
    ends[0] = this.slots;
    bounds[0] = this.bound(metric, query, 0);
    sp = 1;
    while (sp > 0) {
      sp--;
      if (bounds[sp] > limit(top.worst())) continue;
      const node = nodes[sp];
      const start = starts[sp];
      const end = ends[sp];
      if (end - start <= this.leafSize) {
        for (let j = start; j < end; j++) {
          const row = rowOf(space, this.perm[j]);
          if (row < 0 || (filter && !allows(filter, row))) continue;
          top.push(score(row), row);
        }
        continue;
      }
      const mid = (start + end) >> 1;
      const left = 2 * node + 1;
      const bl = this.bound(metric, query, left);
      const br = this.bound(metric, query, left + 1);
      const lim = limit(top.worst());
      // Push the farther child first so the nearer one is searched first.
      const leftFirst = bl <= br;
      for (const pushLeft of leftFirst ? PUSH_RIGHT_THEN_LEFT : PUSH_LEFT_THEN_RIGHT) {
        const b = pushLeft ? bl : br;
        if (b > lim) continue;
        nodes[sp] = pushLeft ? left : left + 1;
        starts[sp] = pushLeft ? start : mid;
        ends[sp] = pushLeft ? mid : end;
        bounds[sp++] = b;
      }
    }
  }

  /** Lower bound on the distance from `q` to any point in the node's box. */
  private bound(metric: Metric, q: Float32Array, node: number): number {
    const dim = this.dim;
    const lo = this.lo;
    const hi = this.hi;
    const off = node * dim;
    if (metric === 'dot') {
      let best = 0;
      for (let i = 0; i < dim; i++) {
        const a = q[i] * lo[off + i];
        const b = q[i] * hi[off + i];
        best += a > b ? a : b;
      }
      return -best;
    }
    let s = 0;
    for (let i = 0; i < dim; i++) {
      const v = q[i];
      const gap = v < lo[off + i] ? lo[off + i] - v : v > hi[off + i] ? v - hi[off + i] : 0;
      s += gap * gap;
    }
    // On unit vectors, 1 - cos = |q - x|² / 2.
    return metric === 'l2' ? Math.sqrt(s) : s / 2;
  }

  static build(space: SearchSpace, params: Record<string, number>, ctx: BuildContext): KdTree {
    const n = space.rows;
    const dim = space.dim;
    const leafSize = params.leaf_size ?? DEFAULT_LEAF_SIZE;
    const nodeCount = nodeCountFor(n, leafSize);
    const perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    const lo = new Float32Array(nodeCount * dim);
    const hi = new Float32Array(nodeCount * dim);
    const data = space.data;
    let placed = 0;
    const buildNode = (node: number, start: number, end: number): void => {
      const off = node * dim;
      lo.fill(Infinity, off, off + dim);
      hi.fill(-Infinity, off, off + dim);
      for (let j = start; j < end; j++) {
        const p = perm[j] * dim;
        for (let i = 0; i < dim; i++) {
          const v = data[p + i];
          if (v < lo[off + i]) lo[off + i] = v;
          if (v > hi[off + i]) hi[off + i] = v;
        }
      }
      if (end - start <= leafSize) {
        placed += end - start;
        ctx.onProgress?.(placed, n);
        return;
      }
      let axis = 0;
      let widest = -1;
      for (let i = 0; i < dim; i++) {
        const w = hi[off + i] - lo[off + i];
        if (w > widest) {
          widest = w;
          axis = i;
        }
      }
      const mid = (start + end) >> 1;
      quickselect(perm, data, dim, axis, start, end - 1, mid);
      buildNode(2 * node + 1, start, mid);
      buildNode(2 * node + 2, mid, end);
    };
    if (n > 0) buildNode(0, 0, n);
    return new KdTree(n, dim, leafSize, perm, lo, hi);
  }

  static from(s: SerializedIndex, dim: number): KdTree {
    const slots = s.params.slots;
    const leafSize = s.params.leaf_size;
    const { perm, lo, hi } = s.arrays;
    if (!Number.isInteger(slots) || !Number.isInteger(leafSize) || leafSize < 1) throw new Error('kdtree params are invalid');
    const nodes = nodeCountFor(slots, leafSize);
    if (!(perm instanceof Uint32Array) || perm.length !== slots) throw new Error('kdtree perm has the wrong length');
    if (!(lo instanceof Float32Array) || !(hi instanceof Float32Array) || lo.length !== nodes * dim || hi.length !== nodes * dim) {
      throw new Error('kdtree boxes have the wrong length');
    }
    for (let i = 0; i < slots; i++) if (perm[i] >= slots) throw new Error('kdtree perm holds an out-of-range slot');
    return new KdTree(slots, dim, leafSize, perm, lo, hi);
  }
}

/** Prune only what is beyond the k-th best by more than float rounding could explain. */
function limit(worst: number): number {
  return worst + 1e-6 * (1 + Math.abs(worst));
}

function nodeCountFor(n: number, leafSize: number): number {
  let depth = 0;
  while (Math.ceil(n / 2 ** depth) > leafSize) depth++;
  return 2 ** (depth + 1) - 1;
}

/**
 * Reorders perm[left..right] so that perm[k] holds the k-th smallest coordinate
 * on `axis`. Three-way partitioning keeps runs of equal values (common: letter
 * counts are small integers) linear rather than quadratic.
 */
function quickselect(perm: Uint32Array, data: Float32Array, dim: number, axis: number, left: number, right: number, k: number): void {
  const key = (j: number): number => data[perm[j] * dim + axis];
  while (right > left) {
    const mid = (left + right) >> 1;
    const a = key(left);
    const b = key(mid);
    const c = key(right);
    // Median of three keeps sorted input from going quadratic.
    const pivot = (a < b) === (b < c) ? b : (b < a) === (a < c) ? a : c;
    let lt = left;
    let gt = right;
    let i = left;
    while (i <= gt) {
      const v = key(i);
      if (v < pivot) swap(perm, lt++, i++);
      else if (v > pivot) swap(perm, i, gt--);
      else i++;
    }
    if (k < lt) right = lt - 1;
    else if (k > gt) left = gt + 1;
    else return;
  }
}

function swap(a: Uint32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

export const kdtreeKind: IndexKind = {
  type: 'kdtree',
  exact: true,
  description: 'exact kNN by branch and bound; fast at low dimension, near a scan at high dimension',
  options: [{ name: 'leaf_size', description: 'points per leaf', min: 1, max: 4096, default: DEFAULT_LEAF_SIZE }],
  build: (space, params, ctx) => KdTree.build(space, params, ctx),
  from: (s, dim) => KdTree.from(s, dim),
};
