/** The 1.00× baseline: a plain JS loop over Float32Array rows plus a bounded min-heap. */

/** Top-k rows by dot product; `query` is one dim-long row. Returns rows, best first. */
export function bruteTopK(base, n, dim, query, k) {
  const hs = new Float64Array(k);
  const hi = new Int32Array(k);
  let size = 0;
  for (let r = 0; r < n; r++) {
    const ro = r * dim;
    let s = 0;
    for (let i = 0; i < dim; i++) s += query[i] * base[ro + i];
    if (size < k) {
      let j = size++;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (hs[p] <= s) break;
        hs[j] = hs[p];
        hi[j] = hi[p];
        j = p;
      }
      hs[j] = s;
      hi[j] = r;
    } else if (s > hs[0]) {
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= k) break;
        const c = l + 1 < k && hs[l + 1] < hs[l] ? l + 1 : l;
        if (hs[c] >= s) break;
        hs[j] = hs[c];
        hi[j] = hi[c];
        j = c;
      }
      hs[j] = s;
      hi[j] = r;
    }
  }
  const order = Array.from({ length: size }, (_, j) => j).sort((a, b) => hs[b] - hs[a] || hi[a] - hi[b]);
  return order.map((j) => hi[j]);
}
