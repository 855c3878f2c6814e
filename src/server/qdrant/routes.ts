/**
 * The Qdrant-compatible REST API (QDRANT.md §4) at Qdrant's root paths, on the
 * same server as /api/v1: a collection is a library without an embedder (or
 * any library, for reads and vector writes), a point a chunk, its payload the
 * chunk's metadata. Reads take one snapshot of the library per request; every
 * write is one service call, applied and durable before the 200 answer.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequest, Conflict, InvalidFilter, InvalidInput, NotFound } from '../../domain/errors.js';
import type { VdbError } from '../../domain/errors.js';
import type { Library } from '../../domain/model.js';
import type { Metadata, Metric } from '../../domain/types.js';
import { MAX_K } from '../../domain/types.js';
import type { Filter } from '../../filter/ast.js';
import type { LocalApi } from '../../service/api.js';
import { sendError, sendResult } from './envelope.js';
import { compileQdrantFilter, payloadPath } from './filter.js';
import type { CompileContext } from './filter.js';
import { chunkIdForWrite, chunkIdsOf, comparePointIds, pointIdOf } from './ids.js';
import type { PointId } from './ids.js';
import { parseJson, toNumbers } from './json.js';
import { bad, bodyOf, idAt, idsAt, intField, isObject, readUpsert, readVector, readWithPayload, readWithVector, recordOf, refuse, selectPayload, wireVector } from './points.js';
import type { PayloadSelector } from './points.js';
import * as S from './schemas.js';
import type { TSchema } from 'typebox';

/** The version `GET /` reports: one the 1.19 js-client accepts (QDRANT.md §3: 1.18–1.20). */
export const QDRANT_VERSION = '1.19.0';

/** Library metadata key holding the payload indexes made through create_payload_index. */
export const PAYLOAD_INDEXES_KEY = 'qdrant_payload_indexes';

const DISTANCE: Record<string, Metric> = { Cosine: 'cosine', Euclid: 'l2', Dot: 'dot' };
const DISTANCE_NAME: Record<Metric, string> = { cosine: 'Cosine', l2: 'Euclid', dot: 'Dot' };
const FIELD_TYPES = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'];
/** Most points one scroll page or query answers. */
const MAX_LIMIT = MAX_K;

