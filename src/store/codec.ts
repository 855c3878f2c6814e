/**
 * Typed arrays in JSON: `{"dtype": "f32", "base64": "..."}`, little-endian, so
 * a round trip through the snapshot changes no bit.
 */
import type { IndexArray } from '../index/types.js';

export type DType = 'f32' | 'u32' | 'i32';
export interface EncodedArray {
  dtype: DType;
  base64: string;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('vdb needs a little-endian machine: its snapshots store raw little-endian arrays');
}

const CTORS = { f32: Float32Array, u32: Uint32Array, i32: Int32Array } as const;

export function dtypeOf(a: IndexArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Uint32Array) return 'u32';
  return 'i32';
}

export function encodeArray(a: IndexArray): EncodedArray {
  return { dtype: dtypeOf(a), base64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') };
}

/** Decodes into a fresh, aligned array; throws with a plain message on bad input. */
export function decodeArray(value: unknown): IndexArray {
  const v = value as EncodedArray;
  if (!v || typeof v !== 'object' || typeof v.base64 !== 'string' || !(v.dtype in CTORS)) {
    throw new Error('array must be {"dtype": "f32"|"u32"|"i32", "base64": "..."}');
  }
  return decodeBase64(v.base64, CTORS[v.dtype] as unknown as ArrayCtor<IndexArray>);
}

type ArrayCtor<T> = { new (n: number): T; BYTES_PER_ELEMENT: number };

export function decodeBase64<T extends IndexArray>(base64: string, Ctor: ArrayCtor<T>): T {
  const bytes = Buffer.from(base64, 'base64');
  // Buffer.from skips characters outside the alphabet, so a damaged string
  // decodes short: compare with the length the text promises (no regex pass).
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  if (base64.length % 4 !== 0 || bytes.byteLength !== (base64.length / 4) * 3 - padding) throw new Error('array data is not base64');
  if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error('array data has a partial element');
  const out = new Ctor(bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
