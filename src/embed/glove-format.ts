/**
 * The converted GloVe table: one file, read with positional reads, so a
 * query looks up its few words without loading 40 MB.
 *
 *   0    header (64 bytes): "VDBGLOVE" | u32 version | u32 dim | u32 count |
 *        u32 slots | u32 tableOff | u32 wordsOff | u32 stringsOff | u32 rowsOff |
 *        u32 stringsBytes | f64 zipfNorm | 12 bytes zero
 *   64   common component: f32[dim], unit length (removed from every text vector)
 *   tableOff   hash table: slots × (u32 fnv1a(word), u32 word index + 1; 0 = empty),
 *              open addressing with linear probing, slots a power of two
 *   wordsOff   u32[count + 1]: byte offsets of each word in the strings
 *   stringsOff the words, UTF-8, in rank order (most frequent first)
 *   rowsOff    count × ROW_BYTES: f32 scale | int8[dim]; the vector is scale × int8
 *
 * All numbers little-endian. The word's index is its frequency rank.
 */
export const GLOVE_MAGIC = 'VDBGLOVE';
export const GLOVE_VERSION = 1;
export const HEADER_BYTES = 64;

export interface GloveHeader {
  dim: number;
  count: number;
  slots: number;
  tableOff: number;
  wordsOff: number;
  stringsOff: number;
  rowsOff: number;
  stringsBytes: number;
  /** 1 / H(count): the Zipf probability of rank r is zipfNorm / (r + 1). */
  zipfNorm: number;
}

export function rowBytes(dim: number): number {
  return 4 + dim;
}

export function encodeHeader(h: GloveHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(GLOVE_MAGIC, 0, 'latin1');
  const fields = [GLOVE_VERSION, h.dim, h.count, h.slots, h.tableOff, h.wordsOff, h.stringsOff, h.rowsOff, h.stringsBytes];
  fields.forEach((v, i) => b.writeUInt32LE(v, 8 + 4 * i));
  b.writeDoubleLE(h.zipfNorm, 44);
  return b;
}

/** Parses and checks a header; null when the bytes are not a table of this version. */
export function decodeHeader(b: Buffer): GloveHeader | null {
  if (b.length < HEADER_BYTES || b.toString('latin1', 0, 8) !== GLOVE_MAGIC || b.readUInt32LE(8) !== GLOVE_VERSION) return null;
  const u = (i: number) => b.readUInt32LE(12 + 4 * i);
  return { dim: u(0), count: u(1), slots: u(2), tableOff: u(3), wordsOff: u(4), stringsOff: u(5), rowsOff: u(6), stringsBytes: u(7), zipfNorm: b.readDoubleLE(44) };
}

/** FNV-1a over UTF-8 bytes: the table's hash. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Smooth inverse frequency weight (Arora et al. 2017), a / (a + p(w)), with
 * p(w) from the word's rank under Zipf's law: frequent words count for little.
 */
export const SIF_A = 1e-3;
export function sifWeight(rank: number, zipfNorm: number): number {
  const p = zipfNorm / (rank + 1);
  return SIF_A / (SIF_A + p);
}
