import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { outcomeCounts } from '../../domain/types.js';
import {
  BulkChunksBody,
  ChunkGetQuery,
  ChunkIdsBody,
  DeletedChunks,
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
  LibChunkParams,
  LibParams,
  NewChunkBody,
} from '../schemas.js';
import { DEFAULT_PAGE } from '../schemas.js';
import type { FilterInput } from '../../filter/parse.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['chunks'];

/**
 * Chunks: the seed's single insert, bulk insert (both with your own ids and
 * on_conflict), paginated list, and get, update, delete by id: under
 * /chunks/{id} when the id is in one library, under /libraries/{lib}/chunks/{id} always.
 */
export const chunkRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.post(
    '/chunks',
    {
      schema: {
        tags,
        summary: "add one chunk to the library lib_id (the seed's route); 201 when added, 200 when it replaced, matched or skipped an existing id",
        body: NewChunkBody,
        response: { 200: ChunkViewSchema, 201: ChunkViewSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { lib_id, on_conflict, ...chunk } = req.body;
      const { chunks, outcomes } = await service.putChunks(lib_id, [chunk], { onConflict: on_conflict });
      return reply.code(outcomes[0] === 'added' ? 201 : 200).send(chunks[0]);
    },
  );

  app.post(
    '/libraries/:lib/chunks',
    {
      schema: {
        tags,
        summary: 'add many chunks at once: all of them, or none if any is invalid (the error names "chunk N"); 201 when any was added, else 200',
        params: LibParams,
        body: BulkChunksBody,
        response: { 200: ChunkList, 201: ChunkList, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { chunks, outcomes } = await service.putChunks(req.params.lib, req.body.chunks, { onConflict: req.body.on_conflict });
      const counts = outcomeCounts(outcomes);
      return reply.code(counts.added > 0 ? 201 : 200).send({ chunks, ...counts });
    },
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
      const { total, chunks } = await service.listChunks(req.params.lib, { offset, limit, withEmbedding: with_embedding, filter: filterOf(filter, where) });
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
      const { total, chunks } = await service.listChunks(req.params.lib, { offset, limit, withEmbedding: with_embedding === true, filter: { filter, where } });
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
      const { filter, where, dry_run, with_chunks } = req.body;
      const deleted = await service.deleteWhere(req.params.lib, { filter, where }, { dryRun: dry_run === true });
      return { deleted: deleted.length, ids: deleted.map((c) => c.id), ...(with_chunks ? { chunks: deleted } : {}) };
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

  const ambiguous = ' (400 if several libraries hold the id: use /libraries/{lib}/chunks/{id})';
  app.get(
    '/chunks/:id',
    { schema: { tags, summary: `get one chunk${ambiguous}`, params: ChunkParams, querystring: ChunkGetQuery, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => service.getChunk(req.params.id, req.query.with_embedding),
  );
  app.get(
    '/libraries/:lib/chunks/:id',
    { schema: { tags, summary: 'get one chunk of a library', params: LibChunkParams, querystring: ChunkGetQuery, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => service.getChunk(req.params.id, req.query.with_embedding, req.params.lib),
  );

  const patch = "change a chunk's text, embedding, metadata, tags or doc_id (a new text is re-embedded)";
  app.patch(
    '/chunks/:id',
    { schema: { tags, summary: `${patch}${ambiguous}`, params: ChunkParams, body: ChunkPatchBody, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => service.updateChunk(req.params.id, req.body),
  );
  app.patch(
    '/libraries/:lib/chunks/:id',
    { schema: { tags, summary: patch, params: LibChunkParams, body: ChunkPatchBody, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => service.updateChunk(req.params.id, req.body, req.params.lib),
  );

  app.post(
    '/chunks/delete',
    {
      schema: {
        tags,
        summary: 'delete several chunks: all of them, or none if any id is unknown; returns what was deleted',
        body: ChunkIdsBody,
        response: { 200: DeletedChunks, ...errorResponses },
      },
    },
    async (req) => ({ chunks: await service.deleteChunks(req.body.ids, req.body.lib) }),
  );

  app.delete(
    '/chunks/:id',
    { schema: { tags, summary: `delete a chunk; returns what was deleted${ambiguous}`, params: ChunkParams, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => (await service.deleteChunks([req.params.id]))[0],
  );
  app.delete(
    '/libraries/:lib/chunks/:id',
    { schema: { tags, summary: 'delete a chunk of a library; returns what was deleted', params: LibChunkParams, response: { 200: ChunkViewSchema, ...errorResponses } } },
    async (req) => (await service.deleteChunks([req.params.id], req.params.lib))[0],
  );
};

/** A filter from a query string, or undefined when it gives none. */
function filterOf(filter: string | undefined, where: string | string[] | undefined): FilterInput | undefined {
  return filter === undefined && where === undefined ? undefined : { filter, where };
}
