/**
 * The REST server: a fastify instance over one VdbApi. Routes only parse
 * (TypeBox schemas), make one service call and map the result to HTTP; every
 * failure leaves as `{"error": {"code", "message"}}` with the status that
 * domain/errors.ts assigns to its code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import Fastify, { LogController } from 'fastify';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { BadRequest, HTTP_STATUS, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, VdbError } from '../domain/errors.js';
import type { VdbApi } from '../service/api.js';
import { isLocalApi } from '../service/api.js';
import { writeContext } from '../service/write-context.js';
import { chunkRoutes } from './routes/chunks.js';
import { clusterRoutes } from './routes/cluster.js';
import type { ClusterHooks } from './routes/context.js';
import { documentRoutes } from './routes/documents.js';
import { healthRoutes } from './routes/health.js';
import { transferRoutes } from './routes/transfer.js';
import { indexRoutes } from './routes/indexes.js';
import { libraryRoutes } from './routes/libraries.js';
import { qdrantRoutes } from './qdrant/routes.js';
import { DEFAULT_BODY_LIMIT } from './options.js';
import type { LogLevel } from './options.js';
import { ErrorBody } from './schemas.js';
import { prettyStream } from './log-pretty.js';
import { transformOpenapi } from './openapi.js';

/** vdb's version, for the Qdrant routes' version info (dist/server, dist/bundle and src/server are all two levels down). */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AppOptions {
  /** A VdbService on a single node; a ClusterNode (with `cluster`) on a cluster's. */
  service: VdbApi;
  cluster?: ClusterHooks;
  /** When set, every route but /healthz requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Bytes; larger bodies get 413. */
  bodyLimit?: number;
  /** fastify (pino) log level; default silent, so tests stay quiet. */
  logLevel?: LogLevel;
  /** Where log lines go; default stderr (stdout is for data, as in the CLI). */
  logStream?: NodeJS.WritableStream;
  /** pretty: one readable line per request instead of pino's two JSON lines. */
  logFormat?: 'json' | 'pretty';
}

/** Builds the server, not listening yet: call `listen()` on the result, or `inject()` in tests. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const pretty = opts.logFormat === 'pretty';
  const logStream = opts.logStream ?? process.stderr;
  const app = Fastify({
    logger: {
      level: opts.logLevel ?? 'silent',
      stream: pretty ? prettyStream(logStream) : logStream,
      // Headers are not logged by default; this keeps it so if a serializer changes.
      redact: ['req.headers.authorization', 'req.headers["api-key"]'],
      serializers: { req: requestForLog },
    },
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Library names run to 200 characters; percent-encoded, up to three times that in a path.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // Bad percent-encoding and over-long parameters fail before routing: same JSON errors.
    frameworkErrors: (err, req, reply) => errorHandler(err, req, reply),
    // A request that reaches a kept-alive socket during shutdown is still answered (then the socket closes).
    return503OnClosing: false,
    // Pretty logs write one line per request, when it is answered (below).
    ...(pretty ? { logController: new LogController({ disableRequestLogging: true }) } : {}),
    schemaController: { compilersFactory: { buildSerializer: lazySerializers } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (pretty) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    });
  }
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: any other body type gets 415, not a schema error about a string.
  app.removeContentTypeParser('text/plain');

  // close() stops accepting, closes idle sockets and waits for in-flight requests. Their answers
  // close the connection too, or close() would wait for each client to drop its keep-alive socket.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  if (opts.apiKey !== undefined) app.addHook('onRequest', bearerAuth(opts.apiKey));
  app.addHook('onRequest', readOptions);
  const cluster = opts.cluster;
  if (cluster) {
    app.addHook('preHandler', async (req) => {
      if (strongReads.has(req)) await cluster.sync();
    });
  }
  app.addHook('preParsing', async (req) => checkCharset(req.headers['content-type']));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new NotFound(`no route ${req.method} ${req.url.split('?')[0]} (see /docs)`));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'vdb', description: 'REST API of vdb serve: libraries of text chunks and their k-nearest-neighbour queries.', version: '1' },
      tags: [{ name: 'qdrant', description: "Qdrant's REST API (the subset its clients use), at Qdrant's root paths: a collection is a library, a point a chunk, its payload the chunk's metadata" }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the value of VDB_API_KEY: every route but /healthz needs it when the server has one' } } },
      // This server's rule: the key is required when it has one, optional (ignored) when it has none.
      security: opts.apiKey !== undefined ? [{ bearer: [] }] : [{}, { bearer: [] }],
    },
    transformObject: transformOpenapi,
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addSchema(ErrorBody);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const ctx = { service: opts.service, cluster: opts.cluster };
  await app.register(healthRoutes, ctx);
  await app.register(libraryRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(chunkRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(documentRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(indexRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(transferRoutes, { ...ctx, prefix: '/api/v1' });
  await app.register(clusterRoutes, { ...ctx, prefix: '/api/v1' });
  // The Qdrant routes read a library where it is: on a single node and on a cluster node (whose writes go through its log).
  const local = opts.service;
  if (isLocalApi(local)) await app.register(qdrantRoutes, { ...ctx, service: local, errorHandlerWith, version: VERSION });
  return app;
}

/** Requests with ?consistency=strong: answered once this node applied everything its cluster committed. */
const strongReads = new WeakSet<FastifyRequest>();

