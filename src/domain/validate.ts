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

/**
 * A finite float32 vector of exactly `dim` numbers. A Float32Array is checked
 * and returned as it is (callers copy vectors into a library's rows); other
 * input is converted into `into` (a fresh array unless given).
 */
export function checkEmbedding(value: unknown, dim: number, where?: string, into?: Float32Array): Float32Array {
  if (!Array.isArray(value) && !(value instanceof Float32Array) && !(value instanceof Float64Array)) {
    throw new InvalidInput(prefix(where, 'embedding must be an array of numbers, e.g. [0.1, 0.2]'));
  }
  const arr = value as ArrayLike<unknown>;
  if (arr.length !== dim) {
    throw new InvalidInput(prefix(where, `embedding has ${arr.length} dims, expected ${dim}`));
  }
  const out = value instanceof Float32Array && into === undefined ? value : (into ?? new Float32Array(dim));
  for (let i = 0; i < dim; i++) {
    const x = arr[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new InvalidInput(prefix(where, `embedding[${i}] is ${describe(x)}; every value must be a finite number`));
    }
    if (Math.abs(x) > FLOAT32_MAX) {
      throw new InvalidInput(prefix(where, `embedding[${i}] is ${x}, beyond float32 range (±3.4e38)`));
    }
    if (out !== value) out[i] = x;
  }
  return out;
}

/**
 * Size limits on what users store. Metadata nested deeper than MAX_DEPTH would
 * overflow the stack of every recursive JSON writer (JSON.stringify, structured
 * clone) long after it was accepted; the others keep one record readable.
 */
export const LIMITS = {
  /** Levels of objects and arrays in a metadata value, the metadata object itself being level 1. */
  metadataDepth: 32,
  /** Characters of a metadata key. */
  keyChars: 1024,
  /** Characters of a metadata string or a tag. */
  stringChars: 1 << 20,
  /** Characters of a chunk's text. */
  textChars: 16 << 20,
} as const;

export function checkMetadata(value: unknown, where?: string): Metadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInput(prefix(where, 'metadata must be a JSON object, e.g. {"source": "faq"}'));
  }
  const problem = metadataProblem(value);
  if (problem !== null) throw new InvalidInput(prefix(where, problem));
  return value as Metadata;
}

/**
 * What breaks LIMITS in a metadata object, as a message, or null when nothing
 * does. Iterative, so any depth can be checked. Snapshot and log decoders call
 * it too: stored metadata beyond the limits is damage.
 */
export function metadataProblem(value: object, label = 'metadata'): string | null {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 1, path: label }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > LIMITS.stringChars) return `${path} is a string of ${v.length} characters, longer than ${LIMITS.stringChars}`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > LIMITS.metadataDepth) return `${label} is nested more than ${LIMITS.metadataDepth} levels deep (at ${path.length > 80 ? `${path.slice(0, 80)}…` : path})`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (key.length > LIMITS.keyChars) return `${path} has a key of ${key.length} characters, longer than ${LIMITS.keyChars}`;
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, path: `${path}.${key}` });
    }
  }
  return null;
}

/** How deeply objects and arrays nest in a parsed JSON value (a scalar: 0); stops counting past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return deepest;
}

export function checkTags(value: unknown, where?: string): string[] {
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new InvalidInput(prefix(where, 'tags must be an array of non-empty strings'));
  }
  const long = (value as string[]).find((t) => t.length > LIMITS.stringChars);
  if (long !== undefined) throw new InvalidInput(prefix(where, `a tag of ${long.length} characters is longer than ${LIMITS.stringChars}`));
  return [...new Set(value as string[])];
}

export function checkText(value: unknown, where?: string): string {
  if (typeof value !== 'string') throw new InvalidInput(prefix(where, 'text must be a string'));
  if (value.length > LIMITS.textChars) throw new InvalidInput(prefix(where, `text has ${value.length} characters, more than ${LIMITS.textChars}`), { hint: 'split it into several chunks' });
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
  if (value.length > LIMITS.stringChars) throw new InvalidInput(prefix(where, `title has ${value.length} characters, more than ${LIMITS.stringChars}`));
  return value === '' ? null : value;
}

/** The form of generated library ids; no name may take it, or that library could not be named. */
export const LIBRARY_ID_FORM = /^lib_[0-9a-f]{16}$/;

export function checkName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidInput('library name must be a non-empty string');
  if (value.length > 200) throw new InvalidInput('library name is longer than 200 characters');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidInput('library name must not contain control characters');
  if (LIBRARY_ID_FORM.test(value)) throw new InvalidInput(`library name ${JSON.stringify(value)} has the form of a library id (lib_ and 16 hex digits)`, { hint: 'choose another name' });
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
