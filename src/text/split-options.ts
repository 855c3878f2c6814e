/**
 * The splitter's options and their limits, apart from the splitter itself so
 * that the CLI can show them without loading it.
 */
export type SizeUnit = 'chars' | 'tokens';

export interface SplitOptions {
  /** Largest chunk, in `unit`s. */
  size: number;
  /** How much of the previous chunk a chunk may repeat, in `unit`s; below size. */
  overlap: number;
  unit: SizeUnit;
}

/** 1,000 characters with 200 of overlap: a few paragraphs, within a small embedding model's window. */
export const SPLIT_DEFAULTS: Readonly<SplitOptions> = { size: 1000, overlap: 200, unit: 'chars' };

/** Limits the CLI and REST refuse beyond. */
export const SPLIT_LIMITS = { maxSize: 1_000_000, minChars: 2, minTokens: 1 } as const;

/**
 * The overlap when only a size is given: the default's 200, or a fifth of a
 * smaller size (200 would not fit under it).
 */
export function defaultOverlap(size: number): number {
  return Math.min(SPLIT_DEFAULTS.overlap, Math.floor(size / 5));
}

/**
 * Checks split options; returns a message saying what is wrong, or null.
 * One rule for every caller (CLI flags, REST bodies).
 */
export function checkSplitOptions(o: SplitOptions): string | null {
  if (o.unit !== 'chars' && o.unit !== 'tokens') return `chunk unit must be chars or tokens, got ${String(o.unit)}`;
  const min = o.unit === 'chars' ? SPLIT_LIMITS.minChars : SPLIT_LIMITS.minTokens;
  if (!Number.isInteger(o.size) || o.size < min || o.size > SPLIT_LIMITS.maxSize) {
    return `chunk size must be an integer from ${min} to ${SPLIT_LIMITS.maxSize} ${o.unit}, got ${o.size}`;
  }
  if (!Number.isInteger(o.overlap) || o.overlap < 0 || o.overlap >= o.size) {
    return `overlap must be an integer from 0 to chunk size - 1 (${o.size - 1}), got ${o.overlap}`;
  }
  return null;
}
