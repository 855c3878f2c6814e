/**
 * Qdrant's envelope (QDRANT.md §2): `{"result", "status": "ok", "time"}` on
 * success, `{"status": {"error"}, "time"}` with Qdrant's status codes on
 * failure. Bodies are written by json.ts so 64-bit ids stay exact.
 */
import type { FastifyReply } from 'fastify';
import { HTTP_STATUS } from '../../domain/errors.js';
import type { VdbError } from '../../domain/errors.js';
import type { ErrorCode } from '../../domain/errors.js';
import { stringifyJson } from './json.js';

/** Sends `result` enveloped, with 200 (the js-client takes only 200 and 201 as success: never 202). */
export function sendResult(reply: FastifyReply, result: unknown): FastifyReply {
  if (result === undefined || result === null) throw new Error('a Qdrant answer needs a result (the js-client throws on a null one)');
  return reply
    .code(200)
    .type('application/json; charset=utf-8')
    .send(stringifyJson({ result, status: 'ok', time: seconds(reply) }));
}

/** Qdrant's status per vdb error code: bad input of any kind is 400 (vdb says 422 for some). */
const STATUS: Partial<Record<ErrorCode, number>> = { invalid_input: 400, invalid_filter: 400, usage: 400, bad_request: 400, unsupported_media_type: 400 };

/** Qdrant's words before the message, per status. */
const PREFIX: Record<number, string> = { 400: 'Wrong input: ', 404: 'Not found: ', 409: 'Wrong input: ' };

export function sendError(reply: FastifyReply, err: VdbError): void {
  const status = STATUS[err.code] ?? HTTP_STATUS[err.code];
  if (err.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  const message = err.code === 'internal' ? 'Service internal error: see the server log' : `${PREFIX[status] ?? ''}${err.display}`;
  reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(stringifyJson({ status: { error: message }, time: seconds(reply) }));
}

function seconds(reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 1000) / 1e6;
}
