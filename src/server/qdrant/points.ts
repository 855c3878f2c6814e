/**
 * Points on the wire: reading upsert bodies, vectors, payload and vector
 * selectors (QDRANT.md §5), and writing records and scored points.
 */
import { InvalidInput } from '../../domain/errors.js';
import type { Metadata, Metric } from '../../domain/types.js';
import type { Library } from '../../domain/model.js';
import { toNumbers } from './json.js';
import { parsePointId, pointIdOf } from './ids.js';
import type { PointId } from './ids.js';

type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export function bad(message: string): never {
  throw new InvalidInput(message);
}

/** A body that must be an object (an absent body reads as {}). */
export function bodyOf(v: unknown): Json {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) bad(`the body must be a JSON object, got ${typeof v === 'string' ? 'a string' : Array.isArray(v) ? 'an array' : String(v)}`);
  return v;
}

/** Refuses fields vdb does not implement, rather than ignoring what would change the answer. */
export function refuse(body: Json, fields: readonly string[], where: string): void {
  for (const f of fields) if (body[f] !== undefined && body[f] !== null) bad(`${where}: "${f}" is not supported by vdb`);
}

export interface NewPoint {
  id: PointId;
  vector: number[];
  payload: Metadata;
}

/** The points of an upsert body, list form `{points}` or batch form `{batch}` (QDRANT.md §4 row 7). */
export function readUpsert(body: Json): NewPoint[] {
  refuse(body, ['update_filter', 'shard_key'], 'upsert');
  if (body.points !== undefined && body.batch !== undefined) bad('give either points or batch, not both');
  if (Array.isArray(body.points)) {
    return body.points.map((p, i) => {
      const at = `points[${i}]`;
      if (!isObject(p)) bad(`${at} must be an object {id, vector, payload}`);
      return { id: idAt(p.id, `${at}.id`), vector: readVector(p.vector, `${at}.vector`), payload: readPayload(p.payload, `${at}.payload`) };
    });
  }
  if (isObject(body.batch)) {
    const { ids, vectors, payloads } = body.batch;
    if (!Array.isArray(ids)) bad('batch.ids must be a list of point ids');
    if (!Array.isArray(vectors)) bad(isObject(vectors) ? 'named vectors are not supported by vdb (batch.vectors must be a list of vectors)' : 'batch.vectors must be a list of vectors');
    if (vectors.length !== ids.length) bad(`batch.vectors has ${vectors.length} vectors for ${ids.length} ids`);
    if (payloads !== undefined && payloads !== null && (!Array.isArray(payloads) || payloads.length !== ids.length)) bad(`batch.payloads must be a list of ${ids.length} payloads`);
    return ids.map((id, i) => ({
      id: idAt(id, `batch.ids[${i}]`),
      vector: readVector(vectors[i], `batch.vectors[${i}]`),
      payload: readPayload(Array.isArray(payloads) ? payloads[i] : undefined, `batch.payloads[${i}]`),
    }));
  }
  return bad('an upsert needs {"points": [{id, vector, payload}]} or {"batch": {ids, vectors, payloads}}');
}

/** A point id, its message prefixed with where it is. */
export function idAt(v: unknown, where: string): PointId {
  try {
    return parsePointId(v);
  } catch (err) {
    return bad(`${where}: ${(err as Error).message}`);
  }
}

export function idsAt(v: unknown, where: string): PointId[] {
  if (!Array.isArray(v)) bad(`${where} must be a list of point ids`);
  return v.map((x, i) => idAt(x, `${where}[${i}]`));
}

/** A dense unnamed vector; `{"": [...]}` names the default vector. */
export function readVector(v: unknown, where: string): number[] {
  if (isObject(v)) {
    const names = Object.keys(v);
    if (names.length === 1 && names[0] === '') return readVector(v[''], where);
    if ('indices' in v) bad(`${where}: sparse vectors are not supported by vdb`);
    bad(`${where}: named vectors are not supported by vdb (give the vector as a list of numbers)`);
  }
  if (!Array.isArray(v)) bad(`${where} must be a list of numbers`);
  const out = toNumbers(v) as unknown[];
  for (let i = 0; i < out.length; i++) if (typeof out[i] !== 'number') bad(`${where}[${i}] must be a number, got ${JSON.stringify(out[i])}`);
  return out as number[];
}

