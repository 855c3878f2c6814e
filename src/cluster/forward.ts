/**
 * A follower hands a write to the leader: `POST {leader}/api/v1/cluster/ops`
 * with the request as its route parsed it ({"kind", "input", "key"}). The
 * leader prepares, appends and applies it and answers with the sequence and
 * what applying gave. The key is the client's idempotency key, or one this
 * node made up: a retry after a lost answer (the leader died mid-request) is
 * appended at most once.
 */
import type { ErrorCode, VdbError } from '../domain/errors.js';
import { errorOf } from '../domain/errors.js';
import type { Outcome } from './applier.js';

export type Forwarded =
  | { kind: 'done'; seq: number; outcome: Outcome }
  /** The leader refused the request itself (invalid, not found, …): the same answer the client would get from it. */
  | { kind: 'refused'; error: VdbError }
  /** Not answered (unreachable, not the leader any more, no answer in time): try again, with the same key. */
  | { kind: 'retry'; why: string };

export interface ForwardRequest {
  kind: string;
  input: unknown;
  key: string;
}

/** Long enough for a write that builds a large index on the leader; a dead leader fails the connection long before. */
const FORWARD_TIMEOUT_MS = 10 * 60_000;

export async function forward(leaderUrl: string, req: ForwardRequest, apiKey: string | undefined): Promise<Forwarded> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${leaderUrl}/api/v1/cluster/ops`, { method: 'POST', headers, body: toJson(req), signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    text = await res.text();
  } catch (err) {
    return { kind: 'retry', why: `the leader at ${leaderUrl} did not answer (${(err as Error).message})` };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'retry', why: `the leader at ${leaderUrl} answered HTTP ${res.status} with a body that is not JSON` };
  }
  if (res.ok) {
    const b = body as { seq: number; outcome: Outcome };
    return { kind: 'done', seq: b.seq, outcome: b.outcome };
  }
  const err = (body as { error?: { code?: ErrorCode; message?: string } }).error;
  if (res.status === 503 || !err?.code) return { kind: 'retry', why: err?.message ?? `the leader at ${leaderUrl} answered HTTP ${res.status}` };
  return { kind: 'refused', error: errorOf(err.code, err.message ?? `HTTP ${res.status}`) };
}

/** JSON with typed arrays (embeddings read from --stdin, vectors a node prepared) as plain arrays. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
}
