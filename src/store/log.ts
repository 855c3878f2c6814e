/**
 * The append-only log on top of a v2 generation: `<db>.d/g000007.log`.
 *
 *   header   "VDBLOG1\n" (8 bytes) | u32 generation | u32 0              16 bytes
 *   frame    u32 payload bytes | u32 ~payload bytes | u32 crc32(payload) | payload   repeated
 *   payload  u32 json bytes | JSON header | 0-3 zero bytes to a multiple of 4 | f32 rows
 *
 * All integers little-endian. Payload lengths are multiples of 4, so every
 * frame and every vector block starts 4-aligned in the file.
 *
 * A record carries the resulting state of what one write changed, never an
 * operation to redo: per library, the documents created or changed (full
 * records), the rows removed (numbered as before the record, with their ids
 * as a check), the chunks edited in place (row, full record), the chunks
 * appended (full record) and the documents removed (ids), applied in that
 * order, so chunks only ever name documents that exist; the f32 block holds
 * the vector of every edited, then every appended chunk, library by library.
 *
 *   {"next_id": N, "replication"?: {"cluster_id", "applied_seq"}, "libraries": [{"id", "updated_at", "next_seq", "removed_rows": [...], "removed_ids": [...],
 *     "put": [{"row", "id", "doc_id"?, "text", "metadata", "tags", "created_at", "updated_at", "seq"}],
 *     "add": [{"id", "doc_id"?, "text", "metadata", "tags", "created_at", "updated_at", "seq"}],
 *     "docs_removed"?: [id, ...], "docs_put"?: [{"id", "title", "metadata", "created_at", "updated_at"}]}]}
 *
 * "doc_id" is there only when not null and the two "docs_" keys only when a
 * document changed, so records of databases without documents are as before.
 *
 * Replay stops at a torn tail: a last frame cut short, zeros to the end, or a
 * last frame whose checksum fails (a crash before its fsync finished). A
 * damaged length, or a bad frame followed by more data, is corruption.
 */
import { crc32 } from 'node:zlib';
import { CorruptSnapshot } from '../domain/errors.js';
import type { Document } from '../domain/documents.js';
import type { Chunk, Database, Library } from '../domain/model.js';
import { chunkRecord, documentRecord, isObject, storedMetadata, storedReplication } from './snapshot.js';

export const LOG_MAGIC = 'VDBLOG1\n';
export const LOG_HEADER_BYTES = 16;
const FRAME_HEADER_BYTES = 12;

export function logHeader(generation: number): Buffer {
  const b = Buffer.alloc(LOG_HEADER_BYTES);
  b.write(LOG_MAGIC, 0, 'latin1');
  b.writeUInt32LE(generation, 8);
  return b;
}

/** What the store remembers before a write, to tell a loggable change from one that needs a rewrite. */
export interface Before {
  nextId: number;
  replication: string;
  libraries: Library[];
  libs: { id: string; name: string; dim: number; metric: string; embedder: string | null; metadata: string; created_at: string; updated_at: string; nextSeq: number; index: unknown; textIndex: unknown }[];
}

/** Captures `db` and starts recording chunk changes. Costs O(libraries). */
export function captureBefore(db: Database): Before {
  for (const lib of db.libraries) lib.trackChanges();
  return {
    nextId: db.nextId,
    replication: JSON.stringify(db.replication),
    libraries: [...db.libraries],
    libs: db.libraries.map((l) => ({
      id: l.id,
      name: l.name,
      dim: l.dim,
      metric: l.metric,
      embedder: l.embedder,
      metadata: JSON.stringify(l.metadata),
      created_at: l.created_at,
      updated_at: l.updated_at,
      nextSeq: l.nextSeq,
      index: l.indexState,
      textIndex: l.text.stored,
    })),
  };
}

/**
 * The log frame for what changed since `captureBefore`, 'unchanged' when
 * nothing did, or null when the change needs a rewrite: it is not a chunk
 * change (libraries created, renamed or deleted, an index built, ...) or its
 * frame would exceed `maxBytes`. Stops the recording either way.
 */
