/**
 * 1-bit sign codes of an HNSW's int8 vectors: a first pass that reads 1/8 of
 * the bytes of an int8 scan, for filtered searches that scan many matching
 * entries (hnsw.ts). Derived from the index's int8 block when first needed,
 * never stored, so snapshots do not change.
 *
 * Slot e's residual r = scales · (x8 − mean8) (the mean over every slot) is
 * coded as its signs, bit d = r[d] ≥ 0, with one factor f = |r|² / Σ|r[d]|:
 * f · Σ q[d]·sign(r[d]) estimates q·r, the projection RaBitQ uses (Gao and
 * Long, 2024) without its rotation. The query is quantized to 4 bits,
 * q[d] ≈ lo + step · u[d], and given to the kernel as 4 bit planes, so
 * K = Σ u[d]·bit[d] = Σ_p 2^p · popcount(plane_p & code) (simd.ts
 * `bitdot4`); or, for a cheaper first pass, to 1 bit, its sign (`bitdot1`,
 * a quarter of the popcounts), lo and lo + step being the means of its
 * negative and of its other coordinates. With g = f · popcount(code),
 *
 *   q·x ≈ q·mean + f · (2·step·K − Σ q̂) + 2·lo · g
 *
 * and the kernel writes its negation less q·mean, f · (a·K + c) + b·g with
 * a = −2·step, c = Σ q̂, b = −2·lo: a distance for dot and cosine (l2 adds
 * |x|² and the mean's term, see hnsw.ts). The estimate only ranks: the
 * nearest it finds are scored exactly.
 *
 * Memory (one WebAssembly memory, byte offsets):
 *
 *   0 ..                 a, b, c (f32), a word of padding
 *   16 ..                query planes: per 16 bytes of code, planes 0..P-1
 *   listAt ..            slot list (i32, up to `slots`)
 *   + 4·slots ..         kernel output (f32, one per listed slot)
 *   codesAt ..           per slot: its code (`cb` bytes; bit d: byte d >> 3,
 *                        bit d & 7), then f and g (f32), then 8 bytes of padding
 *   gatherAt ..          the records of one filter's matching slots, side by side
 *                        (up to GATHER_MAX)
 *
 * Scattered over the block, each matching record costs a cache miss: a
 * filter used again (the same bitmap, which the library keeps per filter)
 * has its records gathered on its second query, so the next ones read them
 * in sequence.
 */
import { WasmF32, simdAvailable } from './simd.js';

/** Byte accumulators of `bitdot` count up to 8 a chunk of 16 bytes: exact up to 31 chunks (3,968 dims). */
export const SIGN_CODES_MAX_DIM = 31 * 128;

/** Records a gathered filter holds at most (4 MB at 384 dims): scans stop at 256·ef matches, 16,384 at ef 64. */
const GATHER_MAX = 65_536;

export class SignCodes {
  /** Bytes of one code: dim bits rounded up to 16 bytes. */
  readonly cb: number;
  /** Bytes of one slot's record: its code, f, g and padding. */
  readonly recordBytes: number;
  private readonly wasm: WasmF32;
  private readonly bytes: Uint8Array;
  private readonly header: Float32Array;
  private readonly listView: Int32Array;
  private readonly outView: Float32Array;
  private readonly listAt: number;
  private readonly outAt: number;
  private readonly codesAt: number;
  private readonly gatherAt: number;
  private readonly gatherCapacity: number;
  /** Where the listed records are: codesAt (list = slots) or gatherAt (list = positions in the gathered block). */
  private recordsAt = 0;
  /** The slot of each gathered record, while the list indexes them; else null. */
  private listSlots: Int32Array | null = null;
  private lastFilter: Uint32Array | null = null;
  private gathered: { filter: Uint32Array; n: number; slots: Int32Array } | null = null;
  /** The per-dimension mean of the dequantized vectors. */
  private readonly mean: Float64Array;
  private qPlanes: 1 | 4 = 4;
  /** q·mean of the loaded query. */
  queryMean = 0;

  private constructor(
    readonly slots: number,
    readonly dim: number,
  ) {
    this.cb = codeBytes(dim);
    this.recordBytes = this.cb + 16;
    this.listAt = 16 + 4 * this.cb;
    this.outAt = this.listAt + 4 * slots;
    this.codesAt = this.outAt + 4 * slots;
    this.gatherAt = this.codesAt + slots * this.recordBytes;
    this.recordsAt = this.codesAt;
    this.gatherCapacity = Math.min(slots, GATHER_MAX);
    const size = this.gatherAt + this.gatherCapacity * this.recordBytes;
    this.wasm = new WasmF32(size / 4);
    const buf = this.wasm.f32.buffer;
    this.bytes = new Uint8Array(buf, 0, size);
    this.header = new Float32Array(buf, 0, 4);
    this.listView = new Int32Array(buf, this.listAt, slots);
    this.outView = new Float32Array(buf, this.outAt, slots);
    this.mean = new Float64Array(dim);
  }