export interface QdrantContext {
  /** A single node's service or a cluster node: reads from its data here, writes through its calls (a cluster's log). */
  service: LocalApi;
  /** The app's error handler around an error sender (app.ts errorHandlerWith). */
  errorHandlerWith: (send: (reply: FastifyReply, err: VdbError) => void) => (err: FastifyError | VdbError, req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  version: string;
}

type Params = { name: string };
type Json = Record<string, unknown>;
type Req = FastifyRequest<{ Params: Params; Body: unknown }>;

export async function qdrantRoutes(app: FastifyInstance, ctx: QdrantContext): Promise<void> {
  const { service } = ctx;
  app.setErrorHandler(ctx.errorHandlerWith(sendError));
  // Bodies are read by read functions with Qdrant's messages; schemas document them only.
  app.setValidatorCompiler(() => (value) => ({ value }));
  // Exact 64-bit ids (json.ts); an empty body is no body (a DELETE may send none).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, parseJson(text as string));
    } catch (err) {
      done(new BadRequest(`body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  // Unknown routes and methods under /collections answer in Qdrant's shape too (LangChain reads data.status.error).
  await app.register(
    async (sub) => {
      sub.setNotFoundHandler((req, reply) => sendError(reply, new NotFound(`no route ${req.method} ${req.url.split('?')[0]} in vdb's Qdrant API (see /docs)`)));
    },
    { prefix: '/collections' },
  );

  /** The library of a collection, as of now. */
  const collection = (name: string): Library => {
    try {
      return service.snapshot().library(name);
    } catch (err) {
      if (err instanceof NotFound) throw new NotFound(`Collection \`${name}\` doesn't exist!`);
      throw err;
    }
  };
  const compile = (lib: Library, filter: unknown): Filter => compileQdrantFilter(filter, filterContext(lib));
  const tags = S.tags;

  app.get('/', { schema: { tags, summary: 'version info, not enveloped (the js-client checks the version)', response: S.responses.version } }, async (_req, reply) =>
    reply.type('application/json; charset=utf-8').send(JSON.stringify({ title: 'vdb - vector search engine (Qdrant-compatible REST API)', version: QDRANT_VERSION, commit: `vdb-${ctx.version}` })),
  );

  // ---- collections ----------------------------------------------------

  app.get('/collections', { schema: { tags, summary: 'every library, as collections', response: S.responses.collections } }, async (_req, reply) =>
    sendResult(reply, { collections: (await service.listLibraries()).map((l) => ({ name: l.name })) }),
  );

  app.get('/collections/:name', { schema: { tags, summary: 'collection info: size, distance, points_count, payload indexes', params: S.CollectionParams, response: S.responses.collection } }, async (req: Req, reply) =>
    sendResult(reply, collectionInfo(collection(req.params.name))),
  );

  app.get('/collections/:name/exists', { schema: { tags, summary: 'whether the collection exists', params: S.CollectionParams, response: S.responses.exists } }, async (req: Req, reply) =>
    sendResult(reply, { exists: (await service.listLibraries()).some((l) => l.name === req.params.name) }),
  );

  app.put(
    '/collections/:name',
    { schema: { tags, summary: 'create a collection: a library with dim = size, no embedder (409 if it exists)', params: S.CollectionParams, querystring: S.WaitQuery, body: S.CreateCollection, response: S.responses.bool } },
    async (req: Req, reply) => {
      const { dim, metric } = readCreate(bodyOf(req.body));
      try {
        await service.createLibrary({ name: req.params.name, dim, metric, embedder: null });
      } catch (err) {
        if (err instanceof Conflict) throw new Conflict(`Collection \`${req.params.name}\` already exists!`);
        throw err;
      }
      return sendResult(reply, true);
    },
  );

  app.delete('/collections/:name', { schema: { tags, summary: 'delete a collection and its points (false if there was none)', params: S.CollectionParams, querystring: S.WaitQuery, response: S.responses.bool } }, async (req: Req, reply) => {
    try {
      await service.deleteLibrary(req.params.name);
    } catch (err) {
      if (err instanceof NotFound) return sendResult(reply, false);
      throw err;
    }
    return sendResult(reply, true);
  });

  app.put(
    '/collections/:name/index',
    { schema: { tags, summary: 'create a payload index: recorded; a text index makes match.text match all tokens', params: S.CollectionParams, querystring: S.WaitQuery, body: S.IndexBody, response: S.responses.update } },
    async (req: Req, reply) => {
      const lib = collection(req.params.name);
      const body = bodyOf(req.body);
      if (typeof body.field_name !== 'string' || body.field_name === '') bad('field_name must be a payload key');
      const schema = body.field_schema;
      const type = typeof schema === 'string' ? schema : isObject(schema) ? schema.type : undefined;
      if (typeof type !== 'string' || !FIELD_TYPES.includes(type)) bad(`field_schema must be one of ${FIELD_TYPES.join(', ')} (or {"type": …, …}), got ${JSON.stringify(schema)}`);
      const indexes = { ...payloadIndexes(lib), [body.field_name]: isObject(schema) ? schema : { type } };
      await service.updateLibrary(req.params.name, { metadata: { ...lib.metadata, [PAYLOAD_INDEXES_KEY]: indexes } });
      return sendResult(reply, updated());
    },
  );

  app.delete(
    '/collections/:name/index/:field',
    { schema: { tags, summary: 'drop a payload index', params: S.FieldParams, querystring: S.WaitQuery, response: S.responses.update } },
    async (req: FastifyRequest<{ Params: { name: string; field: string } }>, reply) => {
      const lib = collection(req.params.name);
      const indexes = payloadIndexes(lib);
      if (req.params.field in indexes) {
        delete indexes[req.params.field];
        await service.updateLibrary(req.params.name, { metadata: { ...lib.metadata, [PAYLOAD_INDEXES_KEY]: indexes } });
      }
      return sendResult(reply, updated());
    },
  );

  // ---- points: writes -------------------------------------------------

  app.put(
    '/collections/:name/points',
    { schema: { tags, summary: 'upsert points (list or batch form): each replaces the whole point', params: S.CollectionParams, querystring: S.WaitQuery, body: S.UpsertBody, response: S.responses.update } },
    async (req: Req, reply) => {
      const points = readUpsert(bodyOf(req.body));
      const lib = collection(req.params.name);
      const existing = chunkIdsOf(
        points.map((p) => p.id),
        () => chunkIds(lib),
      );
      // A later point with the same id wins, as in one Qdrant batch.
      const last = new Map<string, number>();
      const ids = points.map((p) => chunkIdForWrite(p.id, existing));
      ids.forEach((id, i) => last.set(id, i));
      const kept = points.map((p, i) => ({ p, i })).filter(({ i }) => last.get(ids[i]) === i);
      if (kept.length > 0) {
        await service.putChunks(
          req.params.name,
          kept.map(({ p, i }) => ({ id: ids[i], embedding: p.vector, metadata: p.payload })),
          { onConflict: 'replace', where: (j) => `points[${kept[j].i}]` },
        );
      }
      return sendResult(reply, updated());
    },
  );

  /** A write by `points` or `filter`: one service call, then Qdrant's UpdateResult. */
  const writeRoute = (method: 'post' | 'put', url: string, summary: string, body: TSchema, run: (name: string, lib: Library, body: Json) => Promise<unknown>) =>
    app[method](url, { schema: { tags, summary, params: S.CollectionParams, querystring: S.WaitQuery, body, response: S.responses.update } }, async (req: Req, reply) => {
      await run(req.params.name, collection(req.params.name), bodyOf(req.body));
      return sendResult(reply, updated());
    });

  writeRoute('post', '/collections/:name/points/delete', 'delete points by ids or by filter', S.SelectorBody, (name, lib, body) => service.deleteWhere(name, { ast: selectorFilter(lib, body, compile) }));

  const payloadWrite = (mode: 'merge' | 'replace') => (name: string, lib: Library, body: Json) => {
    if (!isObject(body.payload)) bad('payload must be a JSON object');
    let path: string[] | undefined;
    if (body.key !== undefined && body.key !== null) {
      if (typeof body.key !== 'string' || body.key === '' || /[[\]]/.test(body.key)) bad('key must be a payload key such as a.b (array paths are not supported by vdb)');
      path = body.key.split('.');
    }
    return service.setMetadata(name, selectorTarget(lib, body, compile), toPayload(body.payload), { mode, path });
  };
  writeRoute('post', '/collections/:name/points/payload', 'set payload keys (merged into each point; under `key` if given) by ids or filter', S.PayloadBody, payloadWrite('merge'));
  writeRoute('put', '/collections/:name/points/payload', 'overwrite the whole payload (or the object under `key`) by ids or filter', S.PayloadBody, payloadWrite('replace'));
  writeRoute('post', '/collections/:name/points/payload/clear', 'empty the payload of points by ids or filter', S.SelectorBody, (name, lib, body) =>
    service.setMetadata(name, selectorTarget(lib, body, compile), {}, { mode: 'replace' }),
  );
  writeRoute('post', '/collections/:name/points/payload/delete', 'remove payload keys (dotted keys reach nested objects) from points by ids or filter', S.DeletePayloadBody, (name, lib, body) => {
    if (!Array.isArray(body.keys) || !body.keys.every((k) => typeof k === 'string' && k !== '' && !/[[\]]/.test(k))) bad('keys must be a list of payload keys such as a.b (array paths are not supported by vdb)');
    return service.unsetMetadata(name, selectorTarget(lib, body, compile), (body.keys as string[]).map((k) => k.split('.')));
  });

  // ---- points: reads --------------------------------------------------

  app.post(
    '/collections/:name/points',
    { schema: { tags, summary: 'retrieve points by ids (unknown ids left out)', params: S.CollectionParams, body: S.RetrieveBody, response: S.responses.records } },
    async (req: Req, reply) => {
      const body = bodyOf(req.body);
      const ids = idsAt(body.ids, 'ids');
      const sel = readWithPayload(body.with_payload, true);
      const withVector = readWithVector(body.with_vector);
      const lib = collection(req.params.name);
      const found = chunkIdsOf(ids, () => chunkIds(lib));
      const seen = new Set<string>();
      const records = [];
      for (const id of ids) {
        const c = found.get(id);
        if (c === undefined || seen.has(c)) continue;
        seen.add(c);
        const row = lib.rowOf(c);
        if (row >= 0) records.push(recordOf(lib, row, sel, withVector));
      }
      return sendResult(reply, records);
    },
  );

  app.get(
    '/collections/:name/points/:id',
    { schema: { tags, summary: 'one point, with its payload and vector', params: S.PointParams, response: S.responses.record } },
    async (req: FastifyRequest<{ Params: { name: string; id: string } }>, reply) => {
      const raw = req.params.id;
      const id = /^\d+$/.test(raw) ? idAt(BigInt(raw), 'id') : idAt(raw, 'id');
      const lib = collection(req.params.name);
      const c = chunkIdsOf([id], () => chunkIds(lib)).get(id);
      const row = c === undefined ? -1 : lib.rowOf(c);
      if (row < 0) throw new NotFound(`No point with id ${id} found`);
      return sendResult(reply, recordOf(lib, row, { all: true }, true));
    },
  );

  app.post(
    '/collections/:name/points/scroll',
    { schema: { tags, summary: 'a page of points in id order (integers, then UUIDs); next_page_offset starts the next', params: S.CollectionParams, body: S.ScrollBody, response: S.responses.scroll } },
    async (req: Req, reply) => {
      const body = bodyOf(req.body);
      refuse(body, ['order_by', 'shard_key'], 'scroll');
      const limit = intField(body.limit, 'limit', 10, 1, MAX_LIMIT);
      const offset = body.offset === undefined || body.offset === null ? null : idAt(body.offset, 'offset');
      const sel = readWithPayload(body.with_payload, true);
      const withVector = readWithVector(body.with_vector);
      const lib = collection(req.params.name);
      const rows = body.filter === undefined || body.filter === null ? null : lib.filterRows(compile(lib, body.filter)).toArray();
      const n = rows ? rows.length : lib.size;
      const order: { id: PointId; row: number }[] = [];
      for (let i = 0; i < n; i++) {
        const row = rows ? rows[i] : i;
        const id = pointIdOf(lib.chunkAt(row).id);
        // Ids before the offset (inclusive start, QDRANT.md §5) are not sorted at all.
        if (offset === null || comparePointIds(id, offset) >= 0) order.push({ id, row });
      }
      order.sort((a, b) => comparePointIds(a.id, b.id));
      const page = order.slice(0, limit).map(({ row }) => recordOf(lib, row, sel, withVector));
      return sendResult(reply, { points: page, next_page_offset: order.length > limit ? order[limit].id : null });
    },
  );

  app.post(
    '/collections/:name/points/count',
    { schema: { tags, summary: 'how many points match the filter (always exact)', params: S.CollectionParams, body: S.CountBody, response: S.responses.count } },
    async (req: Req, reply) => {
      const body = bodyOf(req.body);
      const lib = collection(req.params.name);
      const { count } = await service.countChunks(req.params.name, { ast: compile(lib, body.filter) });
      return sendResult(reply, { count });
    },
  );

  const runQuery = (name: string, body: Json) => {
    refuse(body, ['prefetch', 'lookup_from', 'shard_key'], 'query');
    if (body.using !== undefined && body.using !== null && body.using !== '') bad(`using names vector ${JSON.stringify(body.using)}; vdb collections have one unnamed vector`);
    return search(service, name, collection, searchInput(body, body.query));
  };

  app.post(
    '/collections/:name/points/query',
    { schema: { tags, summary: 'nearest points to a vector, {nearest} (with mmr) or a point id; filter, limit, offset, score_threshold', params: S.CollectionParams, body: S.QueryBody, response: S.responses.query } },
    async (req: Req, reply) => sendResult(reply, { points: await runQuery(req.params.name, bodyOf(req.body)) }),
  );

  app.post(
    '/collections/:name/points/query/batch',
    { schema: { tags, summary: 'several queries: {"searches": [query bodies]} → [{points}], in order', params: S.CollectionParams, body: S.QueryBatchBody, response: S.responses.queryBatch } },
    async (req: Req, reply) => {
      const { searches } = bodyOf(req.body);
      if (!Array.isArray(searches)) bad('searches must be a list of query requests');
      const out = [];
      for (const [i, body] of searches.entries()) {
        try {
          out.push({ points: await runQuery(req.params.name, bodyOf(body)) });
        } catch (err) {
          if (err instanceof InvalidInput || err instanceof InvalidFilter) throw new InvalidInput(`searches[${i}]: ${err.message}`);
          throw err;
        }
      }
      return sendResult(reply, out);
    },
  );

  // Removed from Qdrant's OpenAPI (QDRANT.md §4) but still served by it and used by js-client ≤ 1.18.
  app.post(
    '/collections/:name/points/search',
    { schema: { tags, summary: 'the nearest points to a vector (the older search route; answers a bare list)', params: S.CollectionParams, body: S.SearchBody, response: S.responses.search } },
    async (req: Req, reply) => {
      const body = bodyOf(req.body);
      let vector = body.vector;
      if (isObject(vector) && 'name' in vector) {
        if (vector.name !== '') bad(`vector names ${JSON.stringify(vector.name)}; vdb collections have one unnamed vector`);
        vector = vector.vector;
      }
      if (body.limit === undefined) bad('limit is required');
      const points = await search(service, req.params.name, collection, searchInput(body, readVector(vector, 'vector')));
      return sendResult(reply, points);
    },
  );
}

// ---- helpers ------------------------------------------------------------

function updated() {
  return { operation_id: 0, status: 'completed' as const };
}

function* chunkIds(lib: Library): Iterable<string> {
  for (let r = 0; r < lib.size; r++) yield lib.chunkAt(r).id;
}

function payloadIndexes(lib: Library): Record<string, Metadata> {
  const v = lib.metadata[PAYLOAD_INDEXES_KEY];
  return isObject(v) ? { ...(v as Record<string, Metadata>) } : {};
}

function filterContext(lib: Library): CompileContext {
  const indexes = payloadIndexes(lib);
  return { textIndexed: (key) => indexes[key]?.type === 'text', chunkIds: () => chunkIds(lib) };
}

function readCreate(body: Record<string, unknown>): { dim: number; metric: Metric } {
  refuse(body, ['sparse_vectors', 'sharding_method', 'init_from'], 'create collection');
  const v = body.vectors;
  if (!isObject(v)) return bad('vectors must be {"size": N, "distance": "Cosine" | "Euclid" | "Dot"}');
  if (!('size' in v) && !('distance' in v)) return bad('named vectors are not supported by vdb: give vectors as {"size": N, "distance": …}');
  refuse(v, ['multivector_config'], 'vectors');
  const size = v.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 65536) bad(`vectors.size must be an integer from 1 to 65536, got ${JSON.stringify(size)}`);
  const metric = typeof v.distance === 'string' ? DISTANCE[v.distance] : undefined;
  if (metric === undefined) {
    const why = v.distance === 'Manhattan' ? 'Manhattan distance is not supported by vdb' : `unknown distance ${JSON.stringify(v.distance)}`;
    bad(`${why} (use Cosine, Euclid or Dot)`);
  }
  return { dim: size as number, metric };
}

