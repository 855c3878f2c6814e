/**
 * Distance kernels over contiguous Float32Array rows. Every index and the test
 * oracle call `distance`, so an exact index and the oracle agree to the bit.
 *
 * Distances (smaller is nearer):
 *   cosine: 1 - cos(q, x), computed as 1 - dot on unit vectors
 *   l2:     Euclidean distance
 *   dot:    -(q · x)
 */
export type Metric = 'cosine' | 'l2' | 'dot';
export const METRICS: readonly Metric[] = ['cosine', 'l2', 'dot'];

/** Dot product of a[aOff..aOff+dim) and b[bOff..bOff+dim); 4 accumulators. */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < dim; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + (s2 + s3);
}

/** Squared Euclidean distance; same accumulator layout as `dot`. */
export function l2sq(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    const d0 = a[aOff + i] - b[bOff + i];
    const d1 = a[aOff + i + 1] - b[bOff + i + 1];
    const d2 = a[aOff + i + 2] - b[bOff + i + 2];
    const d3 = a[aOff + i + 3] - b[bOff + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[aOff + i] - b[bOff + i];
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}

/**
 * Distance from query `q` (already prepared with `prepareQuery`) to the row at
 * `off` of `data` (prepared with `prepareData`).
 */
export function distance(metric: Metric, q: Float32Array, data: Float32Array, off: number, dim: number): number {
  if (metric === 'l2') return Math.sqrt(l2sq(q, 0, data, off, dim));
  const d = dot(q, 0, data, off, dim);
  return metric === 'cosine' ? 1 - d : -d;
}

/** Euclidean norm of one row. */
export function norm(data: Float32Array, off: number, dim: number): number {
  return Math.sqrt(dot(data, off, data, off, dim));
}

/**
 * The matrix the indexes search: unit rows for cosine (so cosine is a dot
 * product), the stored rows otherwise. Returns `data` itself when no copy is needed.
 */
export function prepareData(metric: Metric, data: Float32Array, dim: number): Float32Array {
  if (metric !== 'cosine') return data;
  const out = new Float32Array(data.length);
  const rows = dim === 0 ? 0 : data.length / dim;
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    const n = norm(data, off, dim);
    // Zero rows are rejected on insert; guard anyway so a NaN never escapes.
    const inv = n > 0 ? 1 / n : 0;
    for (let i = 0; i < dim; i++) out[off + i] = data[off + i] * inv;
  }
  return out;
}

/** A query in the space of `prepareData`. */
export function prepareQuery(metric: Metric, query: Float32Array): Float32Array {
  return metric === 'cosine' ? prepareData('cosine', query, query.length) : query;
}
