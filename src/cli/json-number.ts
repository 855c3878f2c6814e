/**
 * What the stdin reader's two number readers share (embedding-line.ts in JS,
 * number-scan.ts in WebAssembly): the bytes of JSON numbers and arrays, the
 * powers of ten they scale by, and the interval around an estimate inside
 * which the exactly rounded double must lie.
 */

export const SPACE = 32;
export const TAB = 9;
export const COMMA = 44;
export const CLOSE_BRACKET = 93;
export const MINUS = 45;
export const PLUS = 43;
export const DOT = 46;
export const ZERO = 48;
export const NINE = 57;
export const LOWER_E = 101;
export const UPPER_E = 69;
export const OPEN_BRACE = 123;

/** 10^k for k = 0…308, each the double nearest it (Number parses exactly; Math.pow need not). */
export const POW10 = Array.from({ length: 309 }, (_, k) => Number(`1e${k}`));
/** An estimate is kept when x·UP and x·DOWN round to the same float32 as x: the exact double lies between them. */
export const UP = 1 + 2 ** -46;
export const DOWN = 1 - 2 ** -46;
/** Significant digits whose estimate stays within that interval's margin. */
export const MAX_DIGITS = 19;
