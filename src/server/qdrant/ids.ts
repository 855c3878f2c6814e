/**
 * Qdrant point ids ↔ vdb chunk ids.
 *
 * A point id is an unsigned 64-bit integer or a UUID (QDRANT.md §5). Points
 * written through the Qdrant routes keep them exactly, as chunk ids:
 *
 *   integer 42                               chunk id "42" (decimal, no leading zeros)
 *   UUID (any form QDRANT.md §5 lists)        chunk id: its lower-case hyphenated text
 *
 * Chunks made by the CLI or /api/v1 have ids of any kind; they are shown as:
 *
 *   "42", a lower-case hyphenated UUID       as above (integer 42, that UUID)
 *   chk_1beb2412d6ad18a0 (a generated id)    7664625f-6368-6b5f-1beb-2412d6ad18a0
 *                                            ("vdb_chk_" in its first 8 bytes, the 16 hex digits after): reversible
 *   any other string ("intro#3", "042")      7664625f-6964-XXXX-XXXX-XXXXXXXXXXXX
 *                                            ("vdb_id" + 10 bytes of SHA-256 of the id): found again by
 *                                            hashing the library's ids, so such a UUID names an existing chunk only
 *
 * UUIDs starting 7664625f-6368-6b5f- or 7664625f-6964- are therefore reserved.
 *
 * In memory an integer id is a bigint: JSON bodies are read with exact large
 * integers (json.ts), so ids up to 2^64 - 1 survive this server, although the
 * JS client on Node 20 rounds those above 2^53 (QDRANT.md §1).
 */
import { createHash } from 'node:crypto';
import { InvalidInput } from '../../domain/errors.js';

/** An unsigned integer id (bigint) or a canonical UUID (lower-case, hyphenated). */
export type PointId = bigint | string;

const U64_MAX = (1n << 64n) - 1n;
const HEX32 = /^[0-9a-fA-F]{32}$/;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
const GENERATED = /^chk_([0-9a-f]{16})$/;
/** "vdb_chk_" and "vdb_id" in hex, as the first bytes of the reserved UUIDs. */
const CHK_PREFIX = '7664625f63686b5f';
const HASH_PREFIX = '7664625f6964';

/**
 * A point id from a request body (QDRANT.md §5: u64, then UUID; anything else is refused).
 * @throws InvalidInput (400) naming the value
 */
export function parsePointId(v: unknown): PointId {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') {
    const uuid = canonicalUuid(v);
    if (uuid !== null) return uuid;
  }
  throw new InvalidInput(`value ${describe(v)} is not a valid point ID, valid values are either an unsigned integer or a UUID`);
}

/** Hyphenated, simple, braced and urn forms, any case (the Rust uuid crate's), as lower-case hyphenated; else null. */
export function canonicalUuid(s: string): string | null {
  let t = s;
  if (/^urn:uuid:/i.test(t)) t = t.slice(9);
  else if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  let hex: string;
  if (t.length === 36 && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(t)) hex = t.replace(/-/g, '');
  else if (HEX32.test(t)) hex = t;
  else return null;
  return hyphenate(hex.toLowerCase());
}

function hyphenate(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The point id a chunk id is shown as (file comment). */
export function pointIdOf(chunkId: string): PointId {
  if (DECIMAL.test(chunkId)) {
    const n = BigInt(chunkId);
    if (n <= U64_MAX) return n;
  }
  if (CANONICAL_UUID.test(chunkId) && !isReserved(chunkId)) return chunkId;
  const generated = GENERATED.exec(chunkId);
  if (generated) return hyphenate(CHK_PREFIX + generated[1]);
  return hashedUuid(chunkId);
}

function isReserved(uuid: string): boolean {
  const hex = uuid.replace(/-/g, '');
  return hex.startsWith(CHK_PREFIX) || hex.startsWith(HASH_PREFIX);
}

function hashedUuid(chunkId: string): string {
  return hyphenate(HASH_PREFIX + createHash('sha256').update(chunkId).digest('hex').slice(0, 20));
}

/**
 * The chunk id a point id names; for a hashed UUID, the id among `chunkIds`
 * that hashes to it (undefined when none does, or when no ids are given).
 */
export function chunkIdOf(id: PointId, chunkIds?: () => Iterable<string>): string | undefined {
  if (typeof id === 'bigint') return id.toString();
  const hex = id.replace(/-/g, '');
  if (hex.startsWith(CHK_PREFIX)) return `chk_${hex.slice(16)}`;
  if (!hex.startsWith(HASH_PREFIX)) return id;
  if (!chunkIds) return undefined;
  for (const c of chunkIds()) if (pointIdOf(c) === id) return c;
  return undefined;
}

/**
 * Chunk ids for many point ids, with one pass over the library's ids for all
 * the hashed UUIDs among them; a hashed UUID that names no chunk is left out.
 */
export function chunkIdsOf(ids: readonly PointId[], chunkIds: () => Iterable<string>): Map<PointId, string> {
  const out = new Map<PointId, string>();
  const hashed = new Set<string>();
  for (const id of ids) {
    if (typeof id === 'string' && id.replace(/-/g, '').startsWith(HASH_PREFIX)) hashed.add(id);
    else out.set(id, chunkIdOf(id) as string);
  }
  if (hashed.size > 0) {
    for (const c of chunkIds()) {
      const p = pointIdOf(c);
      if (typeof p === 'string' && hashed.has(p)) out.set(p, c);
    }
  }
  return out;
}

/**
 * The chunk id a written point gets. A hashed UUID may only name an existing chunk.
 * @throws InvalidInput for a hashed UUID that names none
 */
export function chunkIdForWrite(id: PointId, existing: ReadonlyMap<PointId, string>): string {
  const c = existing.get(id) ?? chunkIdOf(id);
  if (c === undefined) {
    throw new InvalidInput(`point id ${id} is in vdb's reserved UUID range (7664625f-6964-…) and names no point of this collection`, {
      hint: 'such ids stand for chunk ids that are no integer or UUID; use another id for a new point',
    });
  }
  return c;
}

/** Qdrant's order: integers ascending, then UUIDs (QDRANT.md §5 "Order"). */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'bigint') return typeof b === 'bigint' ? (a < b ? -1 : a > b ? 1 : 0) : -1;
  if (typeof b === 'bigint') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}
