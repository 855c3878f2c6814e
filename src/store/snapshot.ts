/**
 * The snapshot file: one JSON document.
 *
 *   {"format": "vdb-snapshot", "version": 1, "next_id": N,
 *    "libraries": [{"id", "name", "dim", "metric", "embedder", "metadata",
 *                   "created_at", "updated_at", "next_seq",
 *                   "chunks": [{"id", "text", "metadata", "tags", "created_at", "updated_at", "seq"}],
 *                   "vectors": {"dtype": "f32", "base64": ...},   // chunks × dim, row i = chunks[i]
 *                   "index": null | {"type", "built_at", "covered_seq", "params": {...},
 *                                    "slot_seqs": {"dtype": "u32", ...}, "arrays": {name: {...}}}}]}
 *
 * decode() checks every field and cross-reference, so a damaged file is
 * reported as corrupt instead of surfacing later as a wrong answer.
 */
import { CorruptSnapshot } from '../domain/errors.js';
import { Database, Library } from '../domain/model.js';
import type { Chunk, IndexState } from '../domain/model.js';
import { METRICS } from '../index/kernels.js';
import { INDEX_KINDS, isIndexType } from '../index/registry.js';
import type { IndexArray } from '../index/types.js';
import { decodeArray, decodeBase64, encodeArray } from './codec.js';

export const SNAPSHOT_FORMAT = 'vdb-snapshot';
export const SNAPSHOT_VERSION = 1;

export function encodeSnapshot(db: Database): string {
  const doc = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
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
      chunks: lib.chunks.map((c) => ({
        id: c.id,
        text: c.text,
        metadata: c.metadata,
        tags: c.tags,
        created_at: c.created_at,
        updated_at: c.updated_at,
        seq: c.seq,
      })),
      vectors: encodeArray(lib.vectors()),
      index: lib.indexState && encodeIndex(lib.indexState),
    })),
  };
  return `${JSON.stringify(doc)}\n`;
}

function encodeIndex(state: IndexState): object {
  const s = state.index.serialize();
  const arrays: Record<string, object> = {};
  for (const [name, a] of Object.entries(s.arrays)) arrays[name] = encodeArray(a);
  return {
    type: state.type,
    built_at: state.built_at,
    covered_seq: state.coveredSeq,
    params: s.params,
    slot_seqs: encodeArray(state.slotSeqs),
    arrays,
  };
}

/**
 * Parses and checks a snapshot.
 * @param source the file name, for messages
 * @throws CorruptSnapshot naming what is wrong
 */
