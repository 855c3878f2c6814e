import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { BadRequest, NotFound } from '../../domain/errors.js';
import type { ClusterStatusView } from '../../domain/wire.js';
import { INDEX_TYPES } from '../../index/registry.js';
import type { OpKind } from '../../cluster/ops.js';
import { ChunkPatchBody, DocumentPatchBody, ImportBatchBody, OpFilter, ReplaceDocument, LibraryPatchBody, MAX_BULK, NewChunk, NewDocument, NewLibraryBody, OnConflictField as OnConflict } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['cluster'];

const Lib = Type.String({ description: 'library id or name' });
const Target = Type.Union([Type.Object({ ids: Type.Array(Type.String()) }, { additionalProperties: false }), Type.Object({ filter: OpFilter }, { additionalProperties: false })]);

/**
 * The input of each replicated write, as the public routes hand it on: the
 * same schemas, so a forwarded write is checked exactly as one sent here.
 * Typed by OpKind: a write kind without its schema does not compile.
 */
const OP_INPUTS: Record<OpKind, TSchema> = {
  'library.create': NewLibraryBody,
  'library.update': Type.Object({ lib: Lib, patch: LibraryPatchBody }, { additionalProperties: false }),
  'library.delete': Type.Object({ lib: Lib }, { additionalProperties: false }),
  'chunk.put': Type.Object({ lib: Lib, items: Type.Array(NewChunk, { minItems: 1, maxItems: MAX_BULK }), on_conflict: OnConflict }, { additionalProperties: false }),
  'chunk.update': Type.Object({ id: Type.String(), patch: ChunkPatchBody, lib: Type.Optional(Lib) }, { additionalProperties: false }),
  'chunk.delete': Type.Object({ ids: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_BULK }), lib: Type.Optional(Lib) }, { additionalProperties: false }),
  'chunk.delete_where': Type.Object({ lib: Lib, filter: OpFilter }, { additionalProperties: false }),
  'chunk.set_metadata': Type.Object(
    { lib: Lib, target: Target, values: Type.Record(Type.String(), Type.Unknown()), mode: Type.Enum(['merge', 'replace']), path: Type.Optional(Type.Array(Type.String())) },
    { additionalProperties: false },
  ),
  'chunk.unset_metadata': Type.Object({ lib: Lib, target: Target, paths: Type.Array(Type.Array(Type.String())) }, { additionalProperties: false }),
  'doc.add': Type.Object({ lib: Lib, items: Type.Array(NewDocument, { minItems: 1, maxItems: MAX_BULK }), on_conflict: OnConflict }, { additionalProperties: false }),
  'doc.update': Type.Object({ id: Type.String(), patch: DocumentPatchBody, lib: Type.Optional(Lib) }, { additionalProperties: false }),
  'doc.delete': Type.Object({ ids: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_BULK }), lib: Type.Optional(Lib) }, { additionalProperties: false }),
  'doc.replace': Type.Object({ lib: Lib, items: Type.Array(ReplaceDocument, { minItems: 1, maxItems: MAX_BULK }), isolate: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  'text.store': Type.Object({ lib: Lib, when_worth_it: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  'library.import': ImportBatchBody,
  'index.build': Type.Object(
    {
      lib: Lib,
      req: Type.Object(
        { type: Type.Optional(Type.Enum(INDEX_TYPES)), full: Type.Optional(Type.Boolean()), text: Type.Optional(Type.Boolean()), params: Type.Optional(Type.Record(Type.String(), Type.Integer())) },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
};
const CHECKS = Object.fromEntries(Object.entries(OP_INPUTS).map(([k, s]) => [k, Compile(s)]));

const OpBody = Type.Object(
  {
    kind: Type.Enum(Object.keys(OP_INPUTS), { description: 'the write' }),
    input: Type.Unknown({ description: "the write's request, as the public route parsed it" }),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'idempotency key: a write with a key already appended is not appended again' })),
  },
  { additionalProperties: false },
);

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const ClusterNodeSchema = Type.Object({
  node_id: Type.String(),
  url: Type.String({ description: 'where the other nodes reach it (--advertise)' }),
  role: Type.Enum(['leader', 'follower']),
  applied_seq: Type.Integer({ description: 'the last log entry applied to its replica' }),
  lag: Type.Integer({ description: 'entries committed and not yet applied there' }),
  state: Type.Enum(['catching_up', 'bootstrapping', 'ready', 'stalled']),
  error: nullable(Type.String()),
  started_at: Type.String(),
  updated_at: Type.String(),
});
const ClusterStatusSchema = Type.Object(
  {
    mode: Type.Enum(['cluster', 'single']),
    cluster_id: nullable(Type.String()),
    name: nullable(Type.String({ description: "the prefix of the cluster's keys in etcd" })),
    node_id: nullable(Type.String({ description: 'the node that answered' })),
    leader: nullable(Type.Object({ node_id: Type.String(), url: Type.String() })),
    term: nullable(Type.Integer({ description: "the leader's election key's create revision: larger for every new leader" })),
    committed_seq: nullable(Type.Integer({ description: 'the last sequence appended to the log' })),
    snapshot_seq: nullable(Type.Integer({ description: 'the latest published snapshot' })),
    nodes: Type.Array(ClusterNodeSchema),
  },
  { description: 'the cluster as this node sees it, as vdb cluster status --json' },
);
const ForwardedSchema = Type.Object(
  { seq: Type.Integer(), outcome: Type.Unknown({ description: '{"ok": true, "value"} or {"ok": false, "error": {"code", "message"}}: what applying the entry gave' }) },
  { description: 'the entry, appended and applied on the leader' },
);

const SINGLE: ClusterStatusView = { mode: 'single', cluster_id: null, name: null, node_id: null, leader: null, term: null, committed_seq: null, snapshot_seq: null, nodes: [] };

/** GET /cluster: nodes, leader, term, applied sequences and lag; POST /cluster/ops: writes forwarded to the leader. */
export const clusterRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { cluster }) => {
  app.get(
    '/cluster',
    {
      schema: {
        tags,
        summary: "the cluster as this node sees it: its nodes, the leader and term, each node's applied sequence and lag ({\"mode\": \"single\"} on a server without --cluster)",
        response: { 200: ClusterStatusSchema, ...errorResponses },
      },
    },
    async () => (cluster ? cluster.status() : SINGLE),
  );

  app.post(
    '/cluster/ops',
    {
      schema: {
        tags,
        summary: 'internal: a write another node forwards to the leader; answers {"seq", "outcome"} once the leader applied it (503 when this node is not the leader)',
        body: OpBody,
        response: { 200: ForwardedSchema, ...errorResponses },
      },
    },
    async (req) => {
      if (!cluster) throw new NotFound('this server is a single node (started without --cluster): it has no log to append to');
      const { kind, input, key } = req.body as { kind: OpKind; input: unknown; key?: string };
      const check = CHECKS[kind];
      if (!check.Check(input)) {
        const first = [...check.Errors(input)][0];
        throw new BadRequest(`input of ${kind}${(first?.instancePath ?? '').replace(/\//g, '.')} ${first?.message ?? 'is invalid'}`);
      }
      return cluster.submitForwarded(kind, input, key);
    },
  );
};
