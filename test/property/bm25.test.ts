import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bm25Index, type SerializedBm25 } from '../../src/text/bm25.js';
import { analyze } from '../../src/text/tokenizer.js';
import { decodeArray, encodeArray } from '../../src/store/codec.js';

/** The plain reference: every statistic recomputed from the live documents on each query. */
class ReferenceBm25 {
  readonly docs = new Map<number, string[]>();
  constructor(readonly k1 = 1.2, readonly b = 0.75) {}

  search(query: string[], k: number, accept?: (key: number) => boolean) {
    const n = this.docs.size;
    let total = 0;
    for (const d of this.docs.values()) total += d.length;
    const avgdl = total / n;
    const scores = new Map<number, number>();
    for (const term of [...new Set(query)]) {
      let df = 0;
      for (const d of this.docs.values()) if (d.includes(term)) df++;
      if (df === 0) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (const [key, d] of this.docs) {
        const tf = d.filter((t) => t === term).length;
        if (tf === 0) continue;
        const s = (idf * (tf * (this.k1 + 1))) / (tf + this.k1 * (1 - this.b + this.b * (d.length / avgdl)));
        scores.set(key, (scores.get(key) ?? 0) + s);
      }
    }
    return [...scores]
      .filter(([key]) => accept === undefined || accept(key))
      .sort((x, y) => y[1] - x[1] || x[0] - y[0])
      .slice(0, k)
      .map(([key, score]) => ({ key, score }));
  }
}

/** Through the snapshot's array codec and JSON, as a persisted index would go. */
function persist(index: Bm25Index): Bm25Index {
  const s = index.serialize();
  const json = JSON.parse(JSON.stringify({ params: s.params, arrays: Object.fromEntries(Object.entries(s.arrays).map(([k, a]) => [k, encodeArray(a)])) }));
  const arrays = Object.fromEntries(Object.entries(json.arrays).map(([k, a]) => [k, decodeArray(a) as Uint32Array]));
  return Bm25Index.from({ params: json.params, arrays });
}

// A small vocabulary (with non-ASCII terms) makes shared terms, repeats and score ties common.
const VOCAB = ['alpha', 'beta', 'gamma', 'delta', 'café', '東', 'zeta', 'éta', 'a', 'b'];
const doc = fc.array(fc.constantFrom(...VOCAB), { maxLength: 12 });
const op = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 40 }), terms: doc }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), key: fc.integer({ min: 0, max: 40 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('persist' as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('query' as const),
      terms: fc.array(fc.constantFrom(...VOCAB, 'missing'), { minLength: 1, maxLength: 4 }),
      k: fc.integer({ min: 0, max: 45 }),
      filter: fc.option(fc.integer({ min: 2, max: 4 })),
    }),
    weight: 4,
  },
);