export function deltaFrame(before: Before, db: Database, maxBytes: number): Buffer | 'unchanged' | null {
  const changes = db.libraries.map((l) => l.takeChanges());
  if (db.libraries.length !== before.libraries.length) return null;
  const entries: object[] = [];
  const rows: Float32Array[] = [];
  let vectorBytes = 0;
  for (let i = 0; i < db.libraries.length; i++) {
    const lib = db.libraries[i];
    const b = before.libs[i];
    const c = changes[i];
    if (lib !== before.libraries[i] || !c || c.complex) return null;
    if (lib.id !== b.id || lib.name !== b.name || lib.dim !== b.dim || lib.metric !== b.metric || lib.embedder !== b.embedder) return null;
    if (lib.created_at !== b.created_at || lib.indexState !== b.index || lib.text.stored !== b.textIndex || JSON.stringify(lib.metadata) !== b.metadata) return null;
    if (lib.size !== c.baseSize - c.removedRows.length + c.appended) return null;
    // Vectors alone would overflow the budget: do not build the frame only to drop it.
    vectorBytes += (c.edited.size + c.appended) * lib.dim * 4;
    if (vectorBytes > maxBytes) return null;
    const docs = c.documents;
    if (c.removedRows.length === 0 && c.edited.size === 0 && c.appended === 0 && !docs && lib.updated_at === b.updated_at && lib.nextSeq === b.nextSeq) continue;
    const put: object[] = [];
    const edited = [...c.edited].sort((x, y) => x[1] - y[1]);
    for (const [chunk, row] of edited) {
      if (lib.chunks[row] !== chunk) return null;
      put.push({ row, ...chunkRecord(chunk) });
      rows.push(lib.vectorAt(row));
    }
    const add: object[] = [];
    for (let r = lib.size - c.appended; r < lib.size; r++) {
      add.push(chunkRecord(lib.chunkAt(r)));
      rows.push(lib.vectorAt(r));
    }
    const docChanges = docs ? { docs_removed: docs.removed, docs_put: docs.put.map(documentRecord) } : {};
    entries.push({ id: lib.id, updated_at: lib.updated_at, next_seq: lib.nextSeq, removed_rows: c.removedRows, removed_ids: c.removedIds, put, add, ...docChanges });
  }
  const replication = JSON.stringify(db.replication);
  if (entries.length === 0 && db.nextId === before.nextId && replication === before.replication) return 'unchanged';
  const header = db.replication ? { next_id: db.nextId, replication: db.replication, libraries: entries } : { next_id: db.nextId, libraries: entries };
  const frame = encodeFrame(header, rows);
  return frame.length > maxBytes ? null : frame;
}

/** One framed record: header, checksum, JSON, f32 rows. */
export function encodeFrame(header: object, rows: Float32Array[]): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  if (json.length + rows.reduce((s, r) => s + r.byteLength, 0) > 0xfffffff0) throw new RangeError('a log record must stay under 4 GiB');
  const jsonPadded = (4 + json.length + 3) & ~3;
  const vecBytes = rows.reduce((s, r) => s + r.byteLength, 0);
  const payloadBytes = jsonPadded + vecBytes;
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + payloadBytes);
  frame.writeUInt32LE(payloadBytes, 0);
  frame.writeUInt32LE(~payloadBytes >>> 0, 4);
  frame.writeUInt32LE(json.length, FRAME_HEADER_BYTES);
  json.copy(frame, FRAME_HEADER_BYTES + 4);
  let off = FRAME_HEADER_BYTES + jsonPadded;
  for (const r of rows) {
    frame.set(new Uint8Array(r.buffer, r.byteOffset, r.byteLength), off);
    off += r.byteLength;
  }
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 8);
  return frame;
}

export interface ReplayResult {
  /** Bytes up to the end of the last whole record (the header alone: 16). */
  validEnd: number;
  records: number;
}

/**
 * Applies every whole record of `log` to `db`, in order.
 * @param log the log file's bytes; must start 4-aligned in its ArrayBuffer
 * @param source the log's path, for messages
 * @throws CorruptSnapshot when the header or a record is damaged or does not fit the database
 */
