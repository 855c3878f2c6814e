/**
 * The snapshot file: one JSON document.
 *
 *   {"format": "vdb-snapshot", "version": 1, "next_id": N,
 *    "libraries": [{"id", "name", "dim", "metric", "embedder", "metadata",
 *                   "created_at", "updated_at", "next_seq",
 *                   "documents": [{"id", "title", "metadata", "created_at", "updated_at"}],   // id order; absent: none
 *                   "chunks": [{"id", "doc_id", "text", "metadata", "tags", "created_at", "updated_at", "seq"}],
 *                   "vectors": {"dtype": "f32", "base64": ...},   // chunks × dim, row i = chunks[i]
 *                   "index": null | {"type", "built_at", "covered_below_seq", "params": {...},
 *                                    "slot_seqs": {"dtype": "u32", ...}, "arrays": {name: {...}}},
 *                   "text_index": {"built_at", "params": {"k1", "b", "docs", "terms", "vocab_bytes", "postings_bytes"},
 *                                  "arrays": {"keys", "lengths", "vocab", "vocab_offsets", "df", "postings",
 *                                             "postings_offsets": {"dtype": "u32", ...}}}}]}   // absent: none
 *
 * A cluster node's database also has `"replication": {"cluster_id", "applied_seq"}`
 * after "next_id": the last entry of its cluster's log applied to it.
 *
 * Version 2 (a manifest) is the same document with `"generation": G` after
 * "version", and any array may instead reference a raw little-endian sidecar
 * file: {"dtype", "file": "g000007-0001.f32", "bytes", "crc32"} (see sidecar.ts), and a
 * library's "chunks" may be {"dtype": "json", "file", "bytes", "crc32", "count", "id_hashes",
 * "offsets", "seqs"}: its records in a JSON sidecar, read on first use (LazyRows), with
 * an id table (u32 triples: 64-bit id hash, row; see id-table.ts), each record's
 * byte offset (u32, count + 1 of them, so one record can be read alone) and each
 * row's seq (u32, so index coverage needs no records). "offsets" and "seqs" may be
 * absent (older manifests, records ≥ 4 GiB). Manifests before id_hashes had "ids":
 * the ids as sorted u64 when all were `chk_` + 16 hex digits, else null; still read.
 * A library's "documents" is likewise {"dtype": "json", "file", "bytes", "crc32",
 * "count", "id_hashes", "offsets"}: its document records in id order, read one by
 * one as chunks name them (LazyDocuments), or an inline array.
 *
 * "doc_id" is written only when not null, "documents" only when there are
 * some and "text_index" only when one was built (src/text/state.ts, layout in
 * src/text/bm25.ts): a database that uses none of them is written exactly as
 * before they existed.
 * A version 2 library also has "filter_columns": {"dtype": "u32", "file", ..., "rows"}, its
 * filter columns (src/filter/columns.ts), or null when it has no chunks; libraries of
 * older manifests lack it and build their columns from their records on first use.
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
import type { Document, LazyDocuments } from '../domain/documents.js';
import { CorruptSnapshot } from '../domain/errors.js';
import { LIMITS, metadataProblem } from '../domain/validate.js';
import { Database, Library } from '../domain/model.js';
import type { AppendedRows, Chunk, CopyableRows, IndexState, LazyRows, Replication } from '../domain/model.js';
import { hashesByRow, hashInto, ID_ENTRY_WORDS, idRowsBy, idTableProblem, idTableRows } from './id-table.js';
import { METRICS } from '../index/kernels.js';
import { ascendingBelow } from '../index/passes.js';
import { INDEX_KINDS, isIndexType } from '../index/registry.js';
import type { ArraySource, IndexArray, VectorIndex } from '../index/types.js';
import { storedOnDisk, TEXT_INDEX_ARRAYS } from '../text/state.js';
import type { LaterWords, StoredTextIndex, TextIndexArrayName } from '../text/state.js';
import { ColumnSet } from '../filter/columns.js';
import { CODE_PARAMS, codeStride, CodedRows } from '../index/rowcodes.js';
import { decodeArray, encodeArray } from './codec.js';
import { PAGE_BYTES, SidecarMissing, viewAs } from './sidecar.js';
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
/** Writes a library's document records likewise; returns the manifest's "documents" value. */
export type DocumentEncoder = (records: object[], docs: readonly Document[]) => object;
/**
 * Writes a library whose rows on disk are untouched by copying their bytes and
 * adding the appended rows' (`records`); returns the manifest's "chunks" and
 * "vectors", or null when it cannot (the caller then encodes every record).
 */
export type AppendEncoder = (rows: AppendedRows, records: object[]) => { chunks: object; vectors: object } | null;
/**
 * Writes a library's row codes (index/rowcodes.ts) as sidecars, `copied`: the
 * appended rows when its rows were written by the AppendEncoder; returns the
 * manifest's "row_codes".
 */
export type CodesEncoder = (lib: Library, copied: AppendedRows | null) => object;

/** Writes bytes (4-aligned) as a u32 sidecar; returns its reference. */
export type BytesEncoder = (bytes: Uint8Array) => object;

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

/**
 * Version 2: arrays through `put`, chunk and document records through
 * `putChunks` and `putDocs`, filter columns through `putBytes`, and libraries
 * only appended to since they were read through `putAppended`; each writes
 * sidecars and returns their references.
 */
