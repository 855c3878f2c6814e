import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { NotFound } from '../../domain/errors.js';
import { isLocalApi } from '../../service/api.js';
import { exportLines, exportPieces } from '../../service/transfer.js';
import type { NumberedRecord } from '../../transfer/format.js';
import { ImportBatchBody, ImportCheckBody, ImportedLibrarySchema } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['export and import'];

/**
 * `vdb export --remote`: the export streamed as NDJSON; `vdb import --remote`: an
 * export checked against the data first, then sent in batches (src/transfer/batches.ts).
 */
export const transferRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.get(
    '/export',
    {
      schema: {
        tags,
        summary: 'the libraries named by ?lib= (repeatable; default: all) as vdb export writes them: NDJSON, embeddings in base64, streamed from one state of the data',
        querystring: Type.Object({ lib: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'a library id or name; repeat for several' })) }, { additionalProperties: false }),
        response: { 200: { description: 'one JSON object a line (vdb export --help)', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!isLocalApi(service)) throw new NotFound('this server does not hold the data itself: export from a node that does');
      const lib = req.query.lib;
      // Unknown libraries are a 404 before the first byte; the lines come from the state of this moment.
      const lines = exportLines(service.snapshot(), lib === undefined ? [] : Array.isArray(lib) ? lib : [lib]);
      reply.type('application/x-ndjson');
      return reply.send(Readable.from(exportPieces(lines)));
    },
  );

  app.post(
    '/import/check',
    {
      schema: {
        tags,
        summary: "the checks an import makes before it writes (each library's name, dim, metric and embedder against this database; documents named from outside the export); writes nothing",
        body: ImportCheckBody,
        response: { 200: Type.Object({ ok: Type.Literal(true) }, { description: 'every check passed: send the batches' }), ...errorResponses },
      },
    },
    async (req) => {
      await service.checkImport(req.body.records as NumberedRecord[], { onConflict: req.body.on_conflict, outside: req.body.outside });
      return { ok: true as const };
    },
  );

  app.post(
    '/import/batch',
    {
      schema: {
        tags,
        summary: "one batch of an import: a library line and some of its documents and chunks, as one atomic change (on a cluster, one log entry); the first creates or merges the library, the last builds its indexes",
        body: ImportBatchBody,
        response: { 200: ImportedLibrarySchema, ...errorResponses },
      },
    },
    async (req) => {
      const { records, on_conflict, into, last, changed } = req.body;
      return service.importBatch(records as NumberedRecord[], { onConflict: on_conflict, into, last, changed });
    },
  );
};
