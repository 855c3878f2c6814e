/**
 * The snapshot file: one JSON document.
 *
 *   {"format": "vdb-snapshot", "version": 1, "next_id": N,
 *    "libraries": [{"id", "name", "dim", "metric", "embedder", "metadata",
 *                   "created_at", "updated_at", "next_seq",
 *                   "chunks": [{"id", "text", "metadata", "tags", "created_at", "updated_at", "seq"}],
 *                   "vectors": {"dtype": "f32", "base64": ...},   // chunks × dim, row i = chunks[i]
 *                   "index": null | {"type", "built_at", "covered_below_seq", "params": {...},
 *                                    "slot_seqs": {"dtype": "u32", ...}, "arrays": {name: {...}}}}]}
 *
 * A cluster node's database also has `"replication": {"cluster_id", "applied_seq"}`
 * after "next_id": the last entry of its cluster's log applied to it.
 *
 * Version 2 (a manifest) is the same document with `"generation": G` after
 * "version", and any array may instead reference a raw little-endian sidecar
 * file: {"dtype", "file": "g000007-0001.f32", "bytes", "crc32"} (see sidecar.ts), and a
 * library's "chunks" may be {"dtype": "json", "file", "bytes", "crc32", "count", "ids",
 * "offsets", "seqs"}: its records in a JSON sidecar, read on first use (LazyRows), with
 * a sorted id table, each record's byte offset (u32, count + 1 of them, so one
 * record can be read alone) and each row's seq (u32, so index coverage needs no
 * records). "offsets" and "seqs" may be absent (older manifests, records ≥ 4 GiB).
 *
 * A version 2 manifest also carries `"manifest_crc32": N` right after
 * "generation": the crc32 of the manifest's JSON without that member, so an
 * edit that leaves valid JSON (a metric changed, a generation or a
 * covered_below_seq lowered) is caught. Manifests of older vdb lack it and
 * load as before.
 *
 * decode() checks every field and cross-reference, so a damaged file is
 * reported as corrupt instead of surfacing later as a wrong answer.
 */
import { crc32 } from 'node:zlib';
import { CorruptSnapshot } from '../domain/errors.js';
import { LIMITS, metadataProblem } from '../domain/validate.js';
import { Database, Library } from '../domain/model.js';
import type { Chunk, IndexState, LazyRows, Replication } from '../domain/model.js';
import { METRICS } from '../index/kernels.js';
import { INDEX_KINDS, isIndexType } from '../index/registry.js';
import type { ArraySource, IndexArray, VectorIndex } from '../index/types.js';
import { decodeArray, encodeArray } from './codec.js';
import { SidecarMissing, viewAs } from './sidecar.js';
import type { OpenSidecar, SidecarFileRef } from './sidecar.js';

export const SNAPSHOT_FORMAT = 'vdb-snapshot';
export const SNAPSHOT_VERSION = 1;
/** Manifest with sidecar files and a log. */
export const MANIFEST_VERSION = 2;

/** Turns an array into its JSON form: inline base64 (v1) or a sidecar reference (v2). */
export type ArrayEncoder = (a: IndexArray) => object;

/** How the decoder reaches sidecar files; errors come back as CorruptSnapshot or SidecarMissing. */
export interface SidecarAccess {
  /** Reads an array now. */
  read(ref: SidecarFileRef, at: string): IndexArray;
  /** Opens a file now, to read it later. */
  open(ref: SidecarFileRef, at: string): OpenSidecar;
}

/** Writes a library's chunk records (JSON) and their id table as sidecars; returns the manifest's "chunks" value. */
export type ChunkEncoder = (records: object[], chunks: readonly Chunk[]) => object;

export type Fail = (what: string) => never;

export function snapshotFailer(source: string): Fail {
  return (what: string): never => {
    throw new CorruptSnapshot(`snapshot ${source} is corrupt: ${what}`, {
      hint: 'restore it from a backup; vdb will not overwrite it',
    });
  };
}

/** Version 1: everything inline. Small databases are written this way. */
export function encodeSnapshot(db: Database): string {
  return encodeDoc(db, null, encodeArray);
}

