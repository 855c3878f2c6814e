/** Exact top-k for queries [from, to): float64 dot products, ties by lower row. */
import { workerData } from 'node:worker_threads';

const { base, queries, ids, cos, from, to, k, dim } = workerData;
const n = base.length / dim;
const topS = new Float64Array(k);
const topI = new Int32Array(k);
for (let q = from; q < to; q++) {
  let size = 0;
  const qo = q * dim;
  for (let r = 0; r < n; r++) {
    const ro = r * dim;
    let s = 0;
    for (let i = 0; i < dim; i++) s += queries[qo + i] * base[ro + i];
    if (size === k && s <= topS[k - 1]) continue; // equal score: the lower row (seen first) stays
    let j = size < k ? size++ : k - 1;
    while (j > 0 && topS[j - 1] < s) {
      topS[j] = topS[j - 1];
      topI[j] = topI[j - 1];
      j--;
    }
    topS[j] = s;
    topI[j] = r;
  }
  for (let j = 0; j < k; j++) {
    ids[q * k + j] = topI[j];
    cos[q * k + j] = topS[j];
  }
}
