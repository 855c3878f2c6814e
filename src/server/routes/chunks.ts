import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  BulkChunksBody,
  ChunkGetQuery,
  ChunkListBody,
  ChunkList,
  ChunkPage,
  ChunkPageQuery,
  ChunkParams,
  ChunkPatchBody,
  ChunkViewSchema,
  CountBody,
  CountQuery,
  CountSchema,
  DeletedSchema,
  DeleteWhereBody,
  LibParams,
  NewChunkBody,
} from '../schemas.js';
import { DEFAULT_PAGE } from '../schemas.js';
import type { FilterInput } from '../../filter/parse.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['chunks'];

/** Chunks: the seed's single insert, bulk insert, paginated list, get, update, delete. */
export const chunkRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.post(
    '/chunks',
    { schema: { tags, summary: "add one chunk to the library lib_id (the seed's route)", body: NewChunkBody, response: { 201: ChunkViewSchema, ...errorResponses } } },
    async (req, reply) => {
      const { lib_id, ...chunk } = req.body;
      const [added] = await service.addChunks(lib_id, [chunk]);
      return reply.code(201).send(added);
    },
  );

  app.post(
    '/libraries/:lib/chunks',
    {
      schema: {
        tags,
        summary: 'add many chunks at once: all of them, or none if any is invalid (the error names "chunk N")',
        params: LibParams,
        body: BulkChunksBody,
        response: { 201: ChunkList, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send({ chunks: await service.addChunks(req.params.lib, req.body.chunks) }),
  );

  app.get(
    '/libraries/:lib/chunks',
    {
      schema: {
        tags,
        summary: 'list the chunks of a library in insertion order; ?filter=JSON and ?where=EXPR (repeatable) list the matching ones',
        params: LibParams,
        querystring: ChunkPageQuery,
        response: { 200: ChunkPage, ...errorResponses },
      },
    },
    async (req) => {
      const { offset, limit, with_embedding, filter, where } = req.query;
      const { total, chunks } = service.listChunks(req.params.lib, { offset, limit, withEmbedding: with_embedding, filter: filterOf(filter, where) });
      return { chunks, total, offset, limit };
    },
  );

  app.post(
    '/libraries/:lib/chunks/list',
    {
      schema: {
        tags,
        summary: 'a page of the chunks matching {"filter"?, "where"?}, in insertion order (total: how many match)',
        params: LibParams,
        body: ChunkListBody,
        response: { 200: ChunkPage, ...errorResponses },
      },
    },
    async (req) => {
      const { offset = 0, limit = DEFAULT_PAGE, with_embedding, filter, where } = req.body;
      const { total, chunks } = service.listChunks(req.params.lib, { offset, limit, withEmbedding: with_embedding === true, filter: { filter, where } });
      return { chunks, total, offset, limit };
    },
  );

  app.post(
    '/libraries/:lib/chunks/delete',
    {
      schema: {
        tags,
        summary: 'delete every chunk matching {"filter"?, "where"?} in one atomic change ({"filter": {}}: all of them); dry_run: only say which',
        params: LibParams,
        body: DeleteWhereBody,
        response: { 200: DeletedSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { filter, where, dry_run } = req.body;
      const deleted = await service.deleteWhere(req.params.lib, { filter, where }, { dryRun: dry_run === true });
      return { deleted: deleted.length, ids: deleted.map((c) => c.id) };
    },
  );

  const count = { tags, params: LibParams, response: { 200: CountSchema, ...errorResponses } };
  app.get(
    '/libraries/:lib/count',
    { schema: { ...count, summary: 'how many chunks the library holds, or match ?filter=JSON and ?where=EXPR', querystring: CountQuery } },
    async (req) => service.countChunks(req.params.lib, filterOf(req.query.filter, req.query.where) ?? {}),
  );
  app.post(
    '/libraries/:lib/count',
    { schema: { ...count, summary: 'how many chunks match {"filter"?, "where"?}', body: CountBody } },
    async (req) => service.countChunks(req.params.lib, req.body),
  );

  app.get(
    '/chunks/:id',
    { schema: { tags, summary: 'get one chunk', params: ChunkParams, querystring: ChunkGetQuery, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => service.getChunk(req.params.id, req.query.with_embedding),
  );

  app.patch(
    '/chunks/:id',
    {
      schema: {
        tags,
        summary: "change a chunk's text, embedding, metadata or tags (a new text is re-embedded)",
        params: ChunkParams,
        body: ChunkPatchBody,
        response: { 200: ChunkViewSchema, ...errorResponses },
      },
    },
    async (req) => service.updateChunk(req.params.id, req.body),
  );

  app.delete(
    '/chunks/:id',
    { schema: { tags, summary: 'delete a chunk; returns what was deleted', params: ChunkParams, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => (await service.deleteChunks([req.params.id]))[0],
  );
};

/** A filter from a query string, or undefined when it gives none. */
function filterOf(filter: string | undefined, where: string | string[] | undefined): FilterInput | undefined {
  return filter === undefined && where === undefined ? undefined : { filter, where };
}