function collectionInfo(lib: Library) {
  const index = lib.indexView();
  const hnsw = index?.type === 'hnsw' ? index.params : null;
  const indexes = payloadIndexes(lib);
  return {
    status: 'green',
    optimizer_status: 'ok',
    points_count: lib.size,
    indexed_vectors_count: index && !index.exact ? index.indexed : 0,
    segments_count: 1,
    config: {
      params: { vectors: { size: lib.dim, distance: DISTANCE_NAME[lib.metric] }, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
      // vdb's index (vdb index build), when it is hnsw; else Qdrant's defaults, which no index uses here.
      hnsw_config: { m: hnsw?.m ?? 16, ef_construct: hnsw?.ef_construction ?? 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, max_segment_size: null, memmap_threshold: null, indexing_threshold: 20000, flush_interval_sec: 5, max_optimization_threads: null },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      quantization_config: null,
    },
    payload_schema: Object.fromEntries(Object.entries(indexes).map(([key, schema]) => [key, { data_type: schema.type, ...(Object.keys(schema).length > 1 ? { params: schema } : {}), points: pointsWith(lib, key) }])),
    vdb: { lib_id: lib.id, embedder: lib.embedder, index: index?.type ?? null },
  };
}

/** How many points have the payload key (what Qdrant's payload_schema counts per index); 0 for a key that is no valid path. */
function pointsWith(lib: Library, key: string): number {
  try {
    return lib.filterRows({ kind: 'exists', path: payloadPath(key, 'key') }).count();
  } catch {
    return 0;
  }
}

function toPayload(v: unknown): Metadata {
  return toNumbers(v as Metadata);
}

/** The points a selector names, as a filter: `{points: [ids]}` or `{filter}`. */
function selectorFilter(lib: Library, body: Record<string, unknown>, compile: (lib: Library, f: unknown) => Filter): Filter {
  const target = selectorTarget(lib, body, compile, false);
  if (target.filter) return target.filter.ast as Filter;
  return { kind: 'in', path: { steps: ['id'], arrays: 'any', label: 'id' }, values: target.ids as string[] };
}

/**
 * Chunk ids (`points`) or a filter, exactly one. With `mustExist`, an id naming
 * no point is a 404 (Qdrant's set payload); else ids without a point are dropped.
 */
function selectorTarget(lib: Library, body: Record<string, unknown>, compile: (lib: Library, f: unknown) => Filter, mustExist = true): { ids?: string[]; filter?: { ast: Filter } } {
  const hasPoints = body.points !== undefined && body.points !== null;
  const hasFilter = body.filter !== undefined && body.filter !== null;
  if (hasPoints === hasFilter) bad('give either points (a list of ids) or filter');
  if (hasFilter) return { filter: { ast: compile(lib, body.filter) } };
  // `points` may itself be a selector object ({"points": {"filter": …}}), as in Qdrant's PointsSelector.
  if (isObject(body.points)) return selectorTarget(lib, body.points, compile, mustExist);
  const ids = idsAt(body.points, 'points');
  const found = chunkIdsOf(ids, () => chunkIds(lib));
  const out: string[] = [];
  for (const id of ids) {
    const c = found.get(id);
    if (c !== undefined && lib.rowOf(c) >= 0) out.push(c);
    else if (mustExist) throw new NotFound(`No point with id ${id} found`);
  }
  return { ids: out };
}

function threshold(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`score_threshold must be a number, got ${JSON.stringify(v)}`);
  return v;
}

