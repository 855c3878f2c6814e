import type { ClusterStatusView } from '../../domain/wire.js';
import type { VdbApi } from '../../service/api.js';

/** A cluster node's own routes (src/cluster/node.ts); absent on a single node. */
export interface ClusterHooks {
  status(): Promise<ClusterStatusView>;
  /** Waits until this node applied everything committed now (?consistency=strong). */
  sync(): Promise<void>;
  /** A write forwarded by another node, on the leader. */
  submitForwarded(kind: string, input: unknown, key: string | undefined): Promise<{ seq: number; outcome: unknown }>;
}

/** What every route plugin gets from buildApp. */
export interface RouteContext {
  service: VdbApi;
  cluster?: ClusterHooks;
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
  503: error('locked: another writer held the snapshot lock past the timeout; or unavailable: a cluster without a leader yet, etcd out of reach, a node still catching up; retry'),
} as const;