describe('BM25 index', () => {
  it('equals the reference implementation through adds, removes, edits and persistence (exact scores, ties)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.double({ min: 0, max: 3, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (ops, k1, b) => {
        let index = Bm25Index.create({ k1, b });
        const ref = new ReferenceBm25(k1, b);
        for (const o of ops) {
          if (o.kind === 'add') {
            // An edit is a remove and an add of the same key.
            if (ref.docs.has(o.key)) {
              expect(index.remove(o.key)).toBe(true);
              ref.docs.delete(o.key);
            }
            index.add(o.key, o.terms);
            ref.docs.set(o.key, o.terms);
          } else if (o.kind === 'remove') {
            expect(index.remove(o.key)).toBe(ref.docs.delete(o.key));
          } else if (o.kind === 'persist') {
            index = persist(index);
          } else {
            const accept = o.filter === null ? undefined : (key: number) => key % o.filter! !== 0;
            expect(index.search(o.terms, o.k, accept)).toEqual(ref.search(o.terms, o.k, accept));
          }
          expect(index.size).toBe(ref.docs.size);
        }
        const all = ['missing', ...VOCAB];
        expect(persist(index).search(all, 100)).toEqual(ref.search(all, 100));
      }),
      { seed: 1212, numRuns: 300 },
    );
  });

  it('serializes the same live documents to the same arrays, whatever led to them', () => {
    const a = Bm25Index.create();
    a.add(5, ['x', 'y']);
    a.add(2, ['y']);
    a.add(9, ['z']);
    a.remove(9);
    const b = Bm25Index.create();
    b.add(2, ['y']);
    const b2 = persist(b);
    b2.add(7, ['w']);
    b2.remove(7);
    b2.add(5, ['x', 'y']);
    expect(b2.serialize()).toEqual(a.serialize());
    expect(a.serialize().arrays.keys).toEqual(Uint32Array.from([2, 5]));
  });

  it('ranks a small literal corpus as BM25 does', () => {
    const texts = ['The quick brown fox jumps over the lazy dog', 'A quick brown dog', 'Foxes are quick; dogs are lazy', 'Nothing here'];
    const index = Bm25Index.create();
    texts.forEach((t, i) => index.add(i, analyze(t)));
    const hits = index.search(analyze('lazy foxes'), 10);
    expect(hits.map((h) => h.key)).toEqual([2, 0]);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    expect(index.search(analyze('the and of'), 10)).toEqual([]);
    expect(index.search(analyze('dog'), 2).map((h) => h.key)).toEqual([1, 2]);
  });

  it('reads only the postings a query needs from disk, then all of them past an eighth', () => {
    const index = Bm25Index.create();
    for (let i = 0; i < 200; i++) index.add(i, [`t${i % 40}`, `u${i % 7}`, 'common']);
    const s = index.serialize();
    const words = new Uint8Array(s.arrays.postings.buffer);
    const reads: string[] = [];
    const source = {
      bytes: words.length,
      readInto(dst: Uint8Array) {
        reads.push('all');
        dst.set(words);
      },
      readRange(dst: Uint8Array, offset: number) {
        reads.push(`${offset}+${dst.length}`);
        dst.set(words.subarray(offset, offset + dst.length));
      },
      damaged(what: string): never {
        throw new Error(what);
      },
    };
    const { postings, ...rest } = s.arrays;
    const arrays = Object.defineProperty(rest, 'postings', { get: () => expect.unreachable('postings read whole') }) as SerializedBm25['arrays'];
    const paged = Bm25Index.from({ params: s.params, arrays, sources: { postings: source } });
    expect(paged.search(['t3'], 10)).toEqual(index.search(['t3'], 10));
    expect(paged.search(['t3', 'missing'], 10)).toEqual(index.search(['t3'], 10));
    expect(reads).toHaveLength(1);
    // 'common' is in every document: its list alone is over an eighth of the bytes.
    expect(paged.search(['common', 'u2'], 300)).toEqual(index.search(['common', 'u2'], 300));
    expect(reads.slice(1)).toEqual(['all']);
    expect(paged.serialize()).toEqual({ ...s, arrays: { ...s.arrays, postings } });
    expect(() => Bm25Index.from({ params: s.params, arrays, sources: { postings: { ...source, bytes: 4 } } })).toThrow(/postings have 4 bytes/);
  });

  it('refuses damaged arrays with a message', () => {
    const index = Bm25Index.create();
    index.add(1, ['a', 'b']);
    index.add(2, ['b']);
    const good = index.serialize();
    const damaged = (edit: (s: SerializedBm25) => void) => {
      const s: SerializedBm25 = { params: { ...good.params }, arrays: Object.fromEntries(Object.entries(good.arrays).map(([k, v]) => [k, v.slice()])) };
      edit(s);
      return () => Bm25Index.from(s).search(['a', 'b'], 10);
    };
    expect(damaged(() => {})).not.toThrow();
    expect(damaged((s) => (s.arrays.keys[1] = 1))).toThrow(/ascending/);
    expect(damaged((s) => (s.params.terms = 3))).toThrow(/entries/);
    expect(damaged((s) => (s.arrays.df[0] = 0))).toThrow(/frequency/);
    expect(damaged((s) => delete s.arrays.lengths)).toThrow(/lengths is missing/);
    expect(damaged((s) => (s.arrays.postings[0] = 0xffffffff))).toThrow(/damaged/);
    expect(damaged((s) => (s.params.b = 2))).toThrow(/b must be/);
    expect(() => index.add(1, [])).toThrow(/already indexed/);
    expect(() => index.add(-1, [])).toThrow(/int32/);
  });
});
