/**
 * The error tree. Every failure a user can cause is a VdbError whose `code`
 * picks the CLI exit code and the HTTP status from one table below.
 */
export type ErrorCode =
  | 'usage'
  | 'invalid_input'
  // A filter that does not parse or is not well typed: exit 3 like other bad input, but HTTP 400.
  | 'invalid_filter'
  | 'not_found'
  | 'conflict'
  | 'corrupt_snapshot'
  | 'locked'
  | 'io'
  | 'internal'
  // An embedding provider failed or is not set up here (key, network, model not installed).
  | 'embedder'
  // A cluster cannot take the request now: no leader yet, etcd out of reach, a node still catching up.
  | 'unavailable'
  // The HTTP request itself is wrong; raised only by `vdb serve` and its client.
  | 'bad_request'
  | 'unauthorized'
  | 'payload_too_large'
  | 'unsupported_media_type';

export interface ErrorOptions {
  /** How to fix it, shown after the message: `library "x" not found (see vdb lib list)`. */
  hint?: string;
  cause?: unknown;
}

export class VdbError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  /** The one-line form shown to users: control characters (say, in an id given on the command line) are escaped. */
  get display(): string {
    return oneLine(this.hint ? `${this.message} (${this.hint})` : this.message);
  }
}

/** `text` with line breaks and other control characters written as JSON escapes (\n, \u001b), so it stays one line. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A VdbError subclass with a fixed code, so `instanceof NotFound` works. */
// The declared return type keeps Node's Error statics (captureStackTrace, …) out of the published .d.ts.
function errorClass(code: ErrorCode): new (message: string, options?: ErrorOptions) => VdbError {
  return class extends VdbError {
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, options);
    }
  };
}

/** The command line itself is wrong: unknown option, missing argument, bad flag value. */
export class UsageError extends errorClass('usage') {}
/** Data given to vdb is wrong: malformed JSON, wrong dimension, NaN, empty text. */
export class InvalidInput extends errorClass('invalid_input') {}
/** A filter (`--where`, `--filter`, `"filter"`) that does not parse; the message quotes the offending part. */
export class InvalidFilter extends errorClass('invalid_filter') {}
export class NotFound extends errorClass('not_found') {}
export class Conflict extends errorClass('conflict') {}
/** The snapshot cannot be read as a vdb snapshot; vdb never overwrites it. */
export class CorruptSnapshot extends errorClass('corrupt_snapshot') {}
/** Another writer held the lock for longer than the timeout. */
export class Locked extends errorClass('locked') {}
/** The file system refused: permissions, disk full, missing directory. */
export class StorageError extends errorClass('io') {}

/**
 * The library's embedder cannot embed here and now: a missing or rejected API
 * key, no network, a provider that kept failing, a model that is not installed.
 */
export class EmbedderError extends errorClass('embedder') {}

/**
 * A cluster node cannot answer now, though nothing is wrong with the request:
 * no leader is elected yet, etcd is out of reach, or the node is still
 * catching up with the log. Retrying later is the fix.
 */
export class Unavailable extends errorClass('unavailable') {}

/** The HTTP request is malformed: not JSON, or not the shape its schema requires. */
export class BadRequest extends errorClass('bad_request') {}
/** VDB_API_KEY is set and the request lacks the matching bearer token. */
export class Unauthorized extends errorClass('unauthorized') {}
/** The request body is over the server's limit (`vdb serve --body-limit`). */
export class PayloadTooLarge extends errorClass('payload_too_large') {}
/** The request body is not `application/json`. */
export class UnsupportedMediaType extends errorClass('unsupported_media_type') {}

/** The class of each code (`internal` has none but VdbError). */
const CLASSES: Partial<Record<ErrorCode, new (message: string, options?: ErrorOptions) => VdbError>> = {
  usage: UsageError,
  invalid_input: InvalidInput,
  invalid_filter: InvalidFilter,
  not_found: NotFound,
  conflict: Conflict,
  corrupt_snapshot: CorruptSnapshot,
  locked: Locked,
  io: StorageError,
  embedder: EmbedderError,
  unavailable: Unavailable,
  bad_request: BadRequest,
  unauthorized: Unauthorized,
  payload_too_large: PayloadTooLarge,
  unsupported_media_type: UnsupportedMediaType,
};

/** An error that crossed a wire (a cluster's log, a forwarded write) as its code, as an instance of its class again. */
export function errorOf(code: ErrorCode, message: string, options?: ErrorOptions): VdbError {
  const Class = CLASSES[code];
  return Class ? new Class(message, options) : new VdbError(code, message, options);
}

/** Exit code per error class; documented in README.md ("Exit codes"). */
export const EXIT_CODES: Record<ErrorCode, number> = {
  internal: 1,
  usage: 2,
  invalid_input: 3,
  invalid_filter: 3,
  not_found: 4,
  conflict: 5,
  corrupt_snapshot: 6,
  locked: 7,
  io: 8,
  embedder: 9,
  unavailable: 10,
  // HTTP-only codes: the closest CLI meaning, for a client that exits on them.
  bad_request: 2,
  unauthorized: 2,
  payload_too_large: 3,
  unsupported_media_type: 2,
};

/** HTTP status per error class, for `vdb serve`. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  usage: 400,
  invalid_input: 422,
  invalid_filter: 400,
  not_found: 404,
  conflict: 409,
  corrupt_snapshot: 500,
  locked: 503,
  io: 500,
  internal: 500,
  // The upstream provider failed (or is missing here), not vdb and not the request.
  embedder: 502,
  unavailable: 503,
  bad_request: 400,
  unauthorized: 401,
  payload_too_large: 413,
  unsupported_media_type: 415,
};

/**
 * A bulk write done elsewhere (a server, a cluster's leader) names `chunk N`
 * (the item's place in the request), a single item's none; this renames it
 * as the caller names its items (`line 7`, `points[3]`), as a local write does.
 */
export function renameItem(err: unknown, count: number, where: ((i: number) => string | undefined) | undefined, noun = 'chunk'): unknown {
  if (!(err instanceof VdbError) || where === undefined) return err;
  if (count === 1) {
    const name = where(0);
    return name === undefined || err.code !== 'invalid_input' ? err : errorOf(err.code, `${name}: ${err.message}`, { hint: err.hint });
  }
  const m = new RegExp(`^${noun} (\\d+): `).exec(err.message);
  const name = m ? where(Number(m[1]) - 1) : undefined;
  return name === undefined ? err : errorOf(err.code, `${name}: ${err.message.slice(m![0].length)}`, { hint: err.hint });
}