interface SearchInput {
  query: unknown;
  filter: unknown;
  limit: number;
  offset: number;
  scoreThreshold: number | null;
  payload: PayloadSelector;
  withVector: boolean;
}

/** The fields query and search share (QDRANT.md §4 row 12, §5 defaults). */
function searchInput(body: Json, query: unknown): SearchInput {
  const limit = intField(body.limit, 'limit', 10, 1, MAX_LIMIT);
  const offset = intField(body.offset, 'offset', 0, 0, MAX_LIMIT - limit);
  return {
    query,
    filter: body.filter,
    limit,
    offset,
    scoreThreshold: threshold(body.score_threshold),
    payload: readWithPayload(body.with_payload, false),
    withVector: readWithVector(body.with_vector),
  };
}

/** What `query` asks for (QDRANT.md §4 query fields): a vector, a point's vector, with or without MMR. */
function readQuery(q: unknown): { vector?: number[]; id?: PointId; mmr?: { diversity: number; candidates: number | null } } {
  if (q === undefined || q === null) bad('query is required: a vector, {"nearest": …} or a point id');
  if (Array.isArray(q)) return { vector: readVector(q, 'query') };
  if (typeof q === 'number' || typeof q === 'bigint' || typeof q === 'string') return { id: idAt(q, 'query') };
  if (isObject(q) && 'nearest' in q) {
    const inner = readQuery(q.nearest);
    if (inner.mmr) bad('query.nearest must be a vector or a point id');
    const m = q.mmr;
    if (m === undefined || m === null) return inner;
    if (!isObject(m)) bad('query.mmr must be {"diversity": 0..1, "candidates_limit": N}');
    const diversity = m.diversity === undefined || m.diversity === null ? 0.5 : m.diversity;
    if (typeof diversity !== 'number' || diversity < 0 || diversity > 1) bad(`query.mmr.diversity must be a number from 0 to 1, got ${JSON.stringify(diversity)}`);
    const candidates = m.candidates_limit === undefined || m.candidates_limit === null ? null : intField(m.candidates_limit, 'query.mmr.candidates_limit', 0, 1, MAX_LIMIT);
    return { ...inner, mmr: { diversity, candidates } };
  }
  if (isObject(q)) {
    const kind = Object.keys(q)[0];
    return bad(`query ${JSON.stringify(kind ?? '{}')} is not supported by vdb (use a vector, {"nearest": …} or a point id)`);
  }
  return bad('query must be a vector, {"nearest": …} or a point id');
}