export function replayLog(log: Buffer, generation: number, db: Database, source: string): ReplayResult {
  const fail = (what: string): never => {
    throw new CorruptSnapshot(`log ${source} is corrupt: ${what}`, { hint: 'restore the database from a backup; vdb will not overwrite it' });
  };
  if (log.length < LOG_HEADER_BYTES) return { validEnd: 0, records: 0 };
  if (log.toString('latin1', 0, 8) !== LOG_MAGIC) fail('it does not start with the vdb log header');
  if (log.readUInt32LE(8) !== generation) fail(`it belongs to generation ${log.readUInt32LE(8)}, the manifest is at generation ${generation}`);
  if (log.byteOffset % 4 !== 0) log = Buffer.from(log);
  let off = LOG_HEADER_BYTES;
  let records = 0;
  while (off < log.length) {
    const rest = log.length - off;
    if (rest < FRAME_HEADER_BYTES) break;
    const len = log.readUInt32LE(off);
    // The length is stored twice (as is and inverted): a damaged length is reported, not mistaken for a torn tail.
    if (len === 0 || len % 4 !== 0 || (len ^ log.readUInt32LE(off + 4)) >>> 0 !== 0xffffffff) {
      if (log.subarray(off).every((b) => b === 0)) break;
      fail(`record ${records + 1} at byte ${off} has a damaged length`);
    }
    if (len > rest - FRAME_HEADER_BYTES) break;
    const payload = log.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len);
    if (crc32(payload) !== log.readUInt32LE(off + 8)) {
      if (off + FRAME_HEADER_BYTES + len === log.length) break;
      fail(`record ${records + 1} at byte ${off} fails its checksum`);
    }
    applyRecord(payload, db, (what) => fail(`record ${records + 1} at byte ${off}: ${what}`));
    records++;
    off += FRAME_HEADER_BYTES + len;
  }
  return { validEnd: off, records };
}