function readPayload(v: unknown, where: string): Metadata {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) bad(`${where} must be a JSON object`);
  return toNumbers(v);
}

/** What of the payload to return (QDRANT.md §5 with_payload). */
export type PayloadSelector = { all: boolean } | { include: string[] } | { exclude: string[] };

export function readWithPayload(v: unknown, byDefault: boolean): PayloadSelector {
  if (v === undefined || v === null) return { all: byDefault };
  if (typeof v === 'boolean') return { all: v };
  const keys = (x: unknown, where: string): string[] => {
    if (!Array.isArray(x) || !x.every((k) => typeof k === 'string')) bad(`${where} must be a list of payload keys`);
    return x as string[];
  };
  if (Array.isArray(v)) return { include: keys(v, 'with_payload') };
  if (isObject(v) && 'include' in v) return { include: keys(v.include, 'with_payload.include') };
  if (isObject(v) && 'exclude' in v) return { exclude: keys(v.exclude, 'with_payload.exclude') };
  return bad('with_payload must be true, false, a list of keys, {"include": [...]} or {"exclude": [...]}');
}

export function readWithVector(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    for (const name of v) if (name !== '') bad(`with_vector names vector ${JSON.stringify(name)}; vdb collections have one unnamed vector`);
    return v.length > 0;
  }
  return bad('with_vector must be true, false or a list of vector names');
}

/** The payload as selected; undefined when none is asked for. */
export function selectPayload(metadata: Metadata, sel: PayloadSelector): Metadata | undefined {
  if ('all' in sel) return sel.all ? metadata : undefined;
  if ('include' in sel) {
    const out: Metadata = {};
    for (const key of sel.include) copyAt(metadata, out, key.split('.'));
    return out;
  }
  const out = structuredClone(metadata);
  for (const key of sel.exclude) deleteAt(out, key.split('.'));
  return out;
}

function copyAt(from: Metadata, to: Metadata, path: string[]): void {
  const [head, ...rest] = path;
  if (!Object.prototype.hasOwnProperty.call(from, head)) return;
  const v = from[head];
  if (rest.length === 0) return void (to[head] = v);
  if (!isObject(v)) return;
  const sub = isObject(to[head]) ? (to[head] as Metadata) : (to[head] = {});
  copyAt(v, sub as Metadata, rest);
}

function deleteAt(obj: Metadata, path: string[]): void {
  const [head, ...rest] = path;
  if (rest.length === 0) return void delete obj[head];
  const v = obj[head];
  if (isObject(v)) deleteAt(v, rest);
}

/** A stored vector as Qdrant returns it: for Cosine, normalised (as Qdrant stores it; a zero vector as is). */
export function wireVector(metric: Metric, v: Float32Array): number[] {
  const out = Array.from(v);
  if (metric !== 'cosine') return out;
  let norm = 0;
  for (const x of out) norm += x * x;
  if (norm === 0) return out;
  const s = 1 / Math.sqrt(norm);
  return out.map((x) => x * s);
}

export interface WireRecord {
  id: PointId;
  payload?: Metadata;
  vector?: number[];
}

/** The record of row `row`: id, and payload and vector as asked. */
export function recordOf(lib: Library, row: number, sel: PayloadSelector, withVector: boolean): WireRecord {
  const c = lib.chunkAt(row);
  const rec: WireRecord = { id: pointIdOf(c.id) };
  const payload = selectPayload(c.metadata, sel);
  if (payload !== undefined) rec.payload = payload;
  if (withVector) rec.vector = wireVector(lib.metric, lib.readVector(row));
  return rec;
}

/** Reads a non-negative integer field with a default. */
export function intField(v: unknown, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
  return v;
}