  /** True when codes can be made here: the SIMD kernels run and the dims fit their accumulators. */
  static available(dim: number): boolean {
    return simdAvailable() && dim <= SIGN_CODES_MAX_DIM;
  }

  /**
   * Codes of `slots` int8 vectors.
   * @param vector byte offset in `i8` of slot e's int8 vector (dim bytes)
   */
  static fromInt8(slots: number, dim: number, i8: Int8Array, vector: (e: number) => number, scales: Float32Array): SignCodes {
    const c = new SignCodes(slots, dim);
    const mean8 = new Float64Array(dim);
    for (let e = 0; e < slots; e++) {
      const at = vector(e);
      for (let d = 0; d < dim; d++) mean8[d] += i8[at + d];
    }
    for (let d = 0; d < dim; d++) {
      mean8[d] /= Math.max(1, slots);
      c.mean[d] = mean8[d] * scales[d];
    }
    const bytes = c.bytes;
    const factors = new Float32Array(bytes.buffer, c.codesAt, (slots * c.recordBytes) / 4);
    for (let e = 0; e < slots; e++) {
      const at = vector(e);
      const code = c.codesAt + e * c.recordBytes;
      let r2 = 0;
      let r1 = 0;
      let bits = 0;
      let byte = 0;
      for (let d = 0; d < dim; d++) {
        const r = scales[d] * (i8[at + d] - mean8[d]);
        r2 += r * r;
        r1 += r < 0 ? -r : r;
        if (r >= 0) {
          byte |= 1 << (d & 7);
          bits++;
        }
        if ((d & 7) === 7 || d === dim - 1) {
          bytes[code + (d >>> 3)] = byte;
          byte = 0;
        }
      }
      const f = r1 > 0 ? r2 / r1 : 0;
      const w = (e * c.recordBytes + c.cb) / 4;
      factors[w] = f;
      factors[w + 1] = f * bits;
    }
    return c;
  }

  /** Quantizes the query to 4 bits (or 1, its sign) and writes a, b, c and its planes (see the layout above). */
  loadQuery(query: Float32Array, bits: 1 | 4 = 4): void {
    const dim = this.dim;
    let qm = 0;
    for (let d = 0; d < dim; d++) qm += query[d] * this.mean[d];
    let lo: number;
    let step: number;
    if (bits === 4) {
      lo = Infinity;
      let hi = -Infinity;
      for (let d = 0; d < dim; d++) {
        if (query[d] < lo) lo = query[d];
        if (query[d] > hi) hi = query[d];
      }
      step = hi > lo ? (hi - lo) / 15 : 1;
    } else {
      let neg = 0;
      let negSum = 0;
      let posSum = 0;
      for (let d = 0; d < dim; d++) {
        if (query[d] < 0) {
          neg++;
          negSum += query[d];
        } else posSum += query[d];
      }
      lo = neg > 0 ? negSum / neg : 0;
      step = (neg < dim ? posSum / (dim - neg) : 0) - lo;
    }
    const bytes = this.bytes;
    bytes.fill(0, 16, this.listAt);
    let sumU = 0;
    for (let d = 0; d < dim; d++) {
      const u = bits === 1 ? (query[d] < 0 ? 0 : 1) : Math.min(15, Math.round((query[d] - lo) / step));
      sumU += u;
      // Chunk c = d >> 7 holds dims 128c..128c+127; plane p of it at 16 + 16·(bits·c + p).
      const byte = 16 + 16 * bits * (d >>> 7) + ((d >>> 3) & 15);
      const bit = 1 << (d & 7);
      for (let p = 0; p < bits; p++) if ((u >>> p) & 1) bytes[byte + 16 * p] |= bit;
    }
    this.qPlanes = bits;
    this.queryMean = qm;
    this.header[0] = -2 * step;
    this.header[1] = -2 * lo;
    this.header[2] = dim * lo + step * sumU;
  }

  /** The list the kernel reads (see `listFilter`); reorder its first n entries as passes narrow it. */
  get list(): Int32Array {
    return this.listView;
  }

