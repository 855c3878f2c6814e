/**
 * How an adapter qualifies the write it is making, for the implementations
 * that use it (a cluster node). Apart from api.ts so the library's type
 * declarations do not need Node's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface WriteContext {
  /** A client's Idempotency-Key: a cluster appends a write retried with the same key once. */
  idempotencyKey?: string;
}

/** Set by the REST server per request (routes call VdbApi methods, which take no such option). */
export const writeContext = new AsyncLocalStorage<WriteContext>();
