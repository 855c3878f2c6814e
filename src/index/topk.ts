/**
 * Bounded max-heap keeping the k smallest (distance, key) pairs. Ties on
 * distance go to the smaller key (the chunk's row, i.e. insertion order), so
 * every index and the oracle agree on which of several equidistant chunks win.
 */
export class TopK {
  readonly k: number;
  private readonly dists: Float64Array;
  private readonly keys: Int32Array;
  private count = 0;

  constructor(k: number) {
    this.k = k;
    this.dists = new Float64Array(k);
    this.keys = new Int32Array(k);
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.k;
  }

  /** Distance of the current k-th best; +Infinity until the heap is full. */
  worst(): number {
    return this.count < this.k ? Infinity : this.dists[0];
  }

  /** Offers one candidate; keeps it if it beats the current worst. */
  push(dist: number, key: number): void {
    const d = this.dists;
    const ks = this.keys;
    if (this.count < this.k) {
      let i = this.count++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(dist, key, d[p], ks[p])) break;
        d[i] = d[p];
        ks[i] = ks[p];
        i = p;
      }
      d[i] = dist;
      ks[i] = key;
      return;
    }
    if (this.k === 0 || !worse(d[0], ks[0], dist, key)) return;
    this.siftDown(dist, key);
  }

  private siftDown(dist: number, key: number): void {
    const d = this.dists;
    const ks = this.keys;
    const n = this.count;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && worse(d[r], ks[r], d[l], ks[l]) ? r : l;
      if (!worse(d[c], ks[c], dist, key)) break;
      d[i] = d[c];
      ks[i] = ks[c];
      i = c;
    }
    d[i] = dist;
    ks[i] = key;
  }

  /** Results nearest first; the heap is left empty. */
  drain(): { keys: Int32Array; dists: Float64Array } {
    const n = this.count;
    const keys = new Int32Array(n);
    const dists = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      keys[i] = this.keys[0];
      dists[i] = this.dists[0];
      this.count--;
      if (this.count > 0) this.siftDown(this.dists[this.count], this.keys[this.count]);
    }
    return { keys, dists };
  }
}

/** True when (d1, k1) ranks after (d2, k2). */
function worse(d1: number, k1: number, d2: number, k2: number): boolean {
  return d1 > d2 || (d1 === d2 && k1 > k2);
}
