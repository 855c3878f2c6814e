/**
 * The one registry of embedders. A library records its embedder as a SPEC:
 *
 *   letters                 the seed's toy (26 dims)
 *   glove                   GloVe 6B 100-d, offline (vdb model pull glove)
 *   openai:MODEL[@DIMS]     POST {OPENAI_BASE_URL}/embeddings
 *   cohere:MODEL[@DIMS]     POST {COHERE_BASE_URL}/v2/embed
 *   local:NAME_OR_PATH      an ONNX sentence-embedding model, @huggingface/transformers
 *
 * Providers load on demand, so a letters library never imports HTTP or ONNX code.
 * embedTexts() is the one way texts become vectors: batches within the
 * provider's limits, a few requests in flight, the cache, progress, and errors
 * that name the item.
 */
import { EmbedderError, InvalidInput } from '../domain/errors.js';
import { prefix } from '../domain/validate.js';
import { embedLetters, LETTERS_DIM } from './letters.js';
import { embedCacheDir } from './paths.js';
import { TextRejected } from './types.js';
import type { Embedder, InputType } from './types.js';

export type { Embedder, InputType } from './types.js';

export const EMBEDDER_SPECS = ['letters', 'glove', 'openai:MODEL[@DIMS]', 'cohere:MODEL[@DIMS]', 'local:NAME_OR_PATH'];

export type Provider = 'letters' | 'glove' | 'openai' | 'cohere' | 'local';

export interface ParsedSpec {
  provider: Provider;
  /** The model name or path (HTTP and local providers). */
  model: string;
  /** Requested output dimensions (`@DIMS`). */
  dims?: number;
}

/** Parses a SPEC; an unknown or malformed one is InvalidInput. */
export function parseSpec(spec: string): ParsedSpec {
  if (spec === 'letters' || spec === 'glove') return { provider: spec, model: spec };
  const m = /^(openai|cohere|local):(.+)$/.exec(spec);
  if (!m) throw new InvalidInput(`unknown embedder "${spec}" (use one of: ${EMBEDDER_SPECS.join(', ')}, or none with --dim)`);
  const provider = m[1] as Provider;
  if (provider === 'local') return { provider, model: m[2] };
  const at = /^([^@\s]+)(?:@(\d+))?$/.exec(m[2]);
  if (!at) throw new InvalidInput(`embedder "${spec}": expected ${provider}:MODEL or ${provider}:MODEL@DIMS, e.g. ${provider === 'openai' ? 'openai:text-embedding-3-small@512' : 'cohere:embed-english-v3.0'}`);
  const dims = at[2] === undefined ? undefined : Number(at[2]);
  if (dims !== undefined && (dims < 1 || dims > 65536)) throw new InvalidInput(`embedder "${spec}": DIMS must be from 1 to 65536`);
  return { provider, model: at[1], dims };
}

const letters: Embedder = {
  spec: 'letters',
  dim: LETTERS_DIM,
  zeroReason: 'it has no letters the letters embedder counts (a-z)',
  maxBatch: 1 << 16,
  async embed(texts) {
    return texts.map(embedLetters);
  },
};

/** What a new library records: the normalised SPEC and its dimension. */
export interface ResolvedSpec {
  spec: string;
  dim: number;
}

/**
 * Checks a SPEC for a new library and finds its dimension: known models from
 * a table, `@DIMS` or `dim` as given, otherwise one probe request (HTTP) or
 * the model's config (local). The embedder must be usable here.
 */
export async function resolveSpec(spec: string, dim?: number): Promise<ResolvedSpec> {
  const parsed = parseSpec(spec);
  switch (parsed.provider) {
    case 'letters':
      return { spec, dim: LETTERS_DIM };
    case 'glove': {
      const { GLOVE_DIM, gloveEmbedder } = await import('./glove.js');
      await gloveEmbedder().embed(['the'], 'document');
      return { spec, dim: GLOVE_DIM };
    }
    case 'openai':
    case 'cohere': {
      const mod = parsed.provider === 'openai' ? await import('./openai.js') : await import('./cohere.js');
      return mod.resolve(parsed, dim);
    }
    case 'local': {
      const { resolveLocal } = await import('./local.js');
      return resolveLocal(parsed.model);
    }
  }
}

const open = new Map<string, Promise<Embedder>>();

/**
 * The embedder of a library, opened once per process. `dim` is the library's:
 * an embedder that gives another dimension here is an error, not a silent mix.
 */
export function openEmbedder(spec: string, dim: number): Promise<Embedder> {
  const key = `${spec}\0${dim}`;
  let e = open.get(key);
  if (!e) {
    e = makeEmbedder(spec, dim);
    open.set(key, e);
    e.catch(() => open.delete(key));
  }
  return e;
}

async function makeEmbedder(spec: string, dim: number): Promise<Embedder> {
  let parsed: ParsedSpec;
  try {
    parsed = parseSpec(spec);
  } catch {
    throw new EmbedderError(`this library's embedder "${spec}" is not one this vdb knows`, { hint: 'upgrade vdb, or query with an embedding' });
  }
  let e: Embedder;
  switch (parsed.provider) {
    case 'letters':
      e = letters;
      break;
    case 'glove':
      e = (await import('./glove.js')).gloveEmbedder();
      break;
    case 'openai':
      e = (await import('./openai.js')).openaiEmbedder(parsed, dim);
      break;
    case 'cohere':
      e = (await import('./cohere.js')).cohereEmbedder(parsed, dim);
      break;
    case 'local':
      e = await (await import('./local.js')).localEmbedder(parsed.model);
      break;
  }
  if (e.dim !== dim) throw new EmbedderError(`embedder ${spec} gives ${e.dim} dims here but the library has ${dim}`, { hint: 'use the model the library was made with' });
  return e;
}