/** Version 2: arrays through `put` and chunk records through `putChunks`, which write sidecars and return their references. */
export function encodeManifest(db: Database, generation: number, put: ArrayEncoder, putChunks: ChunkEncoder): string {
  return encodeDoc(db, generation, put, putChunks);
}

function encodeDoc(db: Database, generation: number | null, put: ArrayEncoder, putChunks?: ChunkEncoder): string {
  const head = generation === null ? { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION } : { format: SNAPSHOT_FORMAT, version: MANIFEST_VERSION, generation };
  const text = encodeBody(db, head, put, putChunks);
  if (generation === null) return `${text}\n`;
  // The checksum goes in after the head, which has a fixed form: no second stringify.
  const headText = JSON.stringify(head).slice(0, -1);
  return `${headText},"${CHECKSUM_KEY}":${crc32(text)}${text.slice(headText.length)}\n`;
}

const CHECKSUM_KEY = 'manifest_crc32';
const OLDER_MANIFEST_KEYS = new Set(['format', 'version', 'generation', 'next_id', 'libraries']);

/** True when a parsed version 2 manifest has its checksum (written by a vdb that also creates each generation's log). */
export function hasManifestChecksum(doc: Record<string, unknown>): boolean {
  return CHECKSUM_KEY in doc;
}

function encodeBody(db: Database, head: object, put: ArrayEncoder, putChunks?: ChunkEncoder): string {
  const doc = {
    ...head,
    next_id: db.nextId,
    // Only on a cluster node's database, so a standalone one is written byte for byte as before.
    ...(db.replication ? { replication: { cluster_id: db.replication.cluster_id, applied_seq: db.replication.applied_seq } } : {}),
    libraries: db.libraries.map((lib) => ({
      id: lib.id,
      name: lib.name,
      dim: lib.dim,
      metric: lib.metric,
      embedder: lib.embedder,
      metadata: lib.metadata,
      created_at: lib.created_at,
      updated_at: lib.updated_at,
      next_seq: lib.nextSeq,
      chunks: chunksOf(lib, putChunks),
      vectors: put(lib.vectors()),
      index: lib.indexState && encodeIndex(lib.indexState, put),
    })),
  };
  return JSON.stringify(doc);
}

function chunksOf(lib: Library, putChunks?: ChunkEncoder): object {
  const records = lib.chunks.map((c) => ({
    id: c.id,
    text: c.text,
    metadata: c.metadata,
    tags: c.tags,
    created_at: c.created_at,
    updated_at: c.updated_at,
    seq: c.seq,
  }));
  return putChunks ? putChunks(records, lib.chunks) : records;
}

/**
 * A JSON array of the records, and each record's byte offset in it (plus the
 * array's length as the last entry) when the bytes fit u32 offsets.
 */
export function encodeRecords(records: object[]): { json: Buffer; offsets: Uint32Array | null } {
  const parts = records.map((r) => JSON.stringify(r));
  const json = Buffer.from(`[${parts.join(',')}]`);
  if (json.length > 0xffffffff) return { json, offsets: null };
  const offsets = new Uint32Array(parts.length + 1);
  let at = 1;
  for (let i = 0; i < parts.length; i++) {
    offsets[i] = at;
    at += Buffer.byteLength(parts[i]) + 1;
  }
  offsets[parts.length] = json.length;
  return { json, offsets };
}

function encodeIndex(state: IndexState, put: ArrayEncoder): object {
  const s = state.index.serialize();
  const arrays: Record<string, object> = {};
  for (const [name, a] of Object.entries(s.arrays)) arrays[name] = put(a);
  return {
    type: state.type,
    built_at: state.built_at,
    covered_below_seq: state.coveredBelowSeq,
    params: s.params,
    slot_seqs: put(state.slotSeqs),
    arrays,
  };
}

/**
 * Parses a snapshot or manifest and checks its format and version.
 * @throws CorruptSnapshot when it is not JSON, not a snapshot or of an unknown version
 */