/** The scored points of a query: the service's filtered kNN, then Qdrant's offset, threshold and selection. */
async function search(service: LocalApi, name: string, collection: (name: string) => Library, input: SearchInput) {
  const q = readQuery(input.query);
  let session;
  try {
    session = await service.querySession(name);
  } catch (err) {
    // Qdrant's message for a missing collection.
    if (err instanceof NotFound) collection(name);
    throw err;
  }
  try {
    const lib = session.lib;
    let vector = q.vector;
    let self: string | undefined;
    if (q.id !== undefined) {
      self = chunkIdsOf([q.id], () => chunkIds(lib)).get(q.id);
      const row = self === undefined ? -1 : lib.rowOf(self);
      if (row < 0) throw new NotFound(`No point with id ${q.id} found`);
      vector = Array.from(lib.readVector(row));
    }
    const ast = compileQdrantFilter(input.filter, filterContext(lib));
    const wanted = input.offset + input.limit;
    // A point given as the query is not among its own answers (as in Qdrant).
    const k = Math.min(MAX_K, (q.mmr ? Math.max(q.mmr.candidates ?? wanted, wanted) : wanted) + (self !== undefined ? 1 : 0));
    const { hits } = await session.query({ embedding: vector, k, ast, mode: 'vector' });
    let ranked = hits.filter((h) => h.id !== self);
    if (q.mmr) ranked = mmr(lib, vector as number[], ranked, wanted, q.mmr.diversity);
    const better = lib.metric === 'l2' ? (s: number, t: number) => s < t : (s: number, t: number) => s > t;
    return ranked
      .slice(input.offset, wanted)
      .filter((h) => input.scoreThreshold === null || better(h.score, input.scoreThreshold))
      .map((h) => {
        const row = lib.rowOf(h.id);
        const point: { id: PointId; version: number; score: number; payload?: Metadata; vector?: number[] } = { id: pointIdOf(h.id), version: 0, score: h.score };
        const payload = selectPayload(h.metadata, input.payload);
        if (payload !== undefined) point.payload = payload;
        if (input.withVector) point.vector = wireVector(lib.metric, lib.readVector(row));
        return point;
      });
  } finally {
    await session.close();
  }
}

