/**
 * Checks for everything users hand to vdb. Each throws InvalidInput with a
 * message that names the field and the fix; `where` prefixes it (e.g. "line 17").
 */
import { InvalidInput } from './errors.js';
import type { Metadata } from './types.js';
import { MAX_EF, MAX_K } from './types.js';

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