/**
 * Options any route takes, handled here rather than in each route's schema:
 * `?consistency=strong|local` (taken out of the query before it is checked;
 * strong waits on a cluster node, and a single node is always up to date) and
 * the `Idempotency-Key` header (a cluster appends a retried write once).
 */
async function readOptions(req: FastifyRequest): Promise<void> {
  const q = req.query as Record<string, unknown> | undefined;
  if (q && typeof q === 'object' && 'consistency' in q) {
    const c = q.consistency;
    delete q.consistency;
    if (req.url.startsWith('/collections/')) {
      // Qdrant's read consistency (a replica count, majority, quorum or all): more than one replica is a strong read.
      if (!(typeof c === 'string' && /^(all|majority|quorum|strong|local|[1-9]\d{0,5})$/.test(c))) throw new BadRequest(`consistency must be all, majority, quorum or a number of replicas, got ${JSON.stringify(c)}`);
      if (c !== '1' && c !== 'local') strongReads.add(req);
    } else {
      if (c !== 'strong' && c !== 'local') throw new BadRequest(`consistency must be strong or local, got ${JSON.stringify(c)}`);
      if (c === 'strong') strongReads.add(req);
    }
  }
  const key = req.headers['idempotency-key'];
  if (key !== undefined && (typeof key !== 'string' || key === '' || key.length > 200 || /[^\x21-\x7e]/.test(key))) {
    throw new BadRequest('Idempotency-Key must be 1 to 200 printable ASCII characters without spaces');
  }
  // Every request gets its own context: nothing carries over from the one before on the same socket.
  writeContext.enterWith({ idempotencyKey: key as string | undefined });
}

/**
 * TypeBox checks. Bodies are JSON and checked as sent (no coercion, defaults
 * left to the service); query strings and path parameters are text, so they
 * get their schema defaults and are converted ("20" → 20, "true" → true) first.
 */
const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  // Compiled at a route's first request: compiling all ~70 took a server's start ~20 ms.
  let check: ReturnType<typeof Compile<TSchema>> | undefined;
  return (value: unknown) => {
    check ??= Compile(schema);
    const v = httpPart === 'body' ? value : Value.Convert(schema, Value.Default(schema, value));
    return check.Check(v) ? { value: v } : { error: check.Errors(v) };
  };
};

const fastJsonStringify = SerializerSelector();

/**
 * fastify's response serializers (fast-json-stringify), each compiled at its
 * route's first answer with that status: compiling all ~670 (every route,
 * status and content type) took ~250 ms of a server's start, and the first
 * answer now takes ~50 ms longer. Each compile gets the shared schemas
 * afresh (the compiler takes out the one it compiles, which would otherwise
 * depend on the order of first answers).
 */
const lazySerializers: typeof fastJsonStringify = (externalSchemas, options) => (route) => {
  let serialize: ((data: unknown) => string) | undefined;
  return (data: unknown) => (serialize ??= fastJsonStringify(externalSchemas, options)(route))(data);
};

/**
 * `Authorization: Bearer <key>`, or Qdrant's `api-key: <key>` header (its
 * clients send that). Compares SHA-256 digests so the comparison is
 * constant-time whatever the lengths.
 */
