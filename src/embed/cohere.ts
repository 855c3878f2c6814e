/**
 * `cohere:MODEL[@DIMS]`: POST {COHERE_BASE_URL}/v2/embed with {model, texts,
 * input_type, embedding_types: ["float"], output_dimension?}: input_type
 * search_document for chunks and search_query for queries; at most 96 texts
 * a request. Key: CO_API_KEY, else EMBEDDING_API_KEY.
 */
import { EmbedderError } from '../domain/errors.js';
import { apiKey, baseUrl, checkVectors, httpSettings, postJson, resolveHttpSpec } from './http.js';
import type { HttpProvider } from './http.js';
import type { ParsedSpec, ResolvedSpec } from './registry.js';
import type { Embedder } from './types.js';

const COHERE: HttpProvider = { name: 'cohere', keyVars: ['CO_API_KEY', 'EMBEDDING_API_KEY'], baseVar: 'COHERE_BASE_URL', defaultBase: 'https://api.cohere.com' };

const KNOWN_DIMS: Record<string, number> = {
  'embed-v4.0': 1536,
  'embed-english-v3.0': 1024,
  'embed-multilingual-v3.0': 1024,
  'embed-english-light-v3.0': 384,
  'embed-multilingual-light-v3.0': 384,
};

export function cohereEmbedder(spec: ParsedSpec, dim: number | undefined): Embedder {
  const settings = httpSettings();
  const base = baseUrl(COHERE);
  const url = `${base}/v2/embed`;
  return {
    spec: `cohere:${spec.model}${spec.dims !== undefined ? `@${spec.dims}` : ''}`,
    dim: dim ?? spec.dims ?? KNOWN_DIMS[spec.model] ?? 0,
    maxBatch: 96,
    concurrency: settings.concurrency,
    cacheScope: base,
    distinguishesInputType: true,
    async embed(texts, inputType, signal) {
      const body: Record<string, unknown> = {
        model: spec.model,
        texts,
        input_type: inputType === 'query' ? 'search_query' : 'search_document',
        embedding_types: ['float'],
      };
      if (spec.dims !== undefined) body.output_dimension = spec.dims;
      const reply = (await postJson(COHERE, url, apiKey(COHERE), body, settings, signal)) as { embeddings?: { float?: unknown } };
      const floats = reply?.embeddings?.float;
      if (!Array.isArray(floats)) throw new EmbedderError('cohere: malformed reply: no "embeddings.float" array');
      return checkVectors(COHERE, floats, texts.length, dim ?? spec.dims ?? KNOWN_DIMS[spec.model]);
    },
  };
}

/** The normalised SPEC and dimension of a new library; unknown models without a dimension are probed. */
export function resolve(spec: ParsedSpec, dim?: number): Promise<ResolvedSpec> {
  return resolveHttpSpec(cohereEmbedder(spec, undefined), spec, KNOWN_DIMS[spec.model], dim);
}
