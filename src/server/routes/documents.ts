import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { outcomeCounts } from '../../domain/types.js';
import { failureView } from '../../service/replace.js';
import { BulkDocumentsBody, DeletedDocuments, ReplaceDocumentsBody, ReplaceResults, DocumentIdsBody, DocumentList, DocumentPage, DocumentPatchBody, DocumentViewSchema, LibDocParams, LibParams, NewDocumentBody, PageQuery } from '../schemas.js';
import { errorResponses } from './context.js';
import type { RouteContext } from './context.js';

const tags = ['documents'];

/** /api/v1/libraries/{lib}/documents: add, list, get, update, delete (with their chunks). */
export const documentRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { service }) => {
  app.post(
    '/libraries/:lib/documents',
    {
      schema: {
        tags,
        summary: 'add a document (your own id, or a generated doc_…); 201 when added, 200 when it replaced, matched or skipped an existing id',
        params: LibParams,
        body: NewDocumentBody,
        response: { 200: DocumentViewSchema, 201: DocumentViewSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { on_conflict, ...doc } = req.body;
      const { documents, outcomes } = await service.documents.add(req.params.lib, [doc], { onConflict: on_conflict });
      return reply.code(outcomes[0] === 'added' ? 201 : 200).send(documents[0]);
    },
  );

  app.post(
    '/libraries/:lib/documents/batch',
    {
      schema: {
        tags,
        summary: 'add many documents at once: all of them, or none if any is invalid (the error names "document N"); 201 when any was added, else 200',
        params: LibParams,
        body: BulkDocumentsBody,
        response: { 200: DocumentList, 201: DocumentList, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { documents, outcomes } = await service.documents.add(req.params.lib, req.body.documents, { onConflict: req.body.on_conflict });
      const counts = outcomeCounts(outcomes);
      return reply.code(counts.added > 0 ? 201 : 200).send({ documents, ...counts });
    },
  );

  app.post(
    '/libraries/:lib/documents/replace',
    {
      schema: {
        tags,
        summary:
          'replace each document with exactly the chunks given (created if new; its other chunks deleted; identical ones left as they are), as vdb ingest does per batch; one atomic change on a single node, one per log entry on a cluster (each document whole in one)',
        params: LibParams,
        body: ReplaceDocumentsBody,
        response: { 200: ReplaceResults, ...errorResponses },
      },
    },
    async (req) => {
      const results = await service.documents.replace(req.params.lib, req.body.documents, { isolate: req.body.isolate });
      return { results: results.map((r) => ('error' in r ? failureView(r) : r)) };
    },
  );

  app.post(
    '/libraries/:lib/documents/delete',
    {
      schema: {
        tags,
        summary: 'delete several documents and all their chunks in one atomic change (none if any id is unknown)',
        params: LibParams,
        body: DocumentIdsBody,
        response: { 200: DeletedDocuments, ...errorResponses },
      },
    },
    async (req) => ({ documents: await service.documents.delete(req.body.ids, req.params.lib) }),
  );

  app.get(
    '/libraries/:lib/documents',
    { schema: { tags, summary: 'list the documents of a library, in id order', params: LibParams, querystring: PageQuery, response: { 200: DocumentPage, ...errorResponses } } },
    async (req) => {
      const { offset, limit } = req.query;
      const { total, documents } = await service.documents.list(req.params.lib, { offset, limit });
      return { documents, total, offset, limit };
    },
  );

  app.get(
    '/libraries/:lib/documents/:id',
    { schema: { tags, summary: 'get one document, with how many chunks name it', params: LibDocParams, response: { 200: DocumentViewSchema, ...errorResponses } } },
    async (req) => service.documents.get(req.params.id, req.params.lib),
  );

  app.patch(
    '/libraries/:lib/documents/:id',
    { schema: { tags, summary: "replace a document's title and/or metadata", params: LibDocParams, body: DocumentPatchBody, response: { 200: DocumentViewSchema, ...errorResponses } } },
    async (req) => service.documents.update(req.params.id, req.body, req.params.lib),
  );

  app.delete(
    '/libraries/:lib/documents/:id',
    {
      schema: {
        tags,
        summary: 'delete a document and all its chunks in one atomic change; returns it, with the number of chunks deleted',
        params: LibDocParams,
        response: { 200: DocumentViewSchema, ...errorResponses },
      },
    },
    async (req) => (await service.documents.delete([req.params.id], req.params.lib))[0],
  );
};