export function parseSnapshot(text: string, source: string): Record<string, unknown> {
  const fail = snapshotFailer(source);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message}); the file may be truncated`);
  }
  if (!isObject(doc) || doc.format !== SNAPSHOT_FORMAT) return fail('not a vdb snapshot (no "format": "vdb-snapshot")');
  if (doc.version !== SNAPSHOT_VERSION && doc.version !== MANIFEST_VERSION) {
    const v = doc.version;
    if (typeof v === 'number' && v > MANIFEST_VERSION) {
      throw new CorruptSnapshot(`snapshot ${source} has format version ${v}, newer than this vdb reads (up to ${MANIFEST_VERSION})`, {
        hint: 'upgrade vdb',
      });
    }
    return fail(`unknown format version ${JSON.stringify(v)}`);
  }
  if (doc.version === MANIFEST_VERSION) {
    int(doc.generation, 'generation', fail);
    if (!hasManifestChecksum(doc)) {
      // An older vdb's manifest has these members only; any other one (say, the checksum's name
      // with a flipped bit) is damage, not a reason to skip the check.
      const extra = Object.keys(doc).find((k) => !OLDER_MANIFEST_KEYS.has(k));
      if (extra !== undefined) fail(`it has an unknown member ${JSON.stringify(extra)} and no ${CHECKSUM_KEY} (damaged?)`);
    } else {
      const { [CHECKSUM_KEY]: stored, ...rest } = doc;
      // The same JSON.stringify that wrote it gives the same text back from what it parsed to.
      let text: string;
      try {
        text = JSON.stringify(rest);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        return fail(`it is nested deeper than a vdb manifest can be (metadata may nest ${LIMITS.metadataDepth} levels)`);
      }
      if (stored !== crc32(text)) fail('the manifest fails its checksum (it was edited or damaged)');
    }
  }
  return doc;
}

/**
 * Parses and checks a snapshot.
 * @param source the file name, for messages
 * @param resolve reads sidecar files; without it, a v2 manifest that references one is rejected
 * @throws CorruptSnapshot naming what is wrong
 */
export function decodeSnapshot(text: string, source: string, access?: SidecarAccess): Database {
  return decodeDocument(parseSnapshot(text, source), source, access);
}

/**
 * Builds the database from a document `parseSnapshot` accepted. Libraries
 * whose chunk records live in a sidecar stay on disk (see LazyRows) until
 * first used; their files are opened now, so they cannot vanish meanwhile.
 */
export function decodeDocument(doc: Record<string, unknown>, source: string, access?: SidecarAccess): Database {
  const fail = snapshotFailer(source);
  const refOf = (raw: unknown, at: string): SidecarFileRef | null => {
    if (!isObject(raw) || typeof raw.file !== 'string') return null;
    if (doc.version !== MANIFEST_VERSION || !access) return fail(`${at} references a sidecar file, which only a version 2 manifest may`);
    const { dtype, file, bytes, crc32, page_crc32: pages } = raw;
    if (typeof dtype !== 'string' || typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0 || typeof crc32 !== 'number') {
      return fail(`${at} must be {"dtype", "file", "bytes", "crc32"}`);
    }
    if (pages === undefined) return { dtype, file, bytes, crc32 };
    const pageRef = refOf(pages, `${at}.page_crc32`);
    if (!pageRef) return fail(`${at}.page_crc32 must reference a sidecar`);
    return { dtype, file, bytes, crc32, page_crc32: pageRef };
  };
  const array = (raw: unknown, at: string): IndexArray => {
    const ref = refOf(raw, at);
    return ref ? access!.read(ref, at) : decodeArray(raw);
  };
  // Opened now (so a writer removing the file later cannot take it away), read on first use.
  const arrayLater = (raw: unknown, at: string): LaterArray => {
    const ref = refOf(raw, at);
    if (!ref) {
      const inline = decodeArray(raw);
      return { read: () => inline, source: null };
    }
    const file = access!.open(ref, at);
    // The first failure of a read stays the answer: the file is closed after it, and a retry
    // (the next query) must report the damage again, not that the file was closed.
    let failure: unknown = null;
    const sticky = <T>(f: () => T): T => {
      if (failure !== null) throw failure;
      try {
        return f();
      } catch (err) {
        failure = err;
        throw err;
      }
    };
    const once = <T>(f: () => T): T => {
      try {
        return f();
      } finally {
        file.close();
      }
    };
    return {
      read: () => sticky(() => once(() => viewAs(ref.dtype, file.read(0), ref.bytes))),
      source: {
        bytes: ref.bytes,
        readInto: (dst) => sticky(() => guardedBy(fail, at, () => once(() => file.readInto(dst)))),
        readRange: (dst, offset) => sticky(() => guardedBy(fail, at, () => file.readRange(dst, offset))),
        damaged: (what) => sticky(() => fail(`${at}: ${what}`)),
      },
    };
  };
  const db = new Database();
  db.nextId = int(doc.next_id, 'next_id', fail);
  if (doc.replication !== undefined) db.replication = storedReplication(doc.replication, 'replication', fail);
  if (!Array.isArray(doc.libraries)) return fail('"libraries" is not an array');
  // Every id seen, library ids mapped to null: the database keeps it as its chunk id → library map.
  const ids = new Map<string, Library | null>();
  let allRead = true;
  const names = new Set<string>();
  doc.libraries.forEach((raw: unknown, li: number) => {
    const at = `libraries[${li}]`;
    if (!isObject(raw)) return fail(`${at} is not an object`);
    const id = str(raw.id, `${at}.id`, fail);
    const name = str(raw.name, `${at}.name`, fail);
    if (ids.has(id)) fail(`duplicate id ${id}`);
    if (names.has(name)) fail(`duplicate library name ${name}`);
    ids.set(id, null);
    names.add(name);
    const dim = int(raw.dim, `${at}.dim`, fail);
    if (dim < 1) fail(`${at}.dim must be at least 1`);
    const metric = raw.metric;
    if (typeof metric !== 'string' || !(METRICS as readonly string[]).includes(metric)) return fail(`${at}.metric is unknown`);
    if (raw.embedder !== null && typeof raw.embedder !== 'string') fail(`${at}.embedder must be a string or null`);
    const nextSeq = int(raw.next_seq, `${at}.next_seq`, fail);
    // Seqs are stored as u32 in index slot tables.
    if (nextSeq > 0xffffffff) fail(`${at}.next_seq is beyond 2^32`);
    const lib = new Library({
      id,
      name,
      dim,
      metric: metric as Library['metric'],
      embedder: raw.embedder as string | null,
      metadata: storedMetadata(raw.metadata, `${at}.metadata`, fail),
      created_at: str(raw.created_at, `${at}.created_at`, fail),
      updated_at: str(raw.updated_at, `${at}.updated_at`, fail),
      nextSeq,
    });
    const guard = <T>(where: string, f: () => T): T => guardedBy(fail, where, f);
    const chunksRef = refOf(raw.chunks, `${at}.chunks`);
    if (chunksRef) {
      allRead = false;
      lib.setLazy(lazyRows(raw.chunks as Record<string, unknown>, chunksRef, raw.vectors, lib, nextSeq, at, fail, guard, refOf, array, access!));
    } else {
      if (!Array.isArray(raw.chunks)) return fail(`${at}.chunks is not an array`);
      const vectors = guard(`${at}.vectors`, () => {
        const v = array(raw.vectors, `${at}.vectors`);
        if (!(v instanceof Float32Array)) throw new Error('vectors must be f32');
        return v;
      });
      if (vectors.length !== raw.chunks.length * dim) {
        fail(`${at}.vectors holds ${vectors.length / dim} rows for ${raw.chunks.length} chunks`);
      }
      lib.setRows(checkChunks(raw.chunks, lib, nextSeq, ids, at, fail), vectors);
    }
    if (raw.index !== null && raw.index !== undefined) lib.setIndex(decodeIndex(raw.index, dim, `${at}.index`, fail, array, arrayLater));
    db.libraries.push(lib);
  });
  if (allRead) db.adoptIdIndex(ids);
  return db;
}

/** The rows of a library whose chunk records and vectors stay in sidecars until first used. */
function lazyRows(
  raw: Record<string, unknown>,
  chunksRef: SidecarFileRef,
  rawVectors: unknown,
  lib: Library,
  nextSeq: number,
  at: string,
  fail: Fail,
  guard: <T>(where: string, f: () => T) => T,
  refOf: (raw: unknown, at: string) => SidecarFileRef | null,
  array: (raw: unknown, at: string) => IndexArray,
  access: SidecarAccess,
): LazyRows {
  const count = int(raw.count, `${at}.chunks.count`, fail);
  if (chunksRef.dtype !== 'json') fail(`${at}.chunks must reference a json sidecar`);
  const dim = lib.dim;
  const chunkFile = access.open(chunksRef, `${at}.chunks`);
  const vectorsRef = refOf(rawVectors, `${at}.vectors`);
  let inline: Float32Array | null = null;
  if (vectorsRef) {
    if (vectorsRef.dtype !== 'f32') fail(`${at}.vectors must be f32`);
    if (vectorsRef.bytes !== count * dim * 4) fail(`${at}.vectors holds ${vectorsRef.bytes / 4 / dim} rows for ${count} chunks`);
  } else {
    const v = guard(`${at}.vectors`, () => array(rawVectors, `${at}.vectors`));
    if (!(v instanceof Float32Array) || v.length !== count * dim) fail(`${at}.vectors holds the wrong number of rows`);
    inline = v as Float32Array;
  }
  const vectorFile = vectorsRef ? access.open(vectorsRef, `${at}.vectors`) : null;
  let table: BigUint64Array | null = null;
  if (raw.ids !== null && raw.ids !== undefined) {
    const t = guard(`${at}.chunks.ids`, () => array(raw.ids, `${at}.chunks.ids`));
    if (!(t instanceof Uint32Array) || t.length !== count * 2 || t.byteOffset % 8 !== 0) fail(`${at}.chunks.ids must be ${count} u64 ids`);
    table = new BigUint64Array(t.buffer, t.byteOffset, count);
    // Sorted and without repeats: then the chunk records need no id map of their own to rule out duplicates.
    for (let i = 1; i < count; i++) if (table[i] <= table[i - 1]) fail(`${at}.chunks.ids is not strictly ascending (repeated id?)`);
  }
  const seqs = optionalU32(raw.seqs, count, `${at}.chunks.seqs`);
  if (seqs) {
    const seen = new Uint8Array(nextSeq);
    for (let i = 0; i < count; i++) {
      const seq = seqs[i];
      if (seq >= nextSeq || seen[seq] === 1) fail(`${at}.chunks.seqs: ${seq} is repeated or not below next_seq`);
      seen[seq] = 1;
    }
  }
  const offsets = optionalU32(raw.offsets, count + 1, `${at}.chunks.offsets`);
  if (offsets) {
    if (offsets[count] !== chunksRef.bytes) fail(`${at}.chunks.offsets does not end at the end of its records`);
    for (let i = 0; i < count; i++) if (offsets[i + 1] <= offsets[i]) fail(`${at}.chunks.offsets is not ascending`);
  }
  function optionalU32(rawArray: unknown, length: number, where: string): Uint32Array | null {
    if (rawArray === null || rawArray === undefined) return null;
    const a = guard(where, () => array(rawArray, where));
    if (!(a instanceof Uint32Array) || a.length !== length) return fail(`${where} must be ${length} u32 values`);
    return a;
  }
  const checkSeq = (chunk: Chunk, row: number): void => {
    if (seqs && chunk.seq !== seqs[row]) fail(`${at}.chunks[${row}].seq ${chunk.seq} differs from chunks.seqs (${seqs[row]})`);
  };
  return {
    count,
    seqs,
    chunks: () =>
      guard(`${at}.chunks`, () => {
        const bytes = chunkFile.read(0);
        let list: unknown;
        try {
          list = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, chunksRef.bytes).toString('utf8'));
        } catch (err) {
          throw new Error(`sidecar ${chunksRef.file} is not valid JSON (${(err as Error).message})`);
        }
        if (!Array.isArray(list) || list.length !== count) throw new Error(`sidecar ${chunksRef.file} does not hold ${count} chunks`);
        const chunks = checkChunks(list, lib, nextSeq, table ? null : new Map(), at, fail);
        chunks.forEach(checkSeq);
        return chunks;
      }),
    chunkAt: (row) => {
      if (!offsets) return null;
      return guard(`${at}.chunks[${row}]`, () => {
        const bytes = Buffer.allocUnsafe(offsets[row + 1] - 1 - offsets[row]);
        chunkFile.readRange(bytes, offsets[row]);
        let record: unknown;
        try {
          record = JSON.parse(bytes.toString('utf8'));
        } catch (err) {
          throw new Error(`sidecar ${chunksRef.file} is damaged (${(err as Error).message})`);
        }
        const chunk = checkChunk(record, row, nextSeq, at, fail);
        checkSeq(chunk, row);
        if (table && !hasKey(table, idKey(chunk.id))) throw new Error(`id ${chunk.id} is not in the id table`);
        return chunk;
      });
    },
    vectors: (spareBytes) =>
      guard(`${at}.vectors`, () => {
        if (!vectorFile) {
          const out = new Float32Array(count * dim + Math.ceil(spareBytes / 4));
          out.set(inline!);
          return out;
        }
        const bytes = vectorFile.read(spareBytes);
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
      }),
    readVectors: (out, at0, from, to) =>
      guard(`${at}.vectors`, () => {
        const floats = out.subarray(at0, at0 + (to - from) * dim);
        if (!vectorFile) return floats.set(inline!.subarray(from * dim, to * dim));
        const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
        if (from === 0 && to === count) return vectorFile.readInto(bytes);
        vectorFile.readRange(bytes, from * dim * 4);
      }),
    hasId: (id) => (table ? hasKey(table, idKey(id)) : null),
    close: () => {
      chunkFile.close();
      vectorFile?.close();
    },
  };
}

/** Binary search of a sorted id table. */
function hasKey(table: BigUint64Array, key: bigint | null): boolean {
  if (key === null) return false;
  let lo = 0;
  let hi = table.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = table[mid];
    if (v === key) return true;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

const ID_FORMAT = /^chk_[0-9a-f]{16}$/;

/** The 64-bit number behind a generated chunk id (`chk_` + 16 hex digits), or null for any other id. */
export function idKey(id: string): bigint | null {
  return ID_FORMAT.test(id) ? BigInt(`0x${id.slice(4)}`) : null;
}

/** Sorted table of the chunks' ids as u64 (stored as u32 pairs), or null when an id is not of the generated form. */
export function chunkIdTable(chunks: readonly Chunk[]): Uint32Array | null {
  const table = new BigUint64Array(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const key = idKey(chunks[i].id);
    if (key === null) return null;
    table[i] = key;
  }
  table.sort();
  return new Uint32Array(table.buffer);
}

/**
 * Checks chunk records and returns them as chunks; `ids` (when given) collects
 * their ids and catches repeats.
 * Labels such as "libraries[0].chunks[17].id" are built only on failure, and the parsed
 * object becomes the chunk itself: this loop runs per chunk, a million times at scale.
 */
function checkChunks(list: unknown[], lib: Library, nextSeq: number, ids: Map<string, Library | null> | null, at: string, fail: Fail): Chunk[] {
  const seqSeen = new Uint8Array(nextSeq);
  return list.map((c: unknown, ci: number): Chunk => {
    const chunk = checkChunk(c, ci, nextSeq, at, fail);
    if (ids) {
      const known = ids.size;
      ids.set(chunk.id, lib);
      if (ids.size === known) fail(`duplicate id ${chunk.id}`);
    }
    if (seqSeen[chunk.seq]) fail(`${at}.chunks[${ci}].seq ${chunk.seq} is repeated or not below next_seq`);
    seqSeen[chunk.seq] = 1;
    return chunk;
  });
}

/** Checks one chunk record (row `ci`) and returns it as the chunk itself. */
function checkChunk(c: unknown, ci: number, nextSeq: number, at: string, fail: Fail): Chunk {
  const cat = (field: string) => `${at}.chunks[${ci}]${field}`;
  if (!isObject(c)) return fail(`${cat('')} is not an object`);
  const cid = c.id;
  if (typeof cid !== 'string' || cid === '') return fail(`${cat('.id')} must be a non-empty string`);
  const seq = c.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return fail(`${cat('.seq')} must be a non-negative integer`);
  if (seq >= nextSeq) fail(`${cat('.seq')} ${seq} is repeated or not below next_seq`);
  const { text, metadata, tags, created_at, updated_at } = c;
  if (typeof text !== 'string') return fail(`${cat('.text')} must be a string`);
  storedMetadata(metadata, cat('.metadata'), fail);
  if (!Array.isArray(tags) || tags.some(notString)) return fail(`${cat('.tags')} must be strings`);
  if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`${cat('')} timestamps must be strings`);
  return c as unknown as Chunk;
}

/**
 * The index's own arrays are read and checked on first use of `index`: a write
 * that only appends chunks to a large library never reads its graph.
 */
function decodeIndex(
  raw: unknown,
  dim: number,
  at: string,
  fail: Fail,
  array: (raw: unknown, at: string) => IndexArray,
  arrayLater: (raw: unknown, at: string) => LaterArray,
): IndexState {
  if (!isObject(raw)) return fail(`${at} is not an object`);
  const type = raw.type;
  if (typeof type !== 'string' || !isIndexType(type)) return fail(`${at}.type is unknown`);
  if (!isObject(raw.params) || !isObject(raw.arrays)) return fail(`${at} lacks params or arrays`);
  const guarded = <T>(what: () => T): T => guardedBy(fail, at, what);
  const params = raw.params as Record<string, number>;
  const { slotSeqs, pending } = guarded(() => {
    const seqs = array(raw.slot_seqs, `${at}.slot_seqs`);
    if (!(seqs instanceof Uint32Array)) throw new Error('slot_seqs must be u32');
    const later = Object.entries(raw.arrays as Record<string, unknown>).map(([name, a]) => [name, arrayLater(a, `${at}.arrays.${name}`)] as const);
    return { slotSeqs: seqs, pending: later };
  });
  let index: VectorIndex | null = null;
  return {
    type,
    built_at: str(raw.built_at, `${at}.built_at`, fail),
    coveredBelowSeq: int(raw.covered_below_seq, `${at}.covered_below_seq`, fail),
    slotSeqs,
    // Only the options users set: the view needs no index arrays for them.
    params: Object.fromEntries(INDEX_KINDS[type].options.filter((o) => o.name in params).map((o) => [o.name, params[o.name]])),
    get index(): VectorIndex {
      index ??= guarded(() => {
        // Each array is read when the index asks for it, or read by the index itself through its source.
        const arrays: Record<string, IndexArray> = {};
        const sources: Record<string, ArraySource> = {};
        for (const [name, later] of pending) {
          let value: IndexArray | undefined;
          Object.defineProperty(arrays, name, { enumerable: true, get: () => (value ??= later.read()) });
          if (later.source) sources[name] = later.source;
        }
        const built = INDEX_KINDS[type].from({ params, arrays, sources }, dim);
        if (built.slots !== slotSeqs.length) throw new Error('slot_seqs does not match the index size');
        return built;
      });
      return index;
    },
  };
}

/** An index array not read yet: `read` returns it, or `source` reads it into memory the index owns. Use one, once. */
interface LaterArray {
  read: () => IndexArray;
  source: ArraySource | null;
}

/** Runs `f`, reporting a plain error as corruption at `where`. */
function guardedBy<T>(fail: Fail, where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof CorruptSnapshot || isVanished(err)) throw err;
    return fail(`${where}: ${(err as Error).message}`);
  }
}

/** A missing sidecar passes through: the store re-reads the manifest before calling it corrupt. */
function isVanished(err: unknown): boolean {
  return err instanceof SidecarMissing;
}

function notString(v: unknown): boolean {
  return typeof v !== 'string';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown, at: string, fail: (w: string) => never, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) return fail(`${at} must be a non-empty string`);
  return v;
}

function int(v: unknown, at: string, fail: (w: string) => never): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return fail(`${at} must be a non-negative integer`);
  return v;
}

/** Stored metadata: an object within the limits users' metadata is held to (see validate.ts). */
export function storedMetadata(v: unknown, at: string, fail: (w: string) => never): Record<string, unknown> {
  if (!isObject(v)) return fail(`${at} must be an object`);
  const problem = metadataProblem(v, at);
  if (problem !== null) fail(problem);
  return v;
}


/** A stored `replication` member: the cluster's id and the applied sequence. */
export function storedReplication(v: unknown, at: string, fail: (w: string) => never): Replication {
  if (!isObject(v)) return fail(`${at} must be an object`);
  const id = str(v.cluster_id, `${at}.cluster_id`, fail);
  return { cluster_id: id, applied_seq: int(v.applied_seq, `${at}.applied_seq`, fail) };
}
