/**
 * The WebAssembly number scanner (src/cli/number-scan.ts) on its own: where it
 * answers, the float32 values JSON.parse and Math.fround give and the offset
 * of the `]`, bit for bit (-0 included); on embeddings as embedders and `vdb
 * export` write them it answers (so the fast path is the one taken); the rest
 * it gives back (null) to the JS reader, which embedding-line.test.ts checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanNumbers } from '../../src/cli/number-scan.js';

/** The scanner on `numbers]` placed after a prefix in a larger buffer: [values, close] or null. */
function scan(numbers: string): [number[], number] | null {
  const prefix = 'xx';
  const data = Buffer.from(`${prefix}${numbers}tail`);
  let out = new Float64Array(3 + data.length);
  const r = scanNumbers(data, prefix.length, prefix.length + Buffer.byteLength(numbers), out, 3);
  if (r === null) return null;
  return [Array.from(out.subarray(3, 3 + r.count)), r.close - prefix.length];
}

function same(got: number[], want: number[]): boolean {
  return got.length === want.length && got.every((x, i) => Object.is(x, want[i]));
}

const float32 = fc.float({ noNaN: true, min: -Math.fround(2.9e38), max: Math.fround(2.9e38) });
const anyDouble = fc.double({ noNaN: true, noDefaultInfinity: true, min: -3e38, max: 3e38 });

describe('scanNumbers', () => {
  it('reads float32 values as JSON.stringify writes them, and never gives them back', () => {
    fc.assert(
      fc.property(fc.array(float32, { maxLength: 64 }), fc.constantFrom('', ' ', '\t '), (emb, gap) => {
        const text = `${emb.map((x) => JSON.stringify(x)).join(`,${gap}`)}${gap}]`;
        const got = scan(text);
        expect(got, text).not.toBeNull();
        // As written: JSON.stringify(-0) is "0".
        expect(same(got![0], (JSON.parse(`[${text}`) as number[]).map(Math.fround)), text).toBe(true);
        expect(got![1]).toBe(text.length - 1);
      }),
      { numRuns: 400 },
    );
  });

  it('reads any double as JSON.parse then Math.fround would, or gives it back', () => {
    fc.assert(
      fc.property(fc.array(anyDouble, { minLength: 1, maxLength: 32 }), (emb) => {
        const text = `${emb.map((x) => JSON.stringify(x)).join(',')}]`;
        const got = scan(text);
        if (got !== null) expect(same(got[0], (JSON.parse(`[${text}`) as number[]).map(Math.fround)), text).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads runs of fraction digits of every length as JSON.parse then Math.fround would, or gives them back', () => {
    // The scanner takes eight or four fraction digits a step: runs that end anywhere, up to and past 19 digits.
    const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const number = fc.tuple(fc.boolean(), fc.constantFrom('0', '1', '7', '42', '987'), digits(1, 26), fc.constantFrom('', 'e-3', 'E+2', 'e7'));
    fc.assert(
      fc.property(fc.array(number, { minLength: 1, maxLength: 8 }), (nums) => {
        const texts = nums.map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}.${frac}${exp}`);
        const text = `${texts.join(',')}]`;
        const got = scan(text);
        if (got !== null) expect(same(got[0], (JSON.parse(`[${text}`) as number[]).map(Math.fround)), text).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // The last digit of the line's numbers at the end of the bytes given: no run reads past them.
    expect(scan('0.12345678]')?.[0]).toEqual([Math.fround(0.12345678)]);
    expect(scan('0.1234567812345678]')?.[0]).toEqual([Math.fround(0.1234567812345678)]);
    expect(scan('1.0000000000000000000000]')?.[0]).toEqual([1]);
    expect(scan('1.0000000000000000001]')).toBeNull();
    expect(scan('0.1234567890123456789]')?.[0]).toEqual([Math.fround(0.1234567890123456789)]);
  });

  it('reads exponents, -0 and leading fraction zeros; gives back what it does not settle', () => {
    const forms = '0, -0, -0.0, 1E5, 1e+05, 2.5e-3, 0.000001234, 1234567890123456789000e-21, 0.10000000000000000000, 3e38]';
    const got = scan(forms);
    expect(got).not.toBeNull();
    expect(same(got![0], (JSON.parse(`[${forms}`) as number[]).map(Math.fround))).toBe(true);
    expect(Object.is(scan('-0]')?.[0][0], -0)).toBe(true);
    expect(scan(']')).toEqual([[], 0]);
    expect(scan('  ]')).toEqual([[], 2]);
    // More than 19 significant digits, far exponents, beyond float32 or near double underflow: the JS reader decides.
    for (const hard of ['123456789012345678901]', '0.12345678901234567891]', '1e400]', '1e-400]', '3.5e38]', '1e-310]']) expect(scan(hard), hard).toBeNull();
    // Not JSON: given back, and the JS reader declines it.
    for (const bad of ['01]', '1.]', '.5]', '+1]', '-]', '1,]', '1e]', '"1"]', '[1]]', '1', '1 2]']) expect(scan(bad), bad).toBeNull();
  });

  it('gives back a line longer than its memory takes', () => {
    const long = `${Array.from({ length: 300_000 }, () => '0.5').join(',')}]`;
    expect(scan(long)).toBeNull();
  });
});
