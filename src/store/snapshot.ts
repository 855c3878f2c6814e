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
 * Version 2 (a manifest) is the same document with `"generation": G` after
 * "version", and any array may instead reference a raw little-endian sidecar
 * file: {"dtype", "file": "g000007-0001.f32", "bytes", "crc32"} (see sidecar.ts), and a
 * library's "chunks" may be {"dtype": "json", "file", "bytes", "crc32", "count", "ids"}:
 * its records in a JSON sidecar, read on first use (LazyRows), with a sorted id table.
 *
 * decode() checks every field and cross-reference, so a damaged file is
 * reported as corrupt instead of surfacing later as a wrong answer.
 */
import { CorruptSnapshot } from '../domain/errors.js';
import { Database, Library } from '../domain/model.js';
import type { Chunk, IndexState, LazyRows } from '../domain/model.js';
import { METRICS } from '../index/kernels.js';
import { INDEX_KINDS, isIndexType } from '../index/registry.js';
import type { IndexArray, VectorIndex } from '../index/types.js';
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
  const doc = {
    ...head,
    next_id: db.nextId,
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
  return `${JSON.stringify(doc)}\n`;
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
  if (doc.version === MANIFEST_VERSION) int(doc.generation, 'generation', fail);
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
    const { dtype, file, bytes, crc32 } = raw;
    if (typeof dtype !== 'string' || typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0 || typeof crc32 !== 'number') {
      return fail(`${at} must be {"dtype", "file", "bytes", "crc32"}`);
    }
    return { dtype, file, bytes, crc32 };
  };
  const array = (raw: unknown, at: string): IndexArray => {
    const ref = refOf(raw, at);
    return ref ? access!.read(ref, at) : decodeArray(raw);
  };
  // Opened now (so a writer removing the file later cannot take it away), read on first use.
  const arrayLater = (raw: unknown, at: string): (() => IndexArray) => {
    const ref = refOf(raw, at);
    if (!ref) {
      const inline = decodeArray(raw);
      return () => inline;
    }
    const file = access!.open(ref, at);
    return () => viewAs(ref.dtype, file.read(0), ref.bytes);
  };
  const db = new Database();
  db.nextId = int(doc.next_id, 'next_id', fail);
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
      metadata: obj(raw.metadata, `${at}.metadata`, fail),
      created_at: str(raw.created_at, `${at}.created_at`, fail),
      updated_at: str(raw.updated_at, `${at}.updated_at`, fail),
      nextSeq,
    });
    const guard = <T>(where: string, f: () => T): T => {
      try {
        return f();
      } catch (err) {
        if (err instanceof CorruptSnapshot || isVanished(err)) throw err;
        return fail(`${where}: ${(err as Error).message}`);
      }
    };
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
  return {
    count,
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
        return checkChunks(list, lib, nextSeq, table ? null : new Map(), at, fail);
      }),
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
    hasId: (id) => {
      if (!table) return null;
      const key = idKey(id);
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
    },
  };
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
  const cat = (ci: number, field: string) => `${at}.chunks[${ci}]${field}`;
  return list.map((c: unknown, ci: number): Chunk => {
    if (!isObject(c)) return fail(`${cat(ci, '')} is not an object`);
    const cid = c.id;
    if (typeof cid !== 'string' || cid === '') return fail(`${cat(ci, '.id')} must be a non-empty string`);
    if (ids) {
      const known = ids.size;
      ids.set(cid, lib);
      if (ids.size === known) fail(`duplicate id ${cid}`);
    }
    const seq = c.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return fail(`${cat(ci, '.seq')} must be a non-negative integer`);
    if (seq >= nextSeq || seqSeen[seq]) fail(`${cat(ci, '.seq')} ${seq} is repeated or not below next_seq`);
    seqSeen[seq] = 1;
    const { text, metadata, tags, created_at, updated_at } = c;
    if (typeof text !== 'string') return fail(`${cat(ci, '.text')} must be a string`);
    if (!isObject(metadata)) return fail(`${cat(ci, '.metadata')} must be an object`);
    if (!Array.isArray(tags) || tags.some(notString)) return fail(`${cat(ci, '.tags')} must be strings`);
    if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`${cat(ci, '')} timestamps must be strings`);
    return c as unknown as Chunk;
  });
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
  arrayLater: (raw: unknown, at: string) => () => IndexArray,
): IndexState {
  if (!isObject(raw)) return fail(`${at} is not an object`);
  const type = raw.type;
  if (typeof type !== 'string' || !isIndexType(type)) return fail(`${at}.type is unknown`);
  if (!isObject(raw.params) || !isObject(raw.arrays)) return fail(`${at} lacks params or arrays`);
  const guarded = <T>(what: () => T): T => {
    try {
      return what();
    } catch (err) {
      if (err instanceof CorruptSnapshot || isVanished(err)) throw err;
      return fail(`${at}: ${(err as Error).message}`);
    }
  };
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
        const arrays = Object.fromEntries(pending.map(([name, read]) => [name, read()]));
        const built = INDEX_KINDS[type].from({ params, arrays }, dim);
        if (built.slots !== slotSeqs.length) throw new Error('slot_seqs does not match the index size');
        return built;
      });
      return index;
    },
  };
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

function obj(v: unknown, at: string, fail: (w: string) => never): Record<string, unknown> {
  if (!isObject(v)) return fail(`${at} must be an object`);
  return v;
}

