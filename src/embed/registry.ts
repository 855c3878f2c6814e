import { InvalidInput } from '../domain/errors.js';
import { prefix } from '../domain/validate.js';
import { embedLetters, LETTERS_DIM } from './letters.js';

/** Turns texts into vectors. Async so that model and HTTP providers fit the same shape. */
export interface Embedder {
  readonly name: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

const letters: Embedder = {
  name: 'letters',
  dim: LETTERS_DIM,
  async embed(texts) {
    return texts.map(embedLetters);
  },
};

const EMBEDDERS: Record<string, Embedder> = { letters };

export const EMBEDDER_NAMES = Object.keys(EMBEDDERS);

export function getEmbedder(name: string): Embedder {
  const e = Object.prototype.hasOwnProperty.call(EMBEDDERS, name) ? EMBEDDERS[name] : undefined;
  if (!e) throw new InvalidInput(`unknown embedder "${name}" (available: ${EMBEDDER_NAMES.join(', ')}, or none)`);
  return e;
}

/** Embeds texts, rejecting empty ones; `where(i)` names item i in errors. */
export async function embedTexts(embedder: Embedder, texts: string[], where: (i: number) => string | undefined): Promise<Float32Array[]> {
  texts.forEach((t, i) => {
    if (t.trim() === '') throw new InvalidInput(prefix(where(i), `text is empty; the ${embedder.name} embedder needs text (or pass an embedding)`));
  });
  return embedder.embed(texts);
}