/**
 * Maximal marginal relevance over the candidates: picks, `n` times, the one
 * maximising λ·sim(query) − (1 − λ)·max sim(picked), λ = 1 − diversity, with
 * the collection's similarity (−distance for Euclid). Answers in pick order
 * with their query scores, as Qdrant does.
 */
function mmr<T extends { id: string; score: number }>(lib: Library, query: number[], candidates: T[], n: number, diversity: number): T[] {
  const lambda = 1 - diversity;
  const vectors = candidates.map((c) => lib.readVector(lib.rowOf(c.id)));
  const sim = similarity(lib.metric);
  const toQuery = vectors.map((v) => sim(Float32Array.from(query), v));
  const maxToPicked = new Float64Array(candidates.length).fill(-Infinity);
  const picked: number[] = [];
  const left = new Set(candidates.map((_, i) => i));
  while (picked.length < n && left.size > 0) {
    let best = -1;
    let bestValue = -Infinity;
    for (const i of left) {
      const value = picked.length === 0 ? toQuery[i] : lambda * toQuery[i] - (1 - lambda) * maxToPicked[i];
      if (value > bestValue) [best, bestValue] = [i, value];
    }
    picked.push(best);
    left.delete(best);
    for (const i of left) maxToPicked[i] = Math.max(maxToPicked[i], sim(vectors[best], vectors[i]));
  }
  return picked.map((i) => candidates[i]);
}

function similarity(metric: Metric): (a: Float32Array, b: Float32Array) => number {
  return (a, b) => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    let l2 = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
      l2 += (a[i] - b[i]) ** 2;
    }
    if (metric === 'dot') return dot;
    if (metric === 'l2') return -Math.sqrt(l2);
    return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  };
}

