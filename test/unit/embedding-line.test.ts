/**
 * The stdin reader's fast path (src/cli/embedding-line.ts) against the oracle
 * it replaces: JSON.parse of the line, its embedding's numbers rounded with
 * Math.fround. Where it answers, it must answer exactly that (bit for bit,
 * -0 and float32 rounding ties included); it may decline (null), and then
 * the reader parses the whole line as before; on plain embeddings of
 * float32 values, as every embedder and `vdb export` writes them, it must
 * not decline.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEmbeddingLine } from '../../src/cli/embedding-line.js';
import { numberScan } from '../../src/cli/number-scan.js';

/** The fast path on one line: [value, numbers] or null. */
function fast(line: string): [unknown, number[]] | null {
  const data = Buffer.from(`${line}\n{"embedding":[9,9]}`);
  const end = Buffer.byteLength(line);
  let out = new Float64Array(4);
  const at = 3;
  const r = parseEmbeddingLine(data, 0, end, at, (count) => {
    if (out.length < at + count) out = new Float64Array(at + count);
    return out;
  });
  return r === null ? null : [r.value, Array.from(out.subarray(at, at + r.count))];
}

/** What it must give when it answers: JSON.parse, the embedding set aside and rounded to float32. */
function oracle(line: string): [unknown, number[]] {
  const value = JSON.parse(line);
  const numbers = (value.embedding as number[]).map(Math.fround);
  value.embedding = undefined;
  return [value, numbers];
}

function sameAsOracle(line: string): boolean {
  const got = fast(line);
  if (got === null) return false;
  const want = oracle(line);
  expect(got[0]).toEqual(want[0]);
  expect(got[1].length).toBe(want[1].length);
  got[1].forEach((x, i) => expect(Object.is(x, want[1][i]), `${line}: [${i}] ${x} against ${want[1][i]}`).toBe(true));
  return true;
}

// Up to ±2.9e38: beyond ±3e38 the whole line is parsed, for checkEmbedding's range message.
const float32 = fc.float({ noNaN: true, min: -Math.fround(2.9e38), max: Math.fround(2.9e38) });
const anyDouble = fc.double({ noNaN: true, noDefaultInfinity: true, min: -3e38, max: 3e38 });

// With the WebAssembly number scanner, and with the JS reader alone (what it gives lines back to).
describe.each([
  { scanner: true, reader: 'the WebAssembly scanner first' },
  { scanner: false, reader: 'the JS reader alone' },
])('parseEmbeddingLine, $reader', ({ scanner }) => {
  beforeAll(() => void (numberScan.enabled = scanner));
  afterAll(() => void (numberScan.enabled = true));

  it('reads float32 values as JSON.stringify writes them, among other keys in any order, and never declines', () => {
    fc.assert(
      fc.property(fc.array(float32, { maxLength: 64 }), fc.boolean(), fc.constantFrom(0, 1, 2), (emb, before, k) => {
        const parts = [`"embedding":${JSON.stringify(emb)}`, `"k":${k}`, `"metadata":{"tags":["a"],"embedding":[1,2]}`, '"text":"x \\"embedding\\":[3]"'];
        const line = `{${(before ? parts : parts.reverse()).join(',')}}`;
        expect(sameAsOracle(line)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reads any double as JSON.parse then Math.fround would, or declines', () => {
    fc.assert(
      fc.property(fc.array(anyDouble, { minLength: 1, maxLength: 32 }), (emb) => {
        const line = JSON.stringify({ embedding: emb });
        if (!sameAsOracle(line)) expect(fast(line)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('rounds float32 ties to even, and numbers a hair off a tie to the nearer side', () => {
    const ties: string[] = [];
    for (const f of [1, 1.5, 3.1415927410125732, 1e-30, 6.02e23, 65504]) {
      const x = Math.fround(f);
      const bits = new Float32Array([x]);
      const i = new Int32Array(bits.buffer);
      i[0] += 1;
      const mid = (x + bits[0]) / 2;
      // The midpoint exactly (a double: 25 significant bits), and ±1e-16 of it in relative terms.
      ties.push(mid.toPrecision(25), (mid * (1 + 1e-16)).toPrecision(21), (mid * (1 - 1e-16)).toPrecision(21), String(mid));
    }
    for (const t of ties) {
      const line = `{"embedding":[${t},-${t}]}`;
      expect(sameAsOracle(line), line).toBe(true);
    }
  });

  it('reads every form of a JSON number: exponents, -0, long digit strings, tiny and huge', () => {
    const numbers = ['0', '-0', '-0.0', '1E5', '1e+05', '2.5e-3', '0.000001234', '123456789012345678901234', '0.1000000000000000055511151231257827', '1e-400', '4.9e-324', '1e-40', '3e38', '1.17549435e-38'];
    const line = `{"embedding":[ ${numbers.join(' ,\t')} ]}`;
    expect(sameAsOracle(line)).toBe(true);
  });

  it('takes the last of a key given twice, as JSON.parse does', () => {
    expect(sameAsOracle('{"embedding":[1],"embedding":[2,3]}')).toBe(true);
    expect(fast('{"embedding":[1],"embedding":[2,3]}')?.[1]).toEqual([2, 3]);
  });

  it('declines what is not a plain embedding of the line, so the whole line is parsed (and refused) as before', () => {
    for (const line of [
      '{"text":"no embedding"}',
      '{"embedding":[01]}',
      '{"embedding":[1.]}',
      '{"embedding":[.5]}',
      '{"embedding":[+1]}',
      '{"embedding":[NaN]}',
      '{"embedding":[-]}',
      '{"embedding":[1,]}',
      '{"embedding":[1e]}',
      '{"embedding":["1"]}',
      '{"embedding":[[1]]}',
      '{"embedding":[1e39]}',
      '{"embedding":[3.4e38]}',
      '{"embedding" : [1]}',
      '{"embedding":[1]',
      '{"embedding":[1]} x',
      '[{"embedding":[1]}]',
      '{"metadata":{"embedding":[1]}}',
      '{"text":"a,\\"embedding\\":[1]"}',
      '{"embedding":[1]\u00a0}',
    ]) {
      expect(fast(line), line).toBeNull();
    }
  });
});
