/**
 * A log entry's bytes: one write, prepared by the leader.
 *
 *   entry    "VOP1" | u32 header bytes | header JSON | 0-3 zero bytes to a multiple of 4 | f32 rows
 *   header   {"kind", "id", "term", "node", "at", "payload", "dims": [d0, d1, ...]}
 *   pointer  "VOPB" | JSON {"prefix", "parts", "bytes", "crc32"}: the entry, too large for one
 *            value, is in parts under `prefix` (see etcd.ts)
 *
 * Vectors travel as float32 bits, never as decimal text: every node stores
 * exactly the vector the leader's embedder gave. The payload refers to row i
 * of the f32 block by its position; row i has dims[i] floats.
 */
import { crc32 } from 'node:zlib';
import { CorruptSnapshot } from '../domain/errors.js';
import { isObject } from '../store/snapshot.js';

export interface Op {
  kind: string;
  /** Unique per write: the idempotency key when the request had one. */
  id: string;
  /** The appending leader's term (its election key's create revision). */
  term: number;
  /** The appending leader's node id. */
  node: string;
  /** ISO time: created_at/updated_at of what the write makes, on every node. */
  at: string;
  payload: unknown;
  vectors: Float32Array[];
}

export interface BlobPointer {
  prefix: string;
  parts: number;
  bytes: number;
  crc32: number;
}

const ENTRY = Buffer.from('VOP1');
const POINTER = Buffer.from('VOPB');

export function encodeOp(op: Op): Buffer {
  const { vectors, ...rest } = op;
  const json = Buffer.from(JSON.stringify({ ...rest, dims: vectors.map((v) => v.length) }));
  const padded = (json.length + 3) & ~3;
  const out = Buffer.alloc(8 + padded + vectors.reduce((s, v) => s + v.byteLength, 0));
  ENTRY.copy(out, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  let off = 8 + padded;
  for (const v of vectors) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), off);
    off += v.byteLength;
  }
  return out;
}

export function encodePointer(p: BlobPointer): Buffer {
  return Buffer.concat([POINTER, Buffer.from(JSON.stringify(p))]);
}

/** The pointer an entry's value holds, or null when the value is the entry itself. */
export function pointerOf(value: Buffer, where: string): BlobPointer | null {
  if (!value.subarray(0, 4).equals(POINTER)) return null;
  let p: unknown;
  try {
    p = JSON.parse(value.subarray(4).toString('utf8'));
  } catch {
    return damaged(where, 'its part pointer is not JSON');
  }
  if (!isObject(p) || typeof p.prefix !== 'string' || !isCount(p.parts) || !isCount(p.bytes) || !isCount(p.crc32)) return damaged(where, 'its part pointer is malformed');
  return p as unknown as BlobPointer;
}

/** Checks reassembled parts against their pointer. */
export function checkParts(bytes: Buffer, p: BlobPointer, where: string): Buffer {
  if (bytes.length !== p.bytes || crc32(bytes) !== p.crc32) damaged(where, `its ${p.parts} parts do not add up to ${p.bytes} bytes with crc32 ${p.crc32}`);
  return bytes;
}

/** @throws CorruptSnapshot when the bytes are not an entry */
export function decodeOp(value: Buffer, where: string): Op {
  if (value.length < 8 || !value.subarray(0, 4).equals(ENTRY)) return damaged(where, 'not a vdb log entry');
  const len = value.readUInt32LE(4);
  if (8 + len > value.length) return damaged(where, 'its header overruns it');
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(value.toString('utf8', 8, 8 + len));
  } catch {
    return damaged(where, 'its header is not JSON');
  }
  if (!isObject(h) || typeof h.kind !== 'string' || typeof h.id !== 'string' || !isCount(h.term) || typeof h.node !== 'string' || typeof h.at !== 'string') {
    return damaged(where, 'its header lacks kind, id, term, node or at');
  }
  const dims = h.dims;
  if (!Array.isArray(dims) || !dims.every(isCount)) return damaged(where, 'its dims are malformed');
  let off = 8 + ((len + 3) & ~3);
  // A copy, 4-aligned: the rows outlive the etcd response they came in.
  const floats = new Float32Array((value.length - off) / 4);
  if (floats.length * 4 !== value.length - off) return damaged(where, 'its vectors are not whole float32s');
  new Uint8Array(floats.buffer).set(value.subarray(off));
  const vectors: Float32Array[] = [];
  off = 0;
  for (const d of dims as number[]) {
    if (off + d > floats.length) return damaged(where, 'it holds fewer floats than its dims say');
    vectors.push(floats.subarray(off, off + d));
    off += d;
  }
  if (off !== floats.length) return damaged(where, 'it holds more floats than its dims say');
  return { kind: h.kind, id: h.id, term: h.term as number, node: h.node, at: h.at, payload: h.payload, vectors };
}

function damaged(where: string, what: string): never {
  throw new CorruptSnapshot(`the cluster log is damaged at ${where}: ${what}`, { hint: 'the cluster cannot go on past it; restore etcd from a backup' });
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