export function decodeSnapshot(text: string, source: string): Database {
  const fail = (what: string): never => {
    throw new CorruptSnapshot(`snapshot ${source} is corrupt: ${what}`, {
      hint: 'restore it from a backup; vdb will not overwrite it',
    });
  };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message}); the file may be truncated`);
  }
  if (!isObject(doc) || doc.format !== SNAPSHOT_FORMAT) return fail('not a vdb snapshot (no "format": "vdb-snapshot")');
  if (doc.version !== SNAPSHOT_VERSION) {
    const v = doc.version;
    if (typeof v === 'number' && v > SNAPSHOT_VERSION) {
      throw new CorruptSnapshot(`snapshot ${source} has format version ${v}, newer than this vdb reads (${SNAPSHOT_VERSION})`, {
        hint: 'upgrade vdb',
      });
    }
    return fail(`unknown format version ${JSON.stringify(v)}`);
  }
  const db = new Database();
  db.nextId = int(doc.next_id, 'next_id', fail);
  if (!Array.isArray(doc.libraries)) return fail('"libraries" is not an array');
  const ids = new Set<string>();
  const names = new Set<string>();
  doc.libraries.forEach((raw: unknown, li: number) => {
    const at = `libraries[${li}]`;
    if (!isObject(raw)) return fail(`${at} is not an object`);
    const id = str(raw.id, `${at}.id`, fail);
    const name = str(raw.name, `${at}.name`, fail);
    if (ids.has(id)) fail(`duplicate id ${id}`);
    if (names.has(name)) fail(`duplicate library name ${name}`);
    ids.add(id);
    names.add(name);
    const dim = int(raw.dim, `${at}.dim`, fail);
    if (dim < 1) fail(`${at}.dim must be at least 1`);
    const metric = raw.metric;
    if (typeof metric !== 'string' || !(METRICS as readonly string[]).includes(metric)) return fail(`${at}.metric is unknown`);
    if (raw.embedder !== null && typeof raw.embedder !== 'string') fail(`${at}.embedder must be a string or null`);
    const nextSeq = int(raw.next_seq, `${at}.next_seq`, fail);
    if (!Array.isArray(raw.chunks)) return fail(`${at}.chunks is not an array`);
    let vectors: Float32Array;
    try {
      const v = decodeArray(raw.vectors);
      if (!(v instanceof Float32Array)) throw new Error('vectors must be f32');
      vectors = v;
    } catch (err) {
      return fail(`${at}.vectors: ${(err as Error).message}`);
    }
    if (vectors.length !== raw.chunks.length * dim) {
      fail(`${at}.vectors holds ${vectors.length / dim} rows for ${raw.chunks.length} chunks`);
    }
    const lib = new Library(
      {
        id,
        name,
        dim,
        metric: metric as Library['metric'],
        embedder: raw.embedder as string | null,
        metadata: obj(raw.metadata, `${at}.metadata`, fail),
        created_at: str(raw.created_at, `${at}.created_at`, fail),
        updated_at: str(raw.updated_at, `${at}.updated_at`, fail),
        nextSeq,
      },
      vectors,
    );
    const seqs = new Set<number>();
    lib.chunks = raw.chunks.map((c: unknown, ci: number): Chunk => {
      const cat = `${at}.chunks[${ci}]`;
      if (!isObject(c)) return fail(`${cat} is not an object`);
      const cid = str(c.id, `${cat}.id`, fail);
      if (ids.has(cid)) fail(`duplicate id ${cid}`);
      ids.add(cid);
      const seq = int(c.seq, `${cat}.seq`, fail);
      if (seq >= nextSeq || seqs.has(seq)) fail(`${cat}.seq ${seq} is repeated or not below next_seq`);
      seqs.add(seq);
      if (!Array.isArray(c.tags) || c.tags.some((t) => typeof t !== 'string')) fail(`${cat}.tags must be strings`);
      return {
        id: cid,
        text: str(c.text, `${cat}.text`, fail, true),
        metadata: obj(c.metadata, `${cat}.metadata`, fail),
        tags: c.tags as string[],
        created_at: str(c.created_at, `${cat}.created_at`, fail),
        updated_at: str(c.updated_at, `${cat}.updated_at`, fail),
        seq,
      };
    });
    if (raw.index !== null && raw.index !== undefined) lib.setIndex(decodeIndex(raw.index, dim, `${at}.index`, fail));
    db.libraries.push(lib);
  });
  return db;
}

function decodeIndex(raw: unknown, dim: number, at: string, fail: (what: string) => never): IndexState {
  if (!isObject(raw)) return fail(`${at} is not an object`);
  const type = raw.type;
  if (typeof type !== 'string' || !isIndexType(type)) return fail(`${at}.type is unknown`);
  if (!isObject(raw.params) || !isObject(raw.arrays)) return fail(`${at} lacks params or arrays`);
  try {
    const arrays: Record<string, IndexArray> = {};
    for (const [name, a] of Object.entries(raw.arrays)) arrays[name] = decodeArray(a);
    const slotSeqs = decodeArray(raw.slot_seqs);
    if (!(slotSeqs instanceof Uint32Array)) throw new Error('slot_seqs must be u32');
    const index = INDEX_KINDS[type].from({ params: raw.params as Record<string, number>, arrays }, dim);
    if (index.slots !== slotSeqs.length) throw new Error('slot_seqs does not match the index size');
    return {
      type,
      built_at: str(raw.built_at, `${at}.built_at`, fail),
      // -1: built while the library was empty, so it covers no chunk yet.
      coveredSeq: int(raw.covered_seq, `${at}.covered_seq`, fail, -1),
      slotSeqs,
      index,
    };
  } catch (err) {
    return fail(`${at}: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown, at: string, fail: (w: string) => never, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) return fail(`${at} must be a non-empty string`);
  return v;
}

function int(v: unknown, at: string, fail: (w: string) => never, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return fail(`${at} must be ${min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`}`);
  return v;
}

function obj(v: unknown, at: string, fail: (w: string) => never): Record<string, unknown> {
  if (!isObject(v)) return fail(`${at} must be an object`);
  return v;
}

// Re-exported for tests that build arrays by hand.
export { decodeBase64 };
