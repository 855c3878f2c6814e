import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LibParams, LibraryPage, LibraryPatchBody, LibraryViewSchema, NewLibraryBody, PageQuery } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['libraries'];

/** /api/v1/libraries: create, list, get, update, delete. `:lib` is an id or a name. */
export const libraryRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.post(
    '/libraries',
    { schema: { tags, summary: 'create a library (default: letters embedder, 26 dims, cosine)', body: NewLibraryBody, response: { 201: LibraryViewSchema, ...errorResponses } } },
    async (req, reply) => reply.code(201).send(await service.createLibrary(req.body)),
  );

  app.get(
    '/libraries',
    { schema: { tags, summary: 'list libraries, oldest first', querystring: PageQuery, response: { 200: LibraryPage, ...errorResponses } } },
    async (req) => {
      const { offset, limit } = req.query;
      const all = await service.listLibraries();
      return { libraries: all.slice(offset, offset + limit), total: all.length, offset, limit };
    },
  );

  app.get(
    '/libraries/:lib',
    { schema: { tags, summary: 'get one library', params: LibParams, response: { 200: LibraryViewSchema, ...errorResponses } } },
    async (req) => service.getLibrary(req.params.lib),
  );

  app.patch(
    '/libraries/:lib',
    { schema: { tags, summary: 'rename a library or replace its metadata', params: LibParams, body: LibraryPatchBody, response: { 200: LibraryViewSchema, ...errorResponses } } },
    async (req) => service.updateLibrary(req.params.lib, req.body),
  );

  app.delete(
    '/libraries/:lib',
    { schema: { tags, summary: 'delete a library and all its chunks; returns what was deleted', params: LibParams, response: { 200: LibraryViewSchema, ...errorResponses } } },
    async (req) => service.deleteLibrary(req.params.lib),
  );
};