export function encodeManifest(db: Database, generation: number, put: ArrayEncoder, putChunks: ChunkEncoder, putDocs: DocumentEncoder, putBytes: BytesEncoder, putAppended?: AppendEncoder, putCodes?: CodesEncoder): string {
  return encodeDoc(db, generation, put, putChunks, putDocs, putBytes, putAppended, putCodes);
}

function encodeDoc(db: Database, generation: number | null, put: ArrayEncoder, putChunks?: ChunkEncoder, putDocs?: DocumentEncoder, putBytes?: BytesEncoder, putAppended?: AppendEncoder, putCodes?: CodesEncoder): string {
  const head = generation === null ? { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION } : { format: SNAPSHOT_FORMAT, version: MANIFEST_VERSION, generation };
  const text = encodeBody(db, head, put, putChunks, putDocs, putBytes, putAppended, putCodes);
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

function encodeBody(db: Database, head: object, put: ArrayEncoder, putChunks?: ChunkEncoder, putDocs?: DocumentEncoder, putBytes?: BytesEncoder, putAppended?: AppendEncoder, putCodes?: CodesEncoder): string {
  const doc = {
    ...head,
    next_id: db.nextId,
    // Only on a cluster node's database, so a standalone one is written byte for byte as before.
    ...(db.replication ? { replication: { cluster_id: db.replication.cluster_id, applied_seq: db.replication.applied_seq } } : {}),
    libraries: db.libraries.map((lib) => {
      // Sidecars are numbered in this order whichever way the rows are written, so both give the same files.
      const documents = documentsOf(lib, putDocs);
      const appended = putAppended ? lib.appendedSince() : null;
      const copied = appended && putAppended!(appended, appended.chunks.map(chunkRecord));
      const rows = copied ?? { chunks: chunksOf(lib, putChunks), vectors: put(lib.vectors()) };
      return {
        ...lib.fields(),
        next_seq: lib.nextSeq,
        documents,
        chunks: rows.chunks,
        vectors: rows.vectors,
        // Absent from v1 snapshots and empty libraries, so those are written as before.
        ...(putCodes && lib.size > 0 ? { row_codes: putCodes(lib, copied ? appended : null) } : {}),
        index: lib.indexState && encodeIndex(lib.indexState, put),
        ...textIndexOf(lib, put),
        ...(putBytes ? { filter_columns: lib.size === 0 ? null : { ...putBytes(lib.filterColumns().encode()), rows: lib.size } } : {}),
      };
    }),
  };
  return JSON.stringify(doc);
}

function chunksOf(lib: Library, putChunks?: ChunkEncoder): object {
  const records = lib.chunks.map(chunkRecord);
  return putChunks ? putChunks(records, lib.chunks) : records;
}

/** A chunk as snapshots and log records store it; `doc_id` only when set. */
export function chunkRecord(c: Chunk): object {
  const head = c.doc_id === undefined ? { id: c.id } : { id: c.id, doc_id: c.doc_id };
  return { ...head, text: c.text, metadata: c.metadata, tags: c.tags, created_at: c.created_at, updated_at: c.updated_at, seq: c.seq };
}

/** undefined (so JSON leaves the key out) when the library has no documents. */
function documentsOf(lib: Library, putDocs?: DocumentEncoder): object | undefined {
  if (lib.documents.size === 0) return undefined;
  const docs = lib.documents.list();
  const records = docs.map(documentRecord);
  return putDocs ? putDocs(records, docs) : records;
}

/** A document as snapshots, log records and exports store it. */
export function documentRecord(d: Document): object {
  return { id: d.id, title: d.title, metadata: d.metadata, created_at: d.created_at, updated_at: d.updated_at };
}

/**
 * A JSON array of the records, and each record's byte offset in it (plus the
 * array's length as the last entry) when the bytes fit u32 offsets.
 */
export function encodeRecords(records: object[]): { json: Buffer; offsets: Uint32Array | null } {
  const parts = records.map((r) => JSON.stringify(r));
  // Written part by part: one joined string would hold the records twice and cannot pass 512 MiB (V8's limit).
  let bytes = 2 + Math.max(0, parts.length - 1);
  for (const p of parts) bytes += Buffer.byteLength(p);
  const json = Buffer.allocUnsafe(bytes);
  const offsets = bytes <= 0xffffffff ? new Uint32Array(parts.length + 1) : null;
  let at = 0;
  json[at++] = 0x5b; // [
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) json[at++] = 0x2c; // ,
    if (offsets) offsets[i] = at;
    at += json.write(parts[i], at);
  }
  json[at++] = 0x5d; // ]
  if (offsets) offsets[parts.length] = at;
  return { json, offsets };
}

