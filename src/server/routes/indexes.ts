import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BuildIndexBody, IndexBuildViewSchema, IndexInfoSchema, LibParams, QueryBody, QueryResultSchema, TextIndexBody, TextIndexStored } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

/** Index build and status, and kNN queries (exact over whatever the index does not cover). */
export const indexRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.post(
    '/libraries/:lib/index',
    {
      schema: {
        tags: ['index'],
        summary: 'build the index, or update the current hnsw index in place: {} or {"type", "full"?, ...options}',
        params: LibParams,
        body: BuildIndexBody,
        response: { 200: IndexBuildViewSchema, ...errorResponses },
      },
      // A bare `curl -X POST …/index` (no body at all) means the same as `{}`.
      preValidation: async (req) => {
        if (req.body === undefined) req.body = {};
      },
    },
    async (req) => {
      const { type, full, text, ...params } = req.body;
      return service.buildIndex(req.params.lib, { type, full, text, params: params as Record<string, number> });
    },
  );

  app.post(
    '/libraries/:lib/text-index',
    {
      schema: {
        tags: ['index'],
        summary: "store the library's full-text index brought up to date (text and hybrid queries work without it, indexing what it lacks as they go)",
        params: LibParams,
        body: TextIndexBody,
        response: { 200: TextIndexStored, ...errorResponses },
      },
      preValidation: async (req) => {
        if (req.body === undefined) req.body = {};
      },
    },
    async (req) => ({ text_build: await service.storeTextIndex(req.params.lib, { whenWorthIt: req.body.when_worth_it }) }),
  );

  app.get(
    '/libraries/:lib/index',
    { schema: { tags: ['index'], summary: "what the library's index covers", params: LibParams, response: { 200: IndexInfoSchema, ...errorResponses } } },
    async (req) => service.indexInfo(req.params.lib),
  );

  app.post(
    '/libraries/:lib/query',
    {
      schema: {
        tags: ['query'],
        summary: 'the k nearest chunks to an embedding or a text, nearest first (as vdb query --json)',
        params: LibParams,
        body: QueryBody,
        response: { 200: QueryResultSchema, ...errorResponses },
      },
    },
    async (req) => service.query(req.params.lib, req.body),
  );
};