function bearerAuth(apiKey: string) {
  const expected = digest(`Bearer ${apiKey}`);
  return async (req: FastifyRequest) => {
    if (req.routeOptions.url === '/healthz') return;
    const qdrantKey = req.headers['api-key'];
    const given = typeof qdrantKey === 'string' ? `Bearer ${qdrantKey}` : (req.headers.authorization ?? '');
    if (!timingSafeEqual(digest(given), expected)) {
      throw new Unauthorized(given === '' ? 'missing Authorization: Bearer <VDB_API_KEY> header (or api-key: <VDB_API_KEY>)' : 'wrong API key');
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Query parameters whose name looks like a credential; their values never reach the log. */
const SECRET_PARAM = /key|token|secret|passw|auth|sig|session|cred/i;

/** The request as logged: fastify's fields, with credential-like query values redacted. */
function requestForLog(req: FastifyRequest) {
  return { method: req.method, url: redactQuery(req.url ?? ''), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** `url` with the value of every query parameter named like a credential replaced by [REDACTED]. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      let name = eq < 0 ? pair : pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // Malformed escapes: judge the raw name.
      }
      return eq >= 0 && SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=[REDACTED]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** JSON is UTF-8 (RFC 8259): a body declared in another charset is refused, not misread. */
function checkCharset(contentType: string | undefined): void {
  if (contentType === undefined) return;
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  if (m && !/^utf-?8$/i.test(m[1])) throw new UnsupportedMediaType(`charset ${m[1]} is not supported; send the JSON body as UTF-8 (Content-Type: application/json)`);
}

/**
 * Bytes of a refused body read (and dropped) before answering: a client still
 * sending gets the 413, instead of a connection reset before it reads anything.
 */
const DRAIN_MAX_BYTES = 64 << 20;

/** Error handler of a route plugin whose errors have another shape (the Qdrant routes): the same mapping, logging and draining. */
export type ErrorSender = (reply: FastifyReply, err: VdbError) => void;

export function errorHandlerWith(send: ErrorSender) {
  return async (err: FastifyError | VdbError, req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const mapped = toVdbError(err);
    if (mapped.code === 'internal' || HTTP_STATUS[mapped.code] >= 500) req.log.error({ err }, 'request failed');
    if (mapped.code === 'payload_too_large') await drain(req.raw, DRAIN_MAX_BYTES);
    send(reply, mapped);
  };
}

const errorHandler = errorHandlerWith(sendError);

/** Reads what is left of the request body, up to `maxBytes`, and drops it. */
function drain(req: IncomingMessage, maxBytes: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((done) => {
    let seen = 0;
    const finish = () => {
      req.off('data', onData);
      req.off('end', finish);
      req.off('error', finish);
      req.off('close', finish);
      done();
    };
    const onData = (d: Buffer) => {
      seen += d.length;
      if (seen > maxBytes) finish();
    };
    req.on('data', onData);
    req.on('end', finish);
    req.on('error', finish);
    req.on('close', finish);
    req.resume();
  });
}

function sendError(reply: FastifyReply, err: VdbError): void {
  if (err.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  // Internal errors are logged above; their text may name files or stack frames, so clients get a generic line.
  const message = err.code === 'internal' ? 'internal error (see the server log)' : err.display;
  reply.code(HTTP_STATUS[err.code]).send({ error: { code: err.code, message } });
}

/** Maps fastify's own errors (body parsing, schema validation) onto the VdbError tree. */
function toVdbError(err: FastifyError | VdbError): VdbError {
  if (err instanceof VdbError) return err;
  if (err.validation) return new BadRequest(validationMessage(err));
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge('request body is larger than the limit (see vdb serve --body-limit)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType('send JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new BadRequest('body is not valid JSON');
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new BadRequest(err.message);
  return new VdbError('internal', err.message, { cause: err });
}

/** The first schema error as one line: `body.k must be <= 10000`, `body has unknown field "x"`. */
function validationMessage(err: FastifyError): string {
  const errors = err.validation ?? [];
  const first = errors.find((e) => e.keyword !== 'boolean') ?? errors[0];
  const where = `${err.validationContext ?? 'request'}${(first?.instancePath ?? '').replace(/\//g, '.')}`;
  if (!first) return `${where} is invalid`;
  if (first.keyword === 'additionalProperties') {
    const extra = (first.params as { additionalProperties?: string[] }).additionalProperties ?? [];
    return `${where} has unknown field${extra.length === 1 ? '' : 's'} ${extra.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return `${where} ${first.message}`;
}
