/**
 * `openai:MODEL[@DIMS]`: POST {OPENAI_BASE_URL}/embeddings with
 * {model, input, encoding_format: "float", dimensions?}; up to 2,048 inputs
 * and about 300k tokens a request (the API's limits), replies put back in
 * input order by their `index`. Key: OPENAI_API_KEY, else EMBEDDING_API_KEY.
 * Any OpenAI-compatible server works through OPENAI_BASE_URL.
 */
import { EmbedderError } from '../domain/errors.js';
import { apiKey, baseUrl, checkVectors, httpSettings, postJson, resolveHttpSpec } from './http.js';
import type { HttpProvider } from './http.js';
import type { ParsedSpec, ResolvedSpec } from './registry.js';
import type { Embedder } from './types.js';

const OPENAI: HttpProvider = { name: 'openai', keyVars: ['OPENAI_API_KEY', 'EMBEDDING_API_KEY'], baseVar: 'OPENAI_BASE_URL', defaultBase: 'https://api.openai.com/v1' };

/** Native dimensions of the models OpenAI documents; others are probed once. */
const KNOWN_DIMS: Record<string, number> = { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 };

export function openaiEmbedder(spec: ParsedSpec, dim: number | undefined): Embedder {
  const settings = httpSettings();
  const base = baseUrl(OPENAI);
  const url = `${base}/embeddings`;
  return {
    spec: `openai:${spec.model}${spec.dims !== undefined ? `@${spec.dims}` : ''}`,
    dim: dim ?? spec.dims ?? KNOWN_DIMS[spec.model] ?? 0,
    maxBatch: 2048,
    // 300k is the API's cap; estimateTokens overcounts English, and this leaves room besides.
    maxBatchTokens: 250_000,
    concurrency: settings.concurrency,
    cacheScope: base,
    async embed(texts, _inputType, signal) {
      const body: Record<string, unknown> = { model: spec.model, input: texts, encoding_format: 'float' };
      if (spec.dims !== undefined) body.dimensions = spec.dims;
      const reply = (await postJson(OPENAI, url, apiKey(OPENAI), body, settings, signal)) as { data?: unknown };
      if (!reply || !Array.isArray(reply.data)) throw new EmbedderError('openai: malformed reply: no "data" array');
      const ordered: unknown[] = new Array(texts.length);
      for (const item of reply.data as { index?: unknown; embedding?: unknown }[]) {
        const i = item?.index;
        if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= texts.length || ordered[i] !== undefined) {
          throw new EmbedderError('openai: malformed reply: an item has a missing, repeated or out-of-range "index"');
        }
        ordered[i] = item.embedding;
      }
      const expected = dim ?? spec.dims ?? KNOWN_DIMS[spec.model];
      return checkVectors(OPENAI, reply.data.length === texts.length ? ordered : reply.data, texts.length, expected);
    },
  };
}

/** The normalised SPEC and dimension of a new library; unknown models without a dimension are probed. */
export function resolve(spec: ParsedSpec, dim?: number): Promise<ResolvedSpec> {
  return resolveHttpSpec(openaiEmbedder(spec, undefined), spec, KNOWN_DIMS[spec.model], dim);
}
