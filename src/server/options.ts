/**
 * Server settings shared by `vdb serve` and buildApp. Dependency-free, so the
 * CLI can offer them in --help without loading fastify.
 */

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8000;

/** Default request body limit: room for a bulk insert of about 1000 chunks of 384 dims. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Request logs: JSON lines (pino's) or one readable line per request. */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
