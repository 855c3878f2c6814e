/**
 * The stdin reader's fast path for a line with an "embedding" of numbers:
 * the numbers are read straight from the line's bytes into float32 values,
 * and only the rest of the line goes through JSON.parse. At 384 numbers a
 * line, JSON.parse spent most of its time turning 17-digit decimals into
 * exact doubles (V8's slow Strtod path), which every consumer then rounds to
 * float32 (validate.ts checkEmbedding); that made the reader the bottleneck of
 * `chunk add --stdin`.
 *
 * The result is what JSON.parse and Math.fround give, bit for bit, or null,
 * and the caller parses the whole line as before. A number is estimated from
 * its digits in double arithmetic (at most ~8 units in the last place off the
 * exactly rounded double), and kept only when rounding to float32 gives the
 * same value at both ends of a ±2^-46 interval around the estimate, which
 * holds the exact double; otherwise it is parsed with Number. Null for
 * anything but plain JSON numbers between `[` and `]`, a value beyond ±3e38
 * (the checks and their messages stay the whole line's), a key that is not
 * the line's own, or a line that is not valid JSON.
 */

import { CLOSE_BRACKET, COMMA, DOT, DOWN, LOWER_E, MAX_DIGITS, MINUS, NINE, OPEN_BRACE, PLUS, POW10, SPACE, TAB, UP, UPPER_E, ZERO } from './json-number.js';
import { scanNumbers } from './number-scan.js';

const KEY = Buffer.from('"embedding":[');
/** Places the key is tried at (it may be nested in metadata too) before the line is left to JSON.parse. */
const MAX_TRIES = 4;

/** A line's value without its embedding, and the embedding's numbers, written to `out` from `at`. */
export interface EmbeddingLine {
  value: Record<string, unknown>;
  count: number;
}

/**
 * Parses bytes [start, end) of `data`, one NDJSON line, when it holds a
 * top-level "embedding" of JSON numbers: those go to the array `room` gives
 * (one with space for that many after `at`) from `at` as float32 values; the
 * value comes back with `embedding` undefined. Null: parse the line as usual.
 */
export function parseEmbeddingLine(data: Buffer, start: number, end: number, at: number, room: (count: number) => Float64Array): EmbeddingLine | null {
  const line = data.subarray(start, end);
  // The key may also appear in a string (escaped: skipped here) or in nested metadata (the check below fails).
  for (let found = line.indexOf(KEY), tries = 0; found !== -1 && tries < MAX_TRIES; found = line.indexOf(KEY, found + 1)) {
    const key = start + found;
    if (!opensMember(data, start, key)) continue;
    tries++;
    // At most one number per two bytes: a digit and a comma.
    const out = room(Math.ceil((end - key - KEY.length + 1) / 2));
    const numbers = scanNumbers(data, key + KEY.length, end, out, at) ?? readNumbers(data, key + KEY.length, end, out, at);
    if (numbers === null) continue;
    // The array replaced by 0: what is left parses as the line would, and holds the 0 where the key is the line's own.
    let value: unknown;
    try {
      value = JSON.parse(`${data.toString('utf8', start, key + KEY.length - 1)}0${data.toString('utf8', numbers.close + 1, end)}`);
    } catch {
      return null;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    if ((value as { embedding?: unknown }).embedding !== 0) continue;
    (value as { embedding?: unknown }).embedding = undefined;
    return { value: value as Record<string, unknown>, count: numbers.count };
  }
  return null;
}

/** Whether the `"` at `key` opens a member of the line's object: only whitespace, then `{` or `,`, before it. */
function opensMember(data: Buffer, start: number, key: number): boolean {
  let p = key - 1;
  while (p >= start && (data[p] === SPACE || data[p] === TAB)) p--;
  return p >= start && (data[p] === OPEN_BRACE || data[p] === COMMA);
}

/** Reads `n, n, …]` from p into out from at: the index of `]` and how many were read, or null. */
function readNumbers(data: Buffer, p: number, end: number, out: Float64Array, at: number): { close: number; count: number } | null {
  let n = at;
  p = skipSpace(data, p, end);
  if (p < end && data[p] === CLOSE_BRACKET) return { close: p, count: 0 };
  for (;;) {
    const from = p;
    let c = p < end ? data[p] : -1;
    const negative = c === MINUS;
    if (negative) c = ++p < end ? data[p] : -1;
    let m = 0;
    let digits = 0;
    let exp10 = 0;
    if (c === ZERO) {
      c = ++p < end ? data[p] : -1;
      // JSON has no leading zeros.
      if (c >= ZERO && c <= NINE) return null;
    } else if (c > ZERO && c <= NINE) {
      do {
        digits++;
        m = m * 10 + (c - ZERO);
        c = ++p < end ? data[p] : -1;
      } while (c >= ZERO && c <= NINE);
    } else return null;
    if (c === DOT) {
      c = ++p < end ? data[p] : -1;
      if (!(c >= ZERO && c <= NINE)) return null;
      do {
        if (m !== 0 || c !== ZERO) digits++;
        m = m * 10 + (c - ZERO);
        exp10--;
        c = ++p < end ? data[p] : -1;
      } while (c >= ZERO && c <= NINE);
    }
    if (c === LOWER_E || c === UPPER_E) {
      c = ++p < end ? data[p] : -1;
      let sign = 1;
      if (c === PLUS || c === MINUS) {
        if (c === MINUS) sign = -1;
        c = ++p < end ? data[p] : -1;
      }
      if (!(c >= ZERO && c <= NINE)) return null;
      let e = 0;
      do {
        if (e < 100_000) e = e * 10 + (c - ZERO);
        c = ++p < end ? data[p] : -1;
      } while (c >= ZERO && c <= NINE);
      exp10 += sign * e;
    }
    const v = m === 0 ? 0 : toFloat32(m, digits, exp10);
    if (v === null) {
      // Near a float32 rounding boundary, or out of the estimate's range: the exact double decides.
      const exact = Number(data.toString('latin1', from, p));
      if (!(Math.abs(exact) <= 3e38)) return null;
      out[n++] = Math.fround(exact);
    } else out[n++] = negative ? -v : v;
    p = skipSpace(data, p, end);
    if (p < end && data[p] === COMMA) {
      p = skipSpace(data, p + 1, end);
      continue;
    }
    if (p < end && data[p] === CLOSE_BRACKET) return { close: p, count: n - at };
    return null;
  }
}

/** m · 10^exp10 (m > 0, `digits` significant digits) as float32, or null when the estimate cannot tell. */
function toFloat32(m: number, digits: number, exp10: number): number | null {
  if (digits > MAX_DIGITS || exp10 > 308 || exp10 < -308) return null;
  const x = exp10 >= 0 ? m * POW10[exp10] : m / POW10[-exp10];
  // Far from double underflow (the error bound is relative) and from float32's largest.
  if (!(x >= 1e-300 && x <= 3e38)) return null;
  const f = Math.fround(x);
  return Math.fround(x * UP) === f && Math.fround(x * DOWN) === f ? f : null;
}

function skipSpace(data: Buffer, p: number, end: number): number {
  while (p < end && (data[p] === SPACE || data[p] === TAB)) p++;
  return p;
}
