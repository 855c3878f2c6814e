/**
 * Checks for everything users hand to vdb. Each throws InvalidInput with a
 * message that names the field and the fix; `where` prefixes it (e.g. "line 17").
 */
import { InvalidInput } from './errors.js';
import type { Metadata, OnConflict } from './types.js';
import { MAX_EF, MAX_K, ON_CONFLICT } from './types.js';

const FLOAT32_MAX = 3.4028234663852886e38;

export function prefix(where: string | undefined, message: string): string {
  return where ? `${where}: ${message}` : message;
}

/** A finite float32 vector of exactly `dim` numbers. */
export function checkEmbedding(value: unknown, dim: number, where?: string): Float32Array {
  if (!Array.isArray(value) && !(value instanceof Float32Array) && !(value instanceof Float64Array)) {
    throw new InvalidInput(prefix(where, 'embedding must be an array of numbers, e.g. [0.1, 0.2]'));
  }
  const arr = value as ArrayLike<unknown>;
  if (arr.length !== dim) {
    throw new InvalidInput(prefix(where, `embedding has ${arr.length} dims, expected ${dim}`));
  }
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const x = arr[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new InvalidInput(prefix(where, `embedding[${i}] is ${describe(x)}; every value must be a finite number`));
    }
    if (Math.abs(x) > FLOAT32_MAX) {
      throw new InvalidInput(prefix(where, `embedding[${i}] is ${x}, beyond float32 range (±3.4e38)`));
    }
    out[i] = x;
  }
  return out;
}

export function checkMetadata(value: unknown, where?: string): Metadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInput(prefix(where, 'metadata must be a JSON object, e.g. {"source": "faq"}'));
  }
  return value as Metadata;
}

export function checkTags(value: unknown, where?: string): string[] {
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new InvalidInput(prefix(where, 'tags must be an array of non-empty strings'));
  }
  return [...new Set(value as string[])];
}

export function checkText(value: unknown, where?: string): string {
  if (typeof value !== 'string') throw new InvalidInput(prefix(where, 'text must be a string'));
  return value;
}

export function checkK(value: unknown, where?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidInput(prefix(where, `k must be a positive integer, got ${describe(value)}`));
  }
  if (value > MAX_K) throw new InvalidInput(prefix(where, `k is ${value}, the most vdb returns is ${MAX_K}`));
  return value;
}

export function checkEf(value: unknown, where?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_EF) {
    throw new InvalidInput(prefix(where, `ef must be an integer from 1 to ${MAX_EF}, got ${describe(value)}`));
  }
  return value;
}

/** Longest id a user may choose for a chunk or a document, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256;
// Control characters, line or paragraph separators, lone surrogates: an id prints on one line and survives UTF-8.
const NOT_PRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]/u;

/**
 * A chunk or document id chosen by the user: a non-empty string of printable
 * characters (no control characters, line breaks or lone surrogates), at most
 * 256 UTF-8 bytes. Paths, URLs, UUIDs and integers written as strings all fit.
 * @param field what to call it in messages: "id", "doc_id", "--doc", ...
 */
export function checkId(value: unknown, field: string, where?: string): string {
  if (typeof value !== 'string') {
    const hint = typeof value === 'number' ? `; write it as a string, e.g. "${value}"` : '';
    throw new InvalidInput(prefix(where, `${field} must be a string${hint}`));
  }
  if (value === '') throw new InvalidInput(prefix(where, `${field} must not be empty`));
  const bad = NOT_PRINTABLE.exec(value);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new InvalidInput(prefix(where, `${field} ${JSON.stringify(value)} contains the unprintable character U+${code}`));
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_ID_BYTES) throw new InvalidInput(prefix(where, `${field} is ${bytes} bytes long; the most is ${MAX_ID_BYTES} (UTF-8)`));
  return value;
}

export function checkOnConflict(value: unknown, where?: string): OnConflict {
  if (!(ON_CONFLICT as readonly unknown[]).includes(value)) throw new InvalidInput(prefix(where, `on_conflict must be one of ${ON_CONFLICT.join(', ')}, got ${describe(value)}`));
  return value as OnConflict;
}

/** A document title: a string; empty means none (null). */
export function checkTitle(value: unknown, where?: string): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new InvalidInput(prefix(where, 'title must be a string'));
  return value === '' ? null : value;
}

export function checkName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidInput('library name must be a non-empty string');
  if (value.length > 200) throw new InvalidInput('library name is longer than 200 characters');
  if (/[\u0000-\u001f]/.test(value)) throw new InvalidInput('library name must not contain control characters');
  return value;
}

/** Only the listed keys may appear; catches typos such as "embeding". */
export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where?: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new InvalidInput(prefix(where, `unknown field "${key}" (allowed: ${allowed.join(', ')})`));
    }
  }
}

/** Parses one JSON object, e.g. an NDJSON line or a --metadata value. */
export function parseJsonObject(text: string, what: string, where?: string): Record<string, unknown> {
  const value = parseJson(text, what, where);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInput(prefix(where, `${what} must be a JSON object`));
  }
  return value as Record<string, unknown>;
}

export function parseJson(text: string, what: string, where?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new InvalidInput(prefix(where, `${what} is not valid JSON: ${detail}`));
  }
}

export function describe(x: unknown): string {
  if (typeof x === 'number') return String(x);
  if (typeof x === 'string') return JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}…` : x);
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}
