import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { NumberedRecord } from '../../transfer/format.js';
import { ImportBatchBody, ImportCheckBody, ImportedLibrarySchema } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['import'];

/** `vdb import --remote`: an export checked against the data first, then sent in batches (src/transfer/batches.ts). */
export const importRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
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
