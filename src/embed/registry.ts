import { InvalidInput } from '../domain/errors.js';
import { prefix } from '../domain/validate.js';
import { embedLetters, LETTERS_DIM } from './letters.js';

/** Turns texts into vectors. Async so that model and HTTP providers fit the same shape. */
export interface Embedder {
  readonly name: string;
  readonly dim: number;
  /** Why a text can embed to all zeros, for the error cosine gives then. */
  readonly zeroReason?: string;
  embed(texts: string[]): Promise<Float32Array[]>;
}

const letters: Embedder = {
  name: 'letters',
  dim: LETTERS_DIM,
  zeroReason: 'it has no letters the letters embedder counts (a-z)',
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

/**
 * Embeds texts, rejecting empty ones, and for a cosine library texts that
 * embed to all zeros (they have no direction); `where(i)` names item i in errors.
 */
export async function embedTexts(embedder: Embedder, texts: string[], where: (i: number) => string | undefined, metric?: string): Promise<Float32Array[]> {
  texts.forEach((t, i) => {
    if (t.trim() === '') throw new InvalidInput(prefix(where(i), `text is empty; the ${embedder.name} embedder needs text (or pass an embedding)`));
  });
  const vectors = await embedder.embed(texts);
  if (metric === 'cosine') {
    vectors.forEach((v, i) => {
      if (v.every((x) => x === 0)) {
        const why = embedder.zeroReason ?? `the ${embedder.name} embedder gives it an all-zero vector`;
        throw new InvalidInput(prefix(where(i), `cannot embed text ${JSON.stringify(texts[i].slice(0, 40))}: ${why}, and cosine needs a direction`), { hint: 'add words, or pass an embedding' });
      }
    });
  }
  return vectors;
}
