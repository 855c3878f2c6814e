/**
 * OpenAPI descriptions of the Qdrant-compatible routes (tag "qdrant"). They
 * document the wire; the bodies are read by read.ts, which gives Qdrant's
 * error messages and reads point ids as exact 64-bit integers, so these
 * schemas do not validate (the plugin's validator passes bodies through).
 */
import { Type } from 'typebox';
import type { TSchema } from 'typebox';

export const tags = ['qdrant'];

const PointId = Type.Union([Type.Integer({ minimum: 0, description: 'unsigned 64-bit integer' }), Type.String({ format: 'uuid' })], { description: 'point id: u64 or UUID' });
const Vector = Type.Array(Type.Number(), { description: "the collection's size numbers" });
const Payload = Type.Record(Type.String(), Type.Unknown(), { description: "the point's payload: the chunk's metadata" });
const Filter = Type.Record(Type.String(), Type.Unknown(), { description: 'Qdrant filter: must, should, must_not, min_should (README "Use vdb from Qdrant clients")' });
const WithPayload = Type.Union([Type.Boolean(), Type.Array(Type.String()), Type.Object({ include: Type.Array(Type.String()) }), Type.Object({ exclude: Type.Array(Type.String()) })]);
const WithVector = Type.Union([Type.Boolean(), Type.Array(Type.String())]);

export const CollectionParams = Type.Object({ name: Type.String({ description: 'collection (vdb library) name' }) });
export const PointParams = Type.Object({ name: Type.String(), id: Type.String({ description: 'point id' }) });
export const FieldParams = Type.Object({ name: Type.String(), field: Type.String({ description: 'payload key' }) });
export const WaitQuery = Type.Object(
  { wait: Type.Optional(Type.Boolean({ description: 'accepted; writes are always applied before the answer' })), ordering: Type.Optional(Type.String()), timeout: Type.Optional(Type.Integer()) },
  { additionalProperties: true },
);

const VectorParams = Type.Object({ size: Type.Integer({ minimum: 1, maximum: 65536 }), distance: Type.Union([Type.Literal('Cosine'), Type.Literal('Euclid'), Type.Literal('Dot')]) });
export const CreateCollection = Type.Object({ vectors: VectorParams }, { additionalProperties: true, description: 'other CreateCollection fields (hnsw_config, optimizers_config, …) are accepted and ignored' });