/** The library's full-text index as stored, or nothing (no key: a library without one is written as before it existed). */
function textIndexOf(lib: Library, put: ArrayEncoder): { text_index?: object } {
  const t = lib.text.stored;
  if (!t) return {};
  const arrays: Record<string, object> = {};
  for (const name of TEXT_INDEX_ARRAYS) arrays[name] = put(t.array(name));
  return { text_index: { built_at: t.built_at, params: t.params, arrays } };
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

/** What decoding one library needs from decodeDocument: failing, guarding, reading arrays and sidecars. */
interface Decoding {
  fail: Fail;
  guard: <T>(where: string, f: () => T) => T;
  refOf: (raw: unknown, at: string) => SidecarFileRef | null;
  array: (raw: unknown, at: string) => IndexArray;
  access?: SidecarAccess;
}

/**
 * Builds the database from a document `parseSnapshot` accepted. Libraries
 * whose chunk records live in a sidecar stay on disk (see LazyRows) until
 * first used, and so do documents in a sidecar (LazyDocuments); their files
 * are opened now, so they cannot vanish meanwhile.
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
  const ctx: Decoding = { fail, guard: (where, f) => guardedBy(fail, where, f), refOf, array, access };
  const db = new Database();
  db.nextId = int(doc.next_id, 'next_id', fail);
  if (doc.replication !== undefined) db.replication = storedReplication(doc.replication, 'replication', fail);
  if (!Array.isArray(doc.libraries)) return fail('"libraries" is not an array');
  const libIds = new Set<string>();
  const names = new Set<string>();
  doc.libraries.forEach((raw: unknown, li: number) => {
    const at = `libraries[${li}]`;
    if (!isObject(raw)) return fail(`${at} is not an object`);
    const id = str(raw.id, `${at}.id`, fail);
    const name = str(raw.name, `${at}.name`, fail);
    if (libIds.has(id)) fail(`duplicate library id ${id}`);
    if (names.has(name)) fail(`duplicate library name ${name}`);
    libIds.add(id);
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
    decodeDocuments(raw.documents, lib, `${at}.documents`, ctx);
    const chunksRef = refOf(raw.chunks, `${at}.chunks`);
    if (chunksRef) {
      lib.setLazy(lazyRows(raw.chunks as Record<string, unknown>, chunksRef, raw.vectors, raw.row_codes, lib, nextSeq, at, ctx));
    } else {
      if (!Array.isArray(raw.chunks)) return fail(`${at}.chunks is not an array`);
      const vectors = ctx.guard(`${at}.vectors`, () => {
        const v = array(raw.vectors, `${at}.vectors`);
        if (!(v instanceof Float32Array)) throw new Error('vectors must be f32');
        return v;
      });
      if (vectors.length !== raw.chunks.length * dim) {
        fail(`${at}.vectors holds ${vectors.length / dim} rows for ${raw.chunks.length} chunks`);
      }
      const chunks = checkChunks(raw.chunks, nextSeq, true, at, fail);
      checkDocIds(chunks, lib, at, fail);
      lib.setRows(chunks, vectors);
    }
    if (raw.index !== null && raw.index !== undefined) lib.setIndex(decodeIndex(raw.index, dim, `${at}.index`, fail, arrayLater));
    if (raw.text_index !== null && raw.text_index !== undefined) lib.text.stored = decodeTextIndex(raw.text_index, `${at}.text_index`, fail, arrayLater);
    if (isObject(raw.filter_columns)) {
      const where = `${at}.filter_columns`;
      const ref = refOf(raw.filter_columns, where);
      if (!ref || ref.dtype !== 'u32' || raw.filter_columns.rows !== lib.size) fail(`${where} must reference a u32 sidecar of the library's ${lib.size} rows`);
      const { source } = arrayLater(raw.filter_columns, where);
      const rows = lib.size;
      // Opened now, read when a filter first needs it.
      lib.columns.adoptLater(rows, () => ColumnSet.open(source as ArraySource, rows));
    } else if (raw.filter_columns !== null && raw.filter_columns !== undefined) fail(`${at}.filter_columns must be a sidecar reference or null`);
    db.libraries.push(lib);
  });
  return db;
}

/** Every chunk that names a document names one of its library. */
function checkDocIds(chunks: readonly Chunk[], lib: Library, at: string, fail: Fail): void {
  chunks.forEach((c, ci) => {
    if (c.doc_id !== undefined && !lib.documents.has(c.doc_id)) fail(`${at}.chunks[${ci}].doc_id ${JSON.stringify(c.doc_id)} is not a document of the library`);
  });
}

/** A JSON array of records in a sidecar: read whole, or one record at a time by its byte offsets. */
interface RecordFile {
  readAll(): unknown[];
  /** null when the manifest holds no offsets (older manifests, records ≥ 4 GiB). */
  readAt: ((i: number) => unknown) | null;
  /** Records `rows` (ascending) one by one, read in large sequential blocks; null without offsets. */
  readEach: ((rows: readonly number[], each: (row: number, record: unknown) => void) => void) | null;
  file: OpenSidecar;
  /** The offsets, checked ascending (once, on first call): for uses that rely on all of them. */
  offsets(): Uint32Array | null;
  close(): void;
}

/** Bytes a block read of records covers at most (more when one record is longer). */
const RECORD_BLOCK_BYTES = 4 << 20;

/** Opens the records of `raw` ({"dtype": "json", ..., "count", "offsets"?}) and checks their offsets. */
function recordFile(raw: Record<string, unknown>, ref: SidecarFileRef, count: number, noun: string, at: string, ctx: Decoding): RecordFile {
  const { fail } = ctx;
  if (ref.dtype !== 'json') fail(`${at} must reference a json sidecar`);
  const file = ctx.access!.open(ref, at);
  const later = u32Later(raw.offsets, count + 1, `${at}.offsets`, ctx);
  // The pass over every offset waits for a use that relies on all of them (reading many records, a copy):
  // a cold query reads a few records, each checking its own two offsets. The file's crc32 vouches for its bytes.
  let ascending = false;
  const checkedOffsets = (): Uint32Array | null => {
    if (later === null) return null;
    const offsets = later.all();
    if (!ascending) {
      if (offsets[count] !== ref.bytes) fail(`${at}.offsets does not end at the end of its records`);
      for (let i = 0; i < count; i++) if (offsets[i + 1] <= offsets[i]) fail(`${at}.offsets is not ascending`);
      ascending = true;
    }
    return offsets;
  };
  // Records read one at a time page in (a cold query reads a few), until as many were read alone as U32Later
  // reads pages before it reads its array whole (a --stdin session reads ten per line): then the file is read once.
  const readWhole = (): Buffer => {
    const bytes = file.read(0);
    return Buffer.from(bytes.buffer, bytes.byteOffset, ref.bytes);
  };
  let whole: Buffer | null = null;
  let singleReads = 0;
  const maxSingleReads = Math.max(16, Math.ceil((ref.bytes / PAGE_BYTES) * PAGE_SHARE_BEFORE_WHOLE));
  const recordText = (from: number, to: number): string => {
    if (whole === null && ++singleReads > maxSingleReads) whole = readWhole();
    if (whole !== null) return whole.toString('utf8', from, to);
    const bytes = Buffer.allocUnsafe(to - from);
    file.readRange(bytes, from);
    return bytes.toString('utf8');
  };
  return {
    readAll: () => {
      let list: unknown;
      try {
        // The file held whole already (many records read one at a time) is not read again.
        list = JSON.parse((whole ?? readWhole()).toString('utf8'));
      } catch (err) {
        throw new Error(`sidecar ${ref.file} is not valid JSON (${(err as Error).message})`);
      }
      if (!Array.isArray(list) || list.length !== count) throw new Error(`sidecar ${ref.file} does not hold ${count} ${noun}`);
      return list;
    },
    readAt: later
      ? (i) => {
          const from = later.at(i);
          const to = later.at(i + 1);
          if (!(from < to && to <= ref.bytes)) fail(`${at}.offsets is not ascending at record ${i}`);
          const text = recordText(from, to - 1);
          try {
            return JSON.parse(text);
          } catch (err) {
            throw new Error(`sidecar ${ref.file} is damaged (${(err as Error).message})`);
          }
        }
      : null,
    readEach: later
      ? (rows, each) => {
          const offsets = checkedOffsets()!;
          let block = Buffer.alloc(0);
          let blockFrom = 0;
          let blockTo = 0;
          for (const i of rows) {
            const from = offsets[i];
            const to = offsets[i + 1] - 1;
            if (from < blockFrom || to > blockTo) {
              // From this record on, as far as the block size allows (whole records only).
              let end = i + 1;
              while (end < count && offsets[end + 1] - 1 - from <= RECORD_BLOCK_BYTES) end++;
              blockFrom = from;
              blockTo = offsets[end] - 1;
              if (block.length < blockTo - blockFrom) block = Buffer.allocUnsafe(Math.max(blockTo - blockFrom, RECORD_BLOCK_BYTES));
              file.readRange(block.subarray(0, blockTo - blockFrom), blockFrom);
            }
            let record: unknown;
            try {
              record = JSON.parse(block.toString('utf8', from - blockFrom, to - blockFrom));
            } catch (err) {
              throw new Error(`sidecar ${ref.file} is damaged (${(err as Error).message})`);
            }
            each(i, record);
          }
        }
      : null,
    file,
    offsets: checkedOffsets,
    close: () => {
      file.close();
      later?.close();
    },
  };
}

function optionalU32(rawArray: unknown, length: number, where: string, ctx: Decoding): Uint32Array | null {
  if (rawArray === null || rawArray === undefined) return null;
  const a = ctx.guard(where, () => ctx.array(rawArray, where));
  if (!(a instanceof Uint32Array) || a.length !== length) return ctx.fail(`${where} must be ${length} u32 values`);
  return a;
}

/** A u32 array of the manifest read on first use: element by element (a page at a time), or whole. */
interface U32Later {
  /** Element i, from the page holding it (each page read once in a row, checked against its crc32). */
  at(i: number): number;
  /** The whole array (read and checked once). */
  all(): Uint32Array;
  /** Whether all() was read already. */
  isWhole(): boolean;
  close(): void;
}

/**
 * Pages `U32Later` reads one at a time, as a share of the array's pages (at least 16), before it reads the whole
 * array: a page read alone costs a few times its share of one whole read, so past this the whole read is cheaper.
 */
const PAGE_SHARE_BEFORE_WHOLE = 1 / 4;

/**
 * `optionalU32`, read on first use: a sidecar is opened now (and its size
 * checked) but read page by page for single elements (a cold query needs two
 * offsets, a seq and an id-table search per record it reads), whole once
 * enough pages were read alone, and whole for the uses that need all.
 */
function u32Later(rawArray: unknown, length: number, where: string, ctx: Decoding): U32Later | null {
  if (rawArray === null || rawArray === undefined) return null;
  const ref = ctx.refOf(rawArray, where);
  if (!ref) {
    const inline = optionalU32(rawArray, length, where, ctx)!;
    return { at: (i) => inline[i], all: () => inline, isWhole: () => true, close: () => undefined };
  }
  if (ref.dtype !== 'u32' || ref.bytes !== length * 4) return ctx.fail(`${where} must be ${length} u32 values`);
  const file = ctx.access!.open(ref, where);
  let whole: Uint32Array | null = null;
  const all = (): Uint32Array => {
    if (whole === null) {
      whole = ctx.guard(where, () => viewAs('u32', file.read(0), ref.bytes) as Uint32Array);
      file.close();
    }
    return whole;
  };
  const page = new Uint32Array(PAGE_BYTES / 4);
  let pageAt = -1;
  let pageReads = 0;
  const maxPageReads = Math.max(16, Math.ceil((ref.bytes / PAGE_BYTES) * PAGE_SHARE_BEFORE_WHOLE));
  return {
    at: (i) => {
      if (whole !== null) return whole[i];
      if (!(i >= 0 && i < length)) return ctx.fail(`${where}: element ${i} is past its end`);
      const p = Math.floor(i / page.length);
      if (p !== pageAt) {
        if (++pageReads > maxPageReads) return all()[i];
        const bytes = new Uint8Array(page.buffer, 0, Math.min(PAGE_BYTES, ref.bytes - p * PAGE_BYTES));
        pageAt = -1;
        ctx.guard(where, () => file.readRange(bytes, p * PAGE_BYTES));
        pageAt = p;
      }
      return page[i - p * page.length];
    },
    all,
    isWhole: () => whole !== null,
    close: () => file.close(),
  };
}

/**
 * A library's id table: the hash table (id-table.ts), the older u64 table of generated ids, or none.
 * A lookup in the hash table reads the entries its search passes, each page checked against its crc32
 * (and those entries against each other's order); the whole table is read, and its order checked, by
 * `verified`, before the first use that relies on all of it (a whole read of the records, a copy).
 */
type IdTable = { kind: 'hash'; rows: (id: string) => number[]; verified: () => Uint32Array; close: () => void } | { kind: 'u64'; table: BigUint64Array } | null;

function idTableOf(raw: Record<string, unknown>, count: number, at: string, ctx: Decoding): IdTable {
  if (raw.id_hashes !== undefined && raw.id_hashes !== null) {
    const where = `${at}.id_hashes`;
    const table = u32Later(raw.id_hashes, count * ID_ENTRY_WORDS, where, ctx)!;
    let checked = false;
    const verified = (): Uint32Array => {
      if (!checked) {
        const problem = idTableProblem(table.all(), count);
        if (problem) ctx.fail(`${where} ${problem}`);
        checked = true;
      }
      return table.all();
    };
    const entry = (i: number, out: Uint32Array): void => {
      out[0] = table.at(i * 3);
      out[1] = table.at(i * 3 + 1);
      out[2] = table.at(i * 3 + 2);
    };
    // Once the table was read whole (many lookups), its order is checked in one pass and searched directly.
    const rows = (id: string): number[] => ctx.guard(where, () => (table.isWhole() ? idTableRows(verified(), id) : idRowsBy(count, entry, id)));
    return { kind: 'hash', rows, verified, close: () => table.close() };
  }
  if (raw.ids === null || raw.ids === undefined) return null;
  const t = ctx.guard(`${at}.ids`, () => ctx.array(raw.ids, `${at}.ids`));
  if (!(t instanceof Uint32Array) || t.length !== count * 2 || t.byteOffset % 8 !== 0) ctx.fail(`${at}.ids must be ${count} u64 ids`);
  const table = new BigUint64Array(t.buffer, t.byteOffset, count);
  // Sorted and without repeats: then the chunk records need no id map of their own to rule out duplicates.
  for (let i = 1; i < count; i++) if (table[i] <= table[i - 1]) ctx.fail(`${at}.ids is not strictly ascending (repeated id?)`);
  return { kind: 'u64', table };
}

/** Rows that may hold `id` (see LazyRows.idCandidates). */
function idCandidates(ids: IdTable, id: string): number[] | null {
  if (ids === null) return null;
  if (ids.kind === 'hash') return ids.rows(id);
  // The older table holds generated ids only, without rows: it can rule an id out, not find it.
  return hasKey(ids.table, idKey(id)) ? null : [];
}

/** Whether the record read at `row` is the one the id table has there. */
function inIdTable(ids: IdTable, id: string, row: number): boolean {
  if (ids === null) return true;
  if (ids.kind === 'hash') return ids.rows(id).includes(row);
  return hasKey(ids.table, idKey(id));
}

/**
 * Checks records read whole against their hash table: each row's id hashes as
 * its entry says, and ids sharing a hash differ. Then the ids are unique.
 */
function checkAgainstTable(ids: IdTable, idAt: (row: number) => string, at: string, fail: Fail): void {
  if (ids === null || ids.kind !== 'hash') return;
  const table = ids.verified();
  const byRow = hashesByRow(table);
  const n = byRow.length / 2;
  const h = new Uint32Array(2);
  for (let r = 0; r < n; r++) {
    hashInto(idAt(r), h, 0);
    if (h[0] !== byRow[r * 2] || h[1] !== byRow[r * 2 + 1]) fail(`${at}[${r}].id ${JSON.stringify(idAt(r))} does not match the id table`);
  }
  for (let i = 1; i < n; i++) {
    if (table[i * 3] !== table[i * 3 - 3] || table[i * 3 + 1] !== table[i * 3 - 2]) continue;
    const id = idAt(table[i * 3 + 2]);
    for (let j = i - 1; j >= 0 && table[j * 3] === table[i * 3] && table[j * 3 + 1] === table[i * 3 + 1]; j--) {
      if (idAt(table[j * 3 + 2]) === id) fail(`duplicate id ${id}`);
    }
  }
}

/** The rows of a library whose chunk records and vectors stay in sidecars until first used. */
function lazyRows(raw: Record<string, unknown>, chunksRef: SidecarFileRef, rawVectors: unknown, rawCodes: unknown, lib: Library, nextSeq: number, at: string, ctx: Decoding): LazyRows {
  const { fail, guard, refOf, array } = ctx;
  const count = int(raw.count, `${at}.chunks.count`, fail);
  const dim = lib.dim;
  const records = recordFile(raw, chunksRef, count, 'chunks', `${at}.chunks`, ctx);
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
  const vectorFile = vectorsRef ? ctx.access!.open(vectorsRef, `${at}.vectors`) : null;
  const codes = vectorFile ? rowCodesOf(rawCodes, count, lib, `${at}.row_codes`, ctx) : null;
  const ids = idTableOf(raw, count, `${at}.chunks`, ctx);
  const laterSeqs = u32Later(raw.seqs, count, `${at}.chunks.seqs`, ctx);
  // Read and checked on first use (index coverage, a copy): an exact query never needs them.
  let seqsChecked = false;
  let seqsAscending = false;
  const checkedSeqs = (): Uint32Array | null => {
    const seqs = laterSeqs?.all() ?? null;
    if (seqs && !seqsChecked) {
      // Rows only ever appended to have ascending seqs, unique without a map of them.
      const ascending = ascendingBelow(seqs.subarray(0, count), nextSeq);
      seqsAscending = ascending;
      const seen = ascending ? null : new Uint8Array(nextSeq);
      for (let i = 0; seen && i < count; i++) {
        const seq = seqs[i];
        if (seq >= nextSeq || seen[seq] === 1) fail(`${at}.chunks.seqs: ${seq} is repeated or not below next_seq`);
        seen[seq] = 1;
      }
      seqsChecked = true;
    }
    return seqs;
  };
  const checkSeq = (chunk: Chunk, row: number): void => {
    const seq = laterSeqs?.at(row);
    if (seq !== undefined && chunk.seq !== seq) fail(`${at}.chunks[${row}].seq ${chunk.seq} differs from chunks.seqs (${seq})`);
  };
  const readAt = records.readAt;
  const readEach = records.readEach;
  // Damage met while a rewrite copies these files is reported as such, as when it parses them.
  const checked = (file: OpenSidecar, where: string) => ({ ref: file.ref, readRange: (into: Uint8Array, offset: number) => guard(where, () => file.readRange(into, offset)) });
  let copyable: CopyableRows | null | undefined;
  const copyableRows = (): CopyableRows | null => {
    if (copyable !== undefined) return copyable;
    const offsets = records.offsets();
    copyable =
      offsets && ids?.kind === 'hash' && laterSeqs && vectorFile
        ? {
            records: checked(records.file, `${at}.chunks`),
            offsets,
            idTable: ids.verified(),
            seqs: checkedSeqs()!,
            vectors: checked(vectorFile, `${at}.vectors`),
            codes: codes && { codes: checked(codes.codeFile, `${at}.row_codes`), params: checked(codes.paramFile, `${at}.row_codes.params`) },
          }
        : null;
    return copyable;
  };
  return {
    count,
    get seqs() {
      return checkedSeqs();
    },
    get seqsAscending() {
      checkedSeqs();
      return seqsAscending;
    },
    get copyable() {
      return copyableRows();
    },
    codes: codes && { read: codes.read, stream: codes.stream, verify: codes.verify, damaged: codes.damaged },
    forEachChunk: readEach
      ? (rows, each) =>
          guard(`${at}.chunks`, () =>
            readEach(rows, (row, record) => {
              const chunk = checkChunk(record, row, nextSeq, at, fail);
              checkSeq(chunk, row);
              if (!inIdTable(ids, chunk.id, row)) throw new Error(`id ${chunk.id} is not in the id table`);
              each(row, chunk);
            }),
          )
      : null,
    chunks: () =>
      guard(`${at}.chunks`, () => {
        // With an id table the records need no id map of their own to rule out duplicates.
        const chunks = checkChunks(records.readAll(), nextSeq, ids === null, at, fail);
        chunks.forEach(checkSeq);
        checkAgainstTable(ids, (r) => chunks[r].id, `${at}.chunks`, fail);
        checkDocIds(chunks, lib, at, fail);
        return chunks;
      }),
    chunkAt: (row) => {
      if (!readAt) return null;
      return guard(`${at}.chunks[${row}]`, () => {
        const chunk = checkChunk(readAt(row), row, nextSeq, at, fail);
        checkSeq(chunk, row);
        if (!inIdTable(ids, chunk.id, row)) throw new Error(`id ${chunk.id} is not in the id table`);
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
    vectorPages: () => {
      const source = vectorFile && guard(`${at}.vectors`, () => vectorFile.pages());
      if (!source) return null;
      return { source, damaged: (what) => fail(`${at}.vectors: ${what}`), hold: () => vectorFile!.hold() };
    },
    idCandidates: (id) => idCandidates(ids, id),
    close: () => {
      records.close();
      vectorFile?.close();
      codes?.close();
      laterSeqs?.close();
      if (ids?.kind === 'hash') ids.close();
    },
  };
}

/**
 * A library's row codes (index/rowcodes.ts): `{"dtype": "u32", "file", ...,
 * "rows", "stride", "params": {"dtype": "f32", ...}}`, opened now; null when
 * the manifest has none (written before them, or by an older vdb).
 */
function rowCodesOf(raw: unknown, count: number, lib: Library, at: string, ctx: Decoding) {
  if (raw === undefined || raw === null) return null;
  const { fail, guard } = ctx;
  const ref = ctx.refOf(raw, at);
  const r = raw as Record<string, unknown>;
  const stride = codeStride(lib.dim);
  if (!ref || ref.dtype !== 'u32' || r.rows !== count || r.stride !== stride || ref.bytes !== count * stride) {
    return fail(`${at} must reference a u32 sidecar of ${count} rows of ${stride} bytes`);
  }
  const paramsRef = ctx.refOf(r.params, `${at}.params`);
  if (!paramsRef || paramsRef.dtype !== 'f32' || paramsRef.bytes !== count * CODE_PARAMS * 4) fail(`${at}.params must reference an f32 sidecar of ${count} × ${CODE_PARAMS} floats`);
  const codeFile = ctx.access!.open(ref, at);
  const paramFile = ctx.access!.open(paramsRef!, `${at}.params`);
  const params = (): Float32Array => guard(`${at}.params`, () => viewAs('f32', paramFile.read(0), paramsRef!.bytes) as Float32Array);
  return {
    codeFile,
    paramFile,
    read: (): CodedRows => {
      const coded = new CodedRows(lib.metric, lib.dim, count, params());
      guard(at, () => codeFile.readInto(coded.codeBytes));
      return coded;
    },
    stream: (): CodedRows =>
      new CodedRows(lib.metric, lib.dim, count, params(), {
        scan: (window, each) => guard(at, () => codeFile.scan(window, each)),
        readRange: (into, offset) => guard(at, () => codeFile.readRange(into, offset)),
      }),
    // Listings and rewrites read everything, so they check these files too.
    verify: (): void => {
      params();
      guard(at, () => codeFile.read(0));
    },
    damaged: (row: number): never => fail(`${at}: the code of row ${row} does not match its vector`),
    close: () => {
      codeFile.close();
      paramFile.close();
    },
  };
}

/** A library's documents: inline records (v1, or few), or a sidecar read as they are asked for (v2). */
function decodeDocuments(raw: unknown, lib: Library, at: string, ctx: Decoding): void {
  if (raw === undefined) return;
  const ref = ctx.refOf(raw, at);
  if (ref) return lib.documents.setLazy(lazyDocuments(raw as Record<string, unknown>, ref, at, ctx));
  if (!Array.isArray(raw)) return ctx.fail(`${at} must be an array`);
  for (const d of checkDocuments(raw, at, ctx.fail)) lib.documents.put(d);
}

function lazyDocuments(raw: Record<string, unknown>, ref: SidecarFileRef, at: string, ctx: Decoding): LazyDocuments {
  const { fail, guard } = ctx;
  const count = int(raw.count, `${at}.count`, fail);
  const records = recordFile(raw, ref, count, 'documents', at, ctx);
  const ids = idTableOf(raw, count, at, ctx);
  const readAll = (): Document[] =>
    guard(at, () => {
      const docs = checkDocuments(records.readAll(), at, fail);
      checkAgainstTable(ids, (r) => docs[r].id, at, fail);
      return docs;
    });
  let whole: Document[] | null = null;
  return {
    count,
    find: (id) => {
      const readAt = records.readAt;
      if (!readAt || ids === null || ids.kind !== 'hash') {
        whole ??= readAll();
        return whole.find((d) => d.id === id) ?? null;
      }
      for (const row of ids.rows(id)) {
        const doc = guard(`${at}[${row}]`, () => checkDocument(readAt(row), row, at, fail));
        if (doc.id === id) return doc;
      }
      return null;
    },
    all: () => whole ?? readAll(),
    close: () => {
      records.close();
      if (ids?.kind === 'hash') ids.close();
    },
  };
}

/** Checks document records: well-formed, ids in strictly ascending order (so unique). */
function checkDocuments(list: unknown[], at: string, fail: Fail): Document[] {
  return list.map((d, i): Document => {
    const doc = checkDocument(d, i, at, fail);
    if (i > 0 && !((list[i - 1] as Document).id < doc.id)) fail(`${at}[${i}].id ${JSON.stringify(doc.id)} is out of order or repeated`);
    return doc;
  });
}

function checkDocument(d: unknown, i: number, at: string, fail: Fail): Document {
  if (!isObject(d)) return fail(`${at}[${i}] is not an object`);
  const { id, title, metadata, created_at, updated_at } = d;
  if (typeof id !== 'string' || id === '') return fail(`${at}[${i}].id must be a non-empty string`);
  if (title !== null && typeof title !== 'string') return fail(`${at}[${i}].title must be a string or null`);
  storedMetadata(metadata, `${at}[${i}].metadata`, fail);
  if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`${at}[${i}] timestamps must be strings`);
  return d as unknown as Document;
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

/** The 64-bit number behind a generated chunk id (`chk_` + 16 hex digits) in the older id table, or null for any other id. */
function idKey(id: string): bigint | null {
  return ID_FORMAT.test(id) ? BigInt(`0x${id.slice(4)}`) : null;
}

/**
 * Checks chunk records and returns them as chunks; with `unique`, also that
 * no id repeats. Labels such as "libraries[0].chunks[17].id" are built only
 * on failure, and the parsed object becomes the chunk itself: this loop runs
 * per chunk, a million times at scale.
 */
function checkChunks(list: unknown[], nextSeq: number, unique: boolean, at: string, fail: Fail): Chunk[] {
  const seqSeen = new Uint8Array(nextSeq);
  const ids = unique ? new Set<string>() : null;
  return list.map((c: unknown, ci: number): Chunk => {
    const chunk = checkChunk(c, ci, nextSeq, at, fail);
    if (ids) {
      const known = ids.size;
      ids.add(chunk.id);
      if (ids.size === known) fail(`duplicate id ${chunk.id}`);
    }
    if (seqSeen[chunk.seq]) fail(`${at}.chunks[${ci}].seq ${chunk.seq} is repeated or not below next_seq`);
    seqSeen[chunk.seq] = 1;
    return chunk;
  });
}

/** Checks one chunk record (row `ci`) and returns it as the chunk itself (adding no field: a million of them may pass here). */
function checkChunk(c: unknown, ci: number, nextSeq: number, at: string, fail: Fail): Chunk {
  const cat = (field: string) => `${at}.chunks[${ci}]${field}`;
  if (!isObject(c)) return fail(`${cat('')} is not an object`);
  const cid = c.id;
  if (typeof cid !== 'string' || cid === '') return fail(`${cat('.id')} must be a non-empty string`);
  const seq = c.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return fail(`${cat('.seq')} must be a non-negative integer`);
  if (seq >= nextSeq) fail(`${cat('.seq')} ${seq} is repeated or not below next_seq`);
  const { text, metadata, tags, created_at, updated_at, doc_id } = c;
  if (typeof text !== 'string') return fail(`${cat('.text')} must be a string`);
  storedMetadata(metadata, cat('.metadata'), fail);
  if (!Array.isArray(tags) || tags.some(notString)) return fail(`${cat('.tags')} must be strings`);
  if (typeof created_at !== 'string' || typeof updated_at !== 'string') return fail(`${cat('')} timestamps must be strings`);
  if (doc_id !== undefined && (typeof doc_id !== 'string' || doc_id === '')) return fail(`${cat('.doc_id')} must be a non-empty string`);
  return c as unknown as Chunk;
}

/**
 * The index's own arrays are read and checked on first use of `index`, its
 * slot seqs on first use of `slotSeqs`: a write that only appends chunks to a
 * large library reads neither.
 */
function decodeIndex(
  raw: unknown,
  dim: number,
  at: string,
  fail: Fail,
  arrayLater: (raw: unknown, at: string) => LaterArray,
): IndexState {
  if (!isObject(raw)) return fail(`${at} is not an object`);
  const type = raw.type;
  if (typeof type !== 'string' || !isIndexType(type)) return fail(`${at}.type is unknown`);
  if (!isObject(raw.params) || !isObject(raw.arrays)) return fail(`${at} lacks params or arrays`);
  const guarded = <T>(what: () => T): T => guardedBy(fail, at, what);
  const params = raw.params as Record<string, number>;
  const { laterSeqs, pending } = guarded(() => {
    const later = Object.entries(raw.arrays as Record<string, unknown>).map(([name, a]) => [name, arrayLater(a, `${at}.arrays.${name}`)] as const);
    return { laterSeqs: arrayLater(raw.slot_seqs, `${at}.slot_seqs`), pending: later };
  });
  // Read on first use too (4 MB at 1M rows): a write that only appends chunks never needs them.
  let seqs: Uint32Array | null = null;
  const slotSeqs = (): Uint32Array =>
    (seqs ??= guarded(() => {
      const read = laterSeqs.read();
      if (!(read instanceof Uint32Array)) throw new Error('slot_seqs must be u32');
      return read;
    }));
  let index: VectorIndex | null = null;
  return {
    type,
    built_at: str(raw.built_at, `${at}.built_at`, fail),
    coveredBelowSeq: int(raw.covered_below_seq, `${at}.covered_below_seq`, fail),
    get slotSeqs(): Uint32Array {
      return slotSeqs();
    },
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
        if (built.slots !== slotSeqs().length) throw new Error('slot_seqs does not match the index size');
        return built;
      });
      return index;
    },
  };
}

/**
 * The full-text index: checked for shape now, its arrays read on first use
 * (a text query, a rewrite), its postings paged in by the queries.
 */
function decodeTextIndex(raw: unknown, at: string, fail: Fail, arrayLater: (raw: unknown, at: string) => LaterArray): StoredTextIndex {
  if (!isObject(raw) || !isObject(raw.params) || !isObject(raw.arrays)) return fail(`${at} must be {"built_at", "params", "arrays"}`);
  const params: Record<string, number> = {};
  for (const [name, v] of Object.entries(raw.params)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(`${at}.params.${name} must be a number`);
    params[name] = v;
  }
  const rawArrays = raw.arrays;
  const arrays = Object.fromEntries(
    TEXT_INDEX_ARRAYS.map((name) => {
      if (!(name in rawArrays)) return fail(`${at}.arrays lacks ${name}`);
      const later = guardedBy(fail, `${at}.arrays.${name}`, () => arrayLater(rawArrays[name], `${at}.arrays.${name}`));
      return [name, { read: () => later.read() as Uint32Array, source: later.source }];
    }),
  ) as Record<TextIndexArrayName, LaterWords>;
  return storedOnDisk(str(raw.built_at, `${at}.built_at`, fail), params, arrays, (f) => guardedBy(fail, at, f));
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
