/**
 * What the HTTP providers share: the key from the environment, one POST with
 * a timeout and retries (ky: exponential backoff with full jitter on 408, 429
 * and 5xx, honouring Retry-After), and one-line errors that never show the
 * key. A provider's error text is shown only after the key is scrubbed from it.
 */
import ky, { HTTPError, TimeoutError } from 'ky';
import { envNumber } from '../domain/env.js';
import { EmbedderError, InvalidInput } from '../domain/errors.js';
import type { ParsedSpec, ResolvedSpec } from './registry.js';
import type { Embedder } from './types.js';

export interface HttpProvider {
  /** For messages: "openai", "cohere". */
  name: string;
  /** Environment variables tried in order for the key. */
  keyVars: string[];
  baseVar: string;
  defaultBase: string;
}

export interface HttpSettings {
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  concurrency: number;
}

export function httpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  const num = (name: string, fallback: number, min: number) => envNumber(env, name, fallback, min);
  return {
    timeoutMs: num('VDB_EMBED_TIMEOUT_MS', 60_000, 1),
    retries: Math.floor(num('VDB_EMBED_RETRIES', 5, 0)),
    retryBaseMs: num('VDB_EMBED_RETRY_BASE_MS', 500, 0),
    concurrency: Math.floor(num('VDB_EMBED_CONCURRENCY', 4, 1)),
  };
}

/** The API base without a trailing slash, credentials or query: safe to show and to key the cache. */
export function baseUrl(p: HttpProvider, env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[p.baseVar] || p.defaultBase;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InvalidInput(`${p.baseVar} is not a URL`, { hint: `e.g. ${p.defaultBase}` });
  }
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

export function apiKey(p: HttpProvider, env: NodeJS.ProcessEnv = process.env): string {
  for (const name of p.keyVars) {
    const v = env[name]?.trim();
    if (v) return v;
  }
  throw new EmbedderError(`${p.name}: no API key`, { hint: `set ${p.keyVars.join(' or ')}` });
}

/**
 * POSTs `body` as JSON and returns the parsed reply. Throws EmbedderError
 * (key, network, timeout, retries used up, not JSON) or InvalidInput (the
 * provider refused the request itself: unknown model, text too long).
 */
export async function postJson(p: HttpProvider, url: string, key: string, body: unknown, settings: HttpSettings, signal?: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    const res = await ky.post(url, {
      json: body,
      headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
      timeout: settings.timeoutMs,
      signal,
      retry: {
        limit: settings.retries,
        methods: ['post'],
        statusCodes: [408, 429, 500, 502, 503, 504],
        afterStatusCodes: [429, 500, 502, 503, 504],
        // A server that asks for more than a minute is treated as down.
        maxRetryAfter: 60_000,
        backoffLimit: 30_000,
        delay: (attempt) => settings.retryBaseMs * 2 ** (attempt - 1),
        jitter: true,
        retryOnTimeout: true,
      },
    });
    text = await res.text();
  } catch (err) {
    throw await describeFailure(p, url, key, settings, err);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new EmbedderError(`${p.name}: malformed reply from ${url}: not JSON`);
  }
}

async function describeFailure(p: HttpProvider, url: string, key: string, settings: HttpSettings, err: unknown): Promise<Error> {
  if (err instanceof HTTPError) {
    const status = err.response.status;
    const detail = scrub(await providerMessage(err.response), key);
    if (status === 401 || status === 403) {
      // Providers echo part of a wrong key in their message: show none of it.
      return new EmbedderError(`${p.name} rejected the API key (HTTP ${status})`, { hint: `check ${p.keyVars.join(' or ')}` });
    }
    if (status === 404 || /model/i.test(detail) && /not (exist|found)|unknown|invalid/i.test(detail)) {
      return new InvalidInput(`${p.name}: unknown model or endpoint (HTTP ${status}${detail ? `: ${detail}` : ''})`, { hint: 'check the model name in the embedder SPEC' });
    }
    if (status === 429 || status >= 500 || status === 408) {
      return new EmbedderError(`${p.name}: HTTP ${status} after ${settings.retries} retries${detail ? `: ${detail}` : ''}`, { hint: 'try again later, or raise VDB_EMBED_RETRIES' });
    }
    return new InvalidInput(`${p.name} refused the request (HTTP ${status}${detail ? `: ${detail}` : ''})`);
  }
  if (err instanceof TimeoutError) {
    return new EmbedderError(`${p.name}: no answer from ${url} within ${settings.timeoutMs} ms (${settings.retries} retries)`, { hint: 'raise VDB_EMBED_TIMEOUT_MS, or check the network' });
  }
  if (err instanceof Error && err.name === 'AbortError') return new EmbedderError(`${p.name}: request cancelled`);
  let cause: string = (err as Error)?.message ?? String(err);
  // fetch reports "fetch failed"; the system's reason (ECONNREFUSED, ENOTFOUND) is further down the causes.
  for (let c: unknown = err, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') {
      cause = code;
      break;
    }
    if (c !== err && c instanceof Error) cause = c.message;
  }
  return new EmbedderError(`${p.name}: cannot reach ${url} (${scrub(String(cause), key)})`, { hint: `check the network or ${p.baseVar}` });
}

async function providerMessage(res: Response): Promise<string> {
  let raw = '';
  try {
    raw = await res.text();
  } catch {
    return '';
  }
  try {
    const j = JSON.parse(raw) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'object' ? j.error?.message : (j.error ?? j.message);
    if (typeof m === 'string') raw = m;
  } catch {
    // not JSON: the text as it is
  }
  const flat = raw.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

/** Removes the key, and anything shaped like one, from text shown to users. */
export function scrub(text: string, key: string): string {
  let t = key ? text.split(key).join('***') : text;
  t = t.replace(/\b(sk|rk|pk)-[A-Za-z0-9_*-]{8,}/g, '***');
  return t;
}

/** Checks a reply's vectors: `count` arrays of `dim` finite numbers. */
export function checkVectors(p: HttpProvider, value: unknown, count: number, dim: number | undefined): Float32Array[] {
  if (!Array.isArray(value) || value.length !== count) {
    throw new EmbedderError(`${p.name}: malformed reply: expected ${count} embeddings, got ${Array.isArray(value) ? value.length : typeof value}`);
  }
  return value.map((v, i) => {
    if (!Array.isArray(v) || v.length === 0 || (dim !== undefined && v.length !== dim)) {
      throw new EmbedderError(`${p.name}: malformed reply: embedding ${i} has ${Array.isArray(v) ? v.length : 'no'} dims${dim !== undefined ? `, expected ${dim}` : ''}`);
    }
    const out = new Float32Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const x = v[j];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new EmbedderError(`${p.name}: malformed reply: embedding ${i} holds a non-number`);
      out[j] = x;
    }
    return out;
  });
}

/**
 * A new library's SPEC and dimension: `@DIMS`, else the model's known
 * dimension, else `--dim`, else one probe request.
 */
export async function resolveHttpSpec(e: Embedder, spec: ParsedSpec, knownDim: number | undefined, dim?: number): Promise<ResolvedSpec> {
  if (spec.dims !== undefined && dim !== undefined && spec.dims !== dim) {
    throw new InvalidInput(`embedder ${e.spec} gives ${spec.dims} dims but --dim is ${dim}`, { hint: 'drop --dim or change @DIMS' });
  }
  const known = spec.dims ?? knownDim ?? dim;
  if (known !== undefined) return { spec: e.spec, dim: known };
  const [v] = await e.embed(['dimension probe'], 'document');
  return { spec: e.spec, dim: v.length };
}
