import { forEachSet } from '../index/types.js';

/**
 * A set of rows as a bitmap: bit r of `words[r >> 5]` is row r. Bits at or
 * past `rows` are always zero, so counts and complements need no masking.
 */
export class RowBitmap {
  readonly words: Uint32Array;

  constructor(
    readonly rows: number,
    words?: Uint32Array,
  ) {
    this.words = words ?? new Uint32Array((rows + 31) >>> 5);
  }

  static all(rows: number): RowBitmap {
    const b = new RowBitmap(rows);
    b.words.fill(0xffffffff);
    b.clearTail();
    return b;
  }

  has(row: number): boolean {
    return ((this.words[row >>> 5] >>> (row & 31)) & 1) === 1;
  }

  set(row: number): void {
    this.words[row >>> 5] |= 1 << (row & 31);
  }

  /** Sets every row in `rows` (any order). */
  setAll(rows: ArrayLike<number>): void {
    const w = this.words;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      w[r >>> 5] |= 1 << (r & 31);
    }
  }

  /** Sets rows[i] for i in [from, to). */
  setRange(rows: ArrayLike<number>, from: number, to: number): void {
    const w = this.words;
    for (let i = from; i < to; i++) {
      const r = rows[i];
      w[r >>> 5] |= 1 << (r & 31);
    }
  }

  count(): number {
    let n = 0;
    const w = this.words;
    for (let i = 0; i < w.length; i++) n += popcount(w[i]);
    return n;
  }

  isEmpty(): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }

  and(other: RowBitmap): this {
    const w = this.words;
    const o = other.words;
    for (let i = 0; i < w.length; i++) w[i] &= o[i];
    return this;
  }

  or(other: RowBitmap): this {
    const w = this.words;
    const o = other.words;
    for (let i = 0; i < w.length; i++) w[i] |= o[i];
    return this;
  }

  /** Complement within [0, rows). */
  not(): this {
    const w = this.words;
    for (let i = 0; i < w.length; i++) w[i] = ~w[i];
    this.clearTail();
    return this;
  }

  clone(): RowBitmap {
    return new RowBitmap(this.rows, this.words.slice());
  }

  /** The set rows, ascending. */
  toArray(): Uint32Array {
    const out = new Uint32Array(this.count());
    let n = 0;
    forEachSet(this.words, this.rows, (r) => (out[n++] = r));
    return out;
  }

  /**
   * The first set row at or after `from`, or -1.
   */
  next(from: number): number {
    if (from >= this.rows) return -1;
    const w = this.words;
    let i = from >>> 5;
    let x = w[i] & (0xffffffff << (from & 31));
    for (;;) {
      if (x !== 0) return (i << 5) + 31 - Math.clz32(x & -x);
      if (++i >= w.length) return -1;
      x = w[i];
    }
  }

  private clearTail(): void {
    const extra = this.words.length * 32 - this.rows;
    if (extra > 0) this.words[this.words.length - 1] &= 0xffffffff >>> extra;
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
