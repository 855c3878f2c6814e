/**
 * Fixed-size vectors handed out as views of large shared blocks: a million
 * 384-dim rows read from a pipe cost their floats, not a million ArrayBuffers
 * (each ~200 bytes of bookkeeping on top of its data).
 */
const BLOCK_BYTES = 4 << 20;

export class VectorArena {
  private block = new Float32Array(0);
  private used = 0;
  private readonly perBlock: number;

  constructor(private readonly dim: number) {
    this.perBlock = Math.max(1, Math.floor(BLOCK_BYTES / 4 / Math.max(1, dim)));
  }

  /** A fresh zeroed vector of `dim` floats. */
  take(): Float32Array {
    if (this.used === this.block.length) {
      this.block = new Float32Array(this.perBlock * this.dim);
      this.used = 0;
    }
    const v = this.block.subarray(this.used, this.used + this.dim);
    this.used += this.dim;
    return v;
  }
}