function applyRecord(payload: Buffer, db: Database, fail: (what: string) => never): void {
  const jsonLen = payload.readUInt32LE(0);
  if (4 + jsonLen > payload.length) fail('its JSON overruns the record');
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(payload.toString('utf8', 4, 4 + jsonLen));
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(rec) || !Array.isArray(rec.libraries)) return fail('not a log record');
  const nextId = rec.next_id;
  if (!isCount(nextId)) return fail('next_id must be a non-negative integer');
  const vecStart = (4 + jsonLen + 3) & ~3;
  const floats = new Float32Array(payload.buffer, payload.byteOffset + vecStart, (payload.length - vecStart) >> 2);
  let vecOff = 0;
  const takeRow = (dim: number): Float32Array => {
    if (vecOff + dim > floats.length) fail('it holds fewer vectors than chunks');
    const v = floats.subarray(vecOff, vecOff + dim);
    vecOff += dim;
    return v;
  };
  for (const e of rec.libraries) {
    if (!isObject(e) || typeof e.id !== 'string') return fail('a library entry lacks an id');
    const lib = db.libraries.find((l) => l.id === e.id);
    if (!lib) return fail(`library ${e.id} is not in the snapshot`);
    const { updated_at, next_seq, removed_rows, removed_ids, put, add, docs_removed, docs_put } = e;
    if (typeof updated_at !== 'string' || !isCount(next_seq) || next_seq < lib.nextSeq || next_seq > 0xffffffff) return fail(`library ${e.id}: bad updated_at or next_seq`);
    if (!Array.isArray(removed_rows) || !Array.isArray(removed_ids) || removed_rows.length !== removed_ids.length || !Array.isArray(put) || !Array.isArray(add)) {
      return fail(`library ${e.id}: removed_rows, removed_ids, put and add must be arrays`);
    }
    if (docs_removed !== undefined && !Array.isArray(docs_removed)) return fail(`library ${e.id}: docs_removed must be an array`);
    // Documents put first and removed last: chunks only ever name documents that exist.
    if (docs_put !== undefined) {
      if (!Array.isArray(docs_put)) return fail(`library ${e.id}: docs_put must be an array`);
      for (const d of docs_put) lib.documents.put(documentFrom(d, fail));
    }
    const removed = new Set<number>();
    removed_rows.forEach((row: unknown, i: number) => {
      if (!isCount(row) || row >= lib.size || lib.chunks[row].id !== removed_ids[i] || (i > 0 && row <= (removed_rows[i - 1] as number))) {
        fail(`library ${e.id}: removed row ${String(row)} does not hold chunk ${String(removed_ids[i])}`);
      }
      removed.add(row as number);
    });
    if (removed.size > 0) lib.removeRows(removed);
    const inDocument = (c: Chunk): Chunk => {
      if (c.doc_id !== undefined && !lib.documents.has(c.doc_id)) fail(`library ${e.id}: chunk ${c.id} names document ${JSON.stringify(c.doc_id)}, which is not in it`);
      return c;
    };
    for (const p of put) {
      if (!isObject(p) || !isCount(p.row) || p.row >= lib.size || lib.chunks[p.row].id !== p.id) return fail(`library ${e.id}: an edited chunk does not match its row`);
      const row = p.row;
      lib.chunks[row] = inDocument(chunkFrom(p, next_seq, fail));
      lib.markEdited(row);
      lib.vectorAt(row).set(takeRow(lib.dim));
    }
    const chunks = add.map((a: unknown) => inDocument(chunkFrom(a, next_seq, fail)));
    const fresh = new Set<string>();
    for (const c of chunks) {
      if (fresh.has(c.id) || lib.rowOf(c.id) >= 0) fail(`duplicate id ${c.id}`);
      fresh.add(c.id);
    }
    if (chunks.length > 0) {
      lib.append(
        chunks,
        chunks.map(() => takeRow(lib.dim)),
      );
      // append() numbers seqs itself; the record's are the ones to keep.
      chunks.forEach((c: Chunk, i: number) => (c.seq = (add[i] as { seq: number }).seq));
    }
    for (const id of docs_removed ?? []) {
      if (typeof id !== 'string' || !lib.documents.delete(id)) fail(`library ${e.id}: removed document ${JSON.stringify(id)} is not in it`);
    }
    lib.nextSeq = next_seq;
    lib.updated_at = updated_at;
    lib.changed();
  }
  if (vecOff !== floats.length) fail('it holds more vectors than chunks');
  db.nextId = nextId;
  if (rec.replication !== undefined) db.replication = storedReplication(rec.replication, 'replication', fail);
}

function chunkFrom(raw: unknown, nextSeq: number, fail: (what: string) => never): Chunk {
  if (!isObject(raw)) return fail('a chunk is not an object');
  const { id, doc_id, text, metadata, tags, created_at, updated_at, seq } = raw;
  if (typeof id !== 'string' || id === '' || typeof text !== 'string' || !isObject(metadata)) return fail('a chunk lacks id, text or metadata');
  if (doc_id !== undefined && (typeof doc_id !== 'string' || doc_id === '')) return fail(`chunk ${id}: doc_id must be a non-empty string`);
  storedMetadata(metadata, `chunk ${id}: metadata`, fail);
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) return fail(`chunk ${id}: tags must be strings`);
  if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`chunk ${id}: timestamps must be strings`);
  if (!isCount(seq) || seq >= nextSeq) return fail(`chunk ${id}: seq must be below next_seq`);
  const chunk: Chunk = { id, text, metadata, tags: tags as string[], created_at, updated_at, seq };
  if (doc_id !== undefined) chunk.doc_id = doc_id as string;
  return chunk;
}

function documentFrom(raw: unknown, fail: (what: string) => never): Document {
  if (!isObject(raw)) return fail('a document is not an object');
  const { id, title, metadata, created_at, updated_at } = raw;
  if (typeof id !== 'string' || id === '' || (title !== null && typeof title !== 'string') || !isObject(metadata)) return fail('a document lacks id, title or metadata');
  if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`document ${id}: timestamps must be strings`);
  storedMetadata(metadata, `document ${id}: metadata`, fail);
  return { id, title, metadata, created_at, updated_at };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