const PointStruct = Type.Object({ id: PointId, vector: Vector, payload: Type.Optional(Type.Union([Payload, Type.Null()])) });
export const UpsertBody = Type.Union([
  Type.Object({ points: Type.Array(PointStruct) }),
  Type.Object({ batch: Type.Object({ ids: Type.Array(PointId), vectors: Type.Array(Vector), payloads: Type.Optional(Type.Array(Type.Union([Payload, Type.Null()]))) }) }),
]);
export const RetrieveBody = Type.Object({ ids: Type.Array(PointId), with_payload: Type.Optional(WithPayload), with_vector: Type.Optional(WithVector) });
export const SelectorBody = Type.Union([Type.Object({ points: Type.Array(PointId) }), Type.Object({ filter: Filter })]);
export const ScrollBody = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, default: 10 })),
  offset: Type.Optional(PointId),
  filter: Type.Optional(Filter),
  with_payload: Type.Optional(WithPayload),
  with_vector: Type.Optional(WithVector),
});
export const CountBody = Type.Object({ filter: Type.Optional(Filter), exact: Type.Optional(Type.Boolean()) });
export const QueryBody = Type.Object({
  query: Type.Optional(Type.Union([Vector, PointId, Type.Object({ nearest: Type.Union([Vector, PointId]), mmr: Type.Optional(Type.Object({ diversity: Type.Optional(Type.Number()), candidates_limit: Type.Optional(Type.Integer()) })) })])),
  filter: Type.Optional(Filter),
  limit: Type.Optional(Type.Integer({ minimum: 1, default: 10 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  score_threshold: Type.Optional(Type.Number({ description: 'only strictly better scores: > for Cosine and Dot, < for Euclid' })),
  with_payload: Type.Optional(WithPayload),
  with_vector: Type.Optional(WithVector),
  using: Type.Optional(Type.String()),
  params: Type.Optional(Type.Object({ hnsw_ef: Type.Optional(Type.Integer()), exact: Type.Optional(Type.Boolean()) }, { additionalProperties: true })),
});
export const QueryBatchBody = Type.Object({ searches: Type.Array(QueryBody) });
export const SearchBody = Type.Object({
  vector: Vector,
  filter: Type.Optional(Filter),
  limit: Type.Integer({ minimum: 1 }),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
  score_threshold: Type.Optional(Type.Number()),
  with_payload: Type.Optional(WithPayload),
  with_vector: Type.Optional(WithVector),
});
export const PayloadBody = Type.Object({ payload: Payload, points: Type.Optional(Type.Array(PointId)), filter: Type.Optional(Filter), key: Type.Optional(Type.String({ description: 'nested key to set the payload under, e.g. a.b' })) });
export const DeletePayloadBody = Type.Object({ keys: Type.Array(Type.String()), points: Type.Optional(Type.Array(PointId)), filter: Type.Optional(Filter) });
export const IndexBody = Type.Object({
  field_name: Type.String(),
  field_schema: Type.Union([Type.String({ description: 'keyword, integer, float, bool, geo, datetime, uuid or text' }), Type.Object({ type: Type.String() }, { additionalProperties: true })]),
});

const Record_ = Type.Object({ id: PointId, payload: Type.Optional(Payload), vector: Type.Optional(Vector) });
const Scored = Type.Object({ id: PointId, version: Type.Integer(), score: Type.Number(), payload: Type.Optional(Payload), vector: Type.Optional(Vector) });
const UpdateResult = Type.Object({ operation_id: Type.Optional(Type.Integer()), status: Type.Literal('completed') });

/** `{result, status: "ok", time}` around `result`. */
const ok = (result: TSchema, description: string) => ({ description, ...Type.Object({ result, status: Type.Literal('ok'), time: Type.Number({ description: 'seconds' }) }) });
const error = (description: string) => ({ description, ...Type.Object({ status: Type.Object({ error: Type.String() }), time: Type.Number() }) });

/** Qdrant's error statuses (QDRANT.md §2). */
export const errors = {
  400: error('bad input: malformed body, bad point id, wrong dimension, bad filter, an unsupported feature'),
  401: error('VDB_API_KEY is set and neither api-key nor Authorization: Bearer carries it'),
  404: error('no such collection, or no such point'),
  409: error('the collection exists'),
  413: error('body over the limit (vdb serve --body-limit)'),
  500: error('the snapshot cannot be read or written (see the server log)'),
  503: error('another writer held the snapshot lock past the timeout; retry'),
};

export const responses = {
  bool: { 200: ok(Type.Boolean(), 'done'), ...errors },
  update: { 200: ok(UpdateResult, 'applied and durable before this answer'), ...errors },
  collections: { 200: ok(Type.Object({ collections: Type.Array(Type.Object({ name: Type.String() })) }), 'every library'), ...errors },
  collection: { 200: ok(Type.Record(Type.String(), Type.Unknown(), { description: 'CollectionInfo: status, points_count, config.params.vectors, payload_schema, …' }), 'the collection'), ...errors },
  exists: { 200: ok(Type.Object({ exists: Type.Boolean() }), 'whether it exists'), ...errors },
  records: { 200: ok(Type.Array(Record_), 'the points found, in the order asked (unknown ids left out)'), ...errors },
  record: { 200: ok(Record_, 'the point'), ...errors },
  scroll: { 200: ok(Type.Object({ points: Type.Array(Record_), next_page_offset: Type.Union([PointId, Type.Null()]) }), 'a page in id order'), ...errors },
  count: { 200: ok(Type.Object({ count: Type.Integer() }), 'exact count'), ...errors },
  query: { 200: ok(Type.Object({ points: Type.Array(Scored) }), 'best first'), ...errors },
  search: { 200: ok(Type.Array(Scored), 'best first'), ...errors },
  queryBatch: { 200: ok(Type.Array(Type.Object({ points: Type.Array(Scored) })), 'one answer per query, in order'), ...errors },
  version: { 200: Type.Object({ title: Type.String(), version: Type.String(), commit: Type.String() }, { description: 'not enveloped (QDRANT.md §3)' }) },
};
