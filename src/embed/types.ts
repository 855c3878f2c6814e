import { InvalidInput } from '../domain/errors.js';
import type { ErrorOptions } from '../domain/errors.js';

/** What a text is embedded for: providers such as Cohere embed chunks and queries differently. */
export type InputType = 'document' | 'query';

/** Turns texts into vectors. One per library, made from its embedder SPEC (registry.ts). */
export interface Embedder {
  /** The SPEC the library records, normalised (e.g. `openai:text-embedding-3-small@512`). */
  readonly spec: string;
  readonly dim: number;
  /** Texts per call to embed(). */
  readonly maxBatch: number;
  /** Estimated tokens per call (HTTP providers' request limits); unset: no limit. */
  readonly maxBatchTokens?: number;
  /** Calls in flight at once (HTTP providers); default 1. */
  readonly concurrency?: number;
  /**
   * Set for embedders worth caching (remote or expensive): what, besides the
   * SPEC, decides the vectors (e.g. the API's base URL). Never a secret.
   */
  readonly cacheScope?: string;
  /** Why a text can embed to all zeros, for the error cosine gives then. */
  readonly zeroReason?: string;
  /** Documents and queries get different vectors (Cohere); otherwise the cache shares them. */
  readonly distinguishesInputType?: boolean;
  /**
   * Embeds one batch, in order. A text it cannot embed throws TextRejected
   * with the text's index; anything else fails the whole batch.
   */
  embed(texts: string[], inputType: InputType, signal?: AbortSignal): Promise<Float32Array[]>;
  /** Releases files or model sessions. */
  close?(): Promise<void>;
}

/** One text of a batch is unusable (e.g. no known word); `index` is its place in the batch. */
export class TextRejected extends InvalidInput {
  constructor(
    readonly index: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
