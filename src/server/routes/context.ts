import type { VdbService } from '../../service/service.js';

/** What every route plugin gets from buildApp. */
export interface RouteContext {
  service: VdbService;
}

const error = (description: string) => ({ $ref: 'Error#', description }) as const;

/** Responses every API route may give, as `{"error": {"code", "message"}}`; statuses from domain/errors.ts. */
export const errorResponses = {
  400: error('bad_request: not JSON, or not the shape the schema requires (wrong type, unknown field, k out of range); usage: a chunk or document id several libraries hold (name the library in the path)'),
  401: error('unauthorized: VDB_API_KEY is set and the bearer key is missing or wrong'),
  404: error('not_found: no such library, chunk, document or route (a chunk naming a document that is not in its library)'),
  409: error('conflict: the name or id is taken (see on_conflict), or the library changed during the request'),
  413: error('payload_too_large: the body is over the limit (vdb serve --body-limit)'),
  415: error('unsupported_media_type: send Content-Type: application/json'),
  422: error('invalid_input: well-formed but wrong for this data (dimension, empty text, no embedder, option not of this index type)'),
  500: error('corrupt_snapshot, io or internal: the snapshot is damaged or cannot be written (the server log says why); data is left untouched'),
  503: error('locked: another writer held the snapshot lock past the timeout; retry'),
} as const;