  /**
   * Lists the slots set in `bits` (a slot bitmap, never changed once made)
   * for `estimate`, and returns how many. The list holds record numbers:
   * `slotOf` turns one into its slot.
   */
  listFilter(bits: Uint32Array, slots: number): number {
    const list = this.listView;
    const g = this.gathered;
    if (g !== null && g.filter === bits) {
      for (let i = 0; i < g.n; i++) list[i] = i;
      this.recordsAt = this.gatherAt;
      this.listSlots = g.slots;
      return g.n;
    }
    let n = 0;
    const words = Math.min(bits.length, (slots + 31) >>> 5);
    for (let w = 0; w < words; w++) {
      // Rows past the slots (added since the build) are not the index's.
      let word = w === (slots - 1) >>> 5 && (slots & 31) !== 0 ? bits[w] & ((1 << (slots & 31)) - 1) : bits[w];
      while (word !== 0) {
        const low = word & -word;
        list[n++] = (w << 5) + 31 - Math.clz32(low);
        word ^= low;
      }
    }
    this.recordsAt = this.codesAt;
    this.listSlots = null;
    if (this.lastFilter === bits && n <= this.gatherCapacity) {
      // Its second query: gather its records.
      const rb = this.recordBytes;
      for (let i = 0; i < n; i++) {
        const from = this.codesAt + list[i] * rb;
        this.bytes.copyWithin(this.gatherAt + i * rb, from, from + rb);
      }
      this.gathered = { filter: bits, n, slots: list.slice(0, n) };
      for (let i = 0; i < n; i++) list[i] = i;
      this.recordsAt = this.gatherAt;
      this.listSlots = this.gathered.slots;
    }
    this.lastFilter = bits;
    return n;
  }

  /** The slot of list entry value `record` (see listFilter). */
  slotOf(record: number): number {
    return this.listSlots === null ? record : this.listSlots[record];
  }

  /**
   * Estimated distances (less q·mean) of the loaded query to the first n
   * listed slots, in `distances[0..n)`: −q·x + q·mean, for dot and cosine.
   */
  estimate(n: number): Float32Array {
    (this.qPlanes === 4 ? this.wasm.bitdot4 : this.wasm.bitdot1)(this.recordsAt, 0, this.cb, this.listAt, n, this.outAt);
    return this.outView;
  }

  /** The header, planes and records as the kernel reads them (for tests against `bitdotReference`). */
  layout(): { query: Uint8Array; bits: 1 | 4; records: Uint8Array } {
    return { query: this.bytes.slice(0, this.listAt), bits: this.qPlanes, records: this.bytes.slice(this.recordsAt) };
  }
}

/** Bytes of a code of `dim` bits: rounded up to whole 16-byte chunks. */
export function codeBytes(dim: number): number {
  return 16 * Math.ceil(dim / 128);
}

/** Plain JS `bitdot4`/`bitdot1` (simd.ts): the reference the kernels must equal to the bit. */
export function bitdotReference(records: Uint8Array, query: Uint8Array, bits: 1 | 4, cb: number, slots: ArrayLike<number>): Float32Array {
  const f32 = (bytes: Uint8Array, at: number): number => new DataView(bytes.buffer, bytes.byteOffset).getFloat32(at, true);
  const [a, b, c] = [f32(query, 0), f32(query, 4), f32(query, 8)];
  const out = new Float32Array(slots.length);
  const stride = cb + 16;
  const r = Math.fround;
  for (let i = 0; i < slots.length; i++) {
    const at = slots[i] * stride;
    let k = 0;
    for (let byte = 0; byte < cb; byte++) {
      const x = records[at + byte];
      const base = 16 + 16 * bits * (byte >>> 4) + (byte & 15);
      for (let p = 0; p < bits; p++) k += popcount8(x & query[base + 16 * p]) << p;
    }
    out[i] = r(r(f32(records, at + cb) * r(r(a * k) + c)) + r(b * f32(records, at + cb + 4)));
  }
  return out;
}

function popcount8(x: number): number {
  x -= (x >>> 1) & 0x55;
  x = (x & 0x33) + ((x >>> 2) & 0x33);
  return (x + (x >>> 4)) & 0x0f;
}

/**
 * Moves to the front of ids[0..n) about `keep` of the entries whose d is
 * smallest, d moving with them: at least min(keep, n), all those under a
 * threshold drawn from 256 evenly spaced samples (one partition pass, no
 * sort of d), so typically 1.1–1.3·keep. Deterministic. Returns how many.
 */
export function keepSmallest(d: Float32Array, ids: Int32Array, n: number, keep: number): number {
  if (keep >= n) return n;
  const samples = SAMPLE.length < n ? SAMPLE.length : n;
  const sample = SAMPLE.subarray(0, samples);
  for (let s = 0; s < samples; s++) sample[s] = d[Math.floor((s * n) / samples)];
  sample.sort();
  // The rank that holds `keep` on average, plus 1.5 sd of a sample count: rarely short (another pass then), rarely far over.
  const expected = (samples * keep) / n;
  let rank = Math.ceil(expected + 1.5 * Math.sqrt(expected)) + 1;
  let m = 0;
  for (;;) {
    const threshold = rank >= samples ? Infinity : sample[rank];
    // [0, m) already under a lower threshold; partition the rest.
    for (let i = m; i < n; i++) {
      const v = d[i];
      if (v <= threshold) {
        d[i] = d[m];
        d[m] = v;
        const t = ids[i];
        ids[i] = ids[m];
        ids[m] = t;
        m++;
      }
    }
    if (m >= keep) return m;
    rank = 2 * rank + 1;
  }
}

const SAMPLE = new Float32Array(256);