export interface EmbedOptions {
  inputType: InputType;
  /** Names item i in errors, e.g. `line 3`. */
  where?: (i: number) => string | undefined;
  /** Texts embedded so far (cache hits count at once). */
  onProgress?: (done: number, total: number) => void;
  /** Off for `vdb embed --no-cache`. */
  cache?: boolean;
  /** The library's metric: for cosine, a text that embeds to all zeros is refused (it has no direction). */
  metric?: string;
}

/**
 * Embeds texts, in order. Empty texts are refused first. Cached vectors are
 * used as they are; the rest go in batches within the embedder's limits, a
 * few in flight, each batch cached as it arrives (a failure later still
 * saves those). Any failed batch fails the call: the caller writes nothing.
 */
export async function embedTexts(embedder: Embedder, texts: string[], opts: EmbedOptions): Promise<Float32Array[]> {
  const where = opts.where ?? (() => undefined);
  texts.forEach((t, i) => {
    if (t.trim() === '') throw new InvalidInput(prefix(where(i), `text is empty; the ${embedder.spec} embedder needs text (or pass an embedding)`));
  });
  const out: (Float32Array | undefined)[] = new Array(texts.length);
  const cacheDir = embedder.cacheScope !== undefined && opts.cache !== false ? embedCacheDir() : null;
  // Loaded only for cached embedders: letters and glove queries never import node:crypto.
  const { EmbeddingCache } = cacheDir ? await import('./cache.js') : { EmbeddingCache: null };
  const cache = cacheDir && EmbeddingCache ? EmbeddingCache.fromEnv(cacheDir) : null;
  const keyType = embedder.distinguishesInputType ? opts.inputType : 'document';
  const keys = cache && EmbeddingCache ? texts.map((t) => EmbeddingCache.key(embedder.spec, embedder.cacheScope as string, keyType, t)) : [];
  // Identical texts are embedded once.
  const pending = new Map<string, number[]>();
  let done = 0;
  texts.forEach((t, i) => {
    const hit = cache?.get(keys[i], embedder.dim);
    if (hit) {
      out[i] = hit;
      done++;
    } else {
      const same = pending.get(t);
      if (same) same.push(i);
      else pending.set(t, [i]);
    }
  });
  opts.onProgress?.(done, texts.length);
  const batches = planBatches([...pending.keys()], embedder);
  const controller = new AbortController();
  let failure: unknown = null;
  let next = 0;
  const worker = async () => {
    while (failure === null && next < batches.length) {
      const batch = batches[next++];
      try {
        const vectors = await embedder.embed(batch, opts.inputType, controller.signal);
        if (vectors.length !== batch.length) throw new EmbedderError(`embedder ${embedder.spec} returned ${vectors.length} vectors for ${batch.length} texts`);
        const toCache: [string, Float32Array][] = [];
        batch.forEach((t, j) => {
          const v = vectors[j];
          if (v.length !== embedder.dim) throw new EmbedderError(`embedder ${embedder.spec} returned a vector of ${v.length} dims, expected ${embedder.dim}`);
          const rows = pending.get(t) as number[];
          for (const i of rows) out[i] = v;
          if (cache) toCache.push([keys[rows[0]], v]);
          done += rows.length;
        });
        cache?.putMany(toCache);
        opts.onProgress?.(done, texts.length);
      } catch (err) {
        if (failure === null) {
          failure = err instanceof TextRejected ? new InvalidInput(prefix(where((pending.get(batch[err.index]) as number[])[0]), err.message), { hint: err.hint }) : err;
        }
        controller.abort();
      }
    }
  };
  const lanes = Math.max(1, Math.min(embedder.concurrency ?? 1, batches.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  if (failure !== null) throw failure;
  if (opts.metric === 'cosine') {
    out.forEach((v, i) => {
      if (v && v.every((x) => x === 0)) {
        const why = embedder.zeroReason ?? `the ${embedder.spec} embedder gives it an all-zero vector`;
        throw new InvalidInput(prefix(where(i), `cannot embed text ${JSON.stringify(texts[i].slice(0, 40))}: ${why}, and cosine needs a direction`), { hint: 'add words, or pass an embedding' });
      }
    });
  }
  return out as Float32Array[];
}

/** A rough token count for request limits: about 4 bytes a token in English, so 3 errs on the safe side. */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 3) + 1;
}

function planBatches(texts: string[], embedder: Embedder): string[][] {
  const batches: string[][] = [];
  let cur: string[] = [];
  let tokens = 0;
  for (const t of texts) {
    const n = embedder.maxBatchTokens === undefined ? 0 : estimateTokens(t);
    if (cur.length > 0 && (cur.length >= embedder.maxBatch || (embedder.maxBatchTokens !== undefined && tokens + n > embedder.maxBatchTokens))) {
      batches.push(cur);
      cur = [];
      tokens = 0;
    }
    cur.push(t);
    tokens += n;
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}
