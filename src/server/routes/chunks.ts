import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  BulkChunksBody,
  ChunkGetQuery,
  ChunkIdsBody,
  ChunkList,
  ChunkPage,
  ChunkPageQuery,
  ChunkParams,
  ChunkPatchBody,
  ChunkViewSchema,
  LibParams,
  NewChunkBody,
} from '../schemas.js';
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
    { schema: { tags, summary: 'list the chunks of a library in insertion order', params: LibParams, querystring: ChunkPageQuery, response: { 200: ChunkPage, ...errorResponses } } },
    async (req) => {
      const { offset, limit, with_embedding } = req.query;
      const { total, chunks } = await service.listChunks(req.params.lib, { offset, limit, withEmbedding: with_embedding });
      return { chunks, total, offset, limit };
    },
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

  app.post(
    '/chunks/delete',
    {
      schema: {
        tags,
        summary: 'delete several chunks: all of them, or none if any id is unknown; returns what was deleted',
        body: ChunkIdsBody,
        response: { 200: ChunkList, ...errorResponses },
      },
    },
    async (req) => ({ chunks: await service.deleteChunks(req.body.ids) }),
  );

  app.delete(
    '/chunks/:id',
    { schema: { tags, summary: 'delete a chunk; returns what was deleted', params: ChunkParams, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => (await service.deleteChunks([req.params.id]))[0],
  );
};
