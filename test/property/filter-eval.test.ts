/**
 * The column evaluator against the plain reference evaluator
 * (helpers/filter-reference.ts) on random subjects: nested objects, arrays,
 * missing keys, nulls, mixed types, dates that name the same instant in
 * different spellings. Also after random appends, edits and removals (the
 * live overlay), and through the codec.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Bounds, Filter, Path, Scalar, Step } from '../../src/filter/ast.js';
import { EACH } from '../../src/filter/ast.js';
import { ColumnSet, ColumnSetBuilder } from '../../src/filter/columns.js';
import { evaluate, setSource } from '../../src/filter/evaluate.js';
import { DocumentColumns } from '../../src/filter/documents.js';
import { LiveColumns } from '../../src/filter/live.js';
import { parseInstant } from '../../src/filter/values.js';
import { matches } from '../helpers/filter-reference.js';

const KEYS = ['a', 'b', 'lang', 'year', 'x.y'];
const STRINGS = ['en', 'de', '', 'e', 'english', '2024-01-01', '2024-01-01T00:00:00Z', '2023-12-31T23:00:00-01:00', '2024-06-30T12:00:00.5Z', '2020-02-30', 'Ada'];
const NUMBERS = [0, -0, 1, 2, 2.5, -7, 2020, 2024, 1e21];

const scalar: fc.Arbitrary<Scalar> = fc.oneof(fc.constantFrom(...STRINGS), fc.constantFrom(...NUMBERS), fc.boolean(), fc.constant(null));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, { arbitrary: scalar, weight: 5 }, { arbitrary: tie('array'), weight: 2 }, { arbitrary: tie('object'), weight: 2 }),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
})).value;
const metadata = fc.dictionary(fc.constantFrom(...KEYS), json, { maxKeys: 4 });
const subject = fc.record({
  id: fc.constantFrom('c1', 'c2', 'c3'),
  tags: fc.uniqueArray(fc.constantFrom('a', 'b', 'draft', 'en'), { maxLength: 3 }),
  created_at: fc.constantFrom('2024-01-01T00:00:00.000Z', '2024-03-05T10:00:00.000Z', '2023-01-01T00:00:00.000Z'),
  m: metadata,
});

const pathOf = (steps: Step[], arrays: 'any' | 'explicit'): Path => ({ steps, arrays, label: steps.map((s) => (s === EACH ? '[]' : s)).join('.') });
const anyPath = fc.oneof(
  fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }).map((ks) => pathOf(['m', ...ks], 'any')),
  fc.constantFrom(pathOf(['tags'], 'any'), pathOf(['id'], 'any'), pathOf(['created_at'], 'any')),
);
const explicitPath = fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.constant(EACH as Step)), { minLength: 1, maxLength: 3 }).map((ks) => pathOf(['m', ...ks], 'explicit'));
const path = fc.oneof(anyPath, explicitPath);
const bounds: fc.Arbitrary<Bounds> = fc
  .record({ gt: fc.constantFrom(...NUMBERS), gte: fc.constantFrom(...NUMBERS), lt: fc.constantFrom(...NUMBERS), lte: fc.constantFrom(...NUMBERS) }, { requiredKeys: [] })
  .filter((b) => Object.keys(b).length > 0);
const instantBounds: fc.Arbitrary<Bounds> = fc
  .record({ gte: fc.constantFrom(...STRINGS), lt: fc.constantFrom(...STRINGS) }, { requiredKeys: [] })
  .map((b) => Object.fromEntries(Object.entries(b).map(([k, s]) => [k, parseInstant(s)]).filter(([, t]) => t !== null)) as Bounds)
  .filter((b) => Object.keys(b).length > 0);

const leaf: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ kind: fc.constant('eq' as const), path, value: scalar }),
  fc.record({ kind: fc.constant('in' as const), path, values: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('anyNotIn' as const), path, values: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('range' as const), path, domain: fc.constant('number' as const), bounds }),
  fc.record({ kind: fc.constant('range' as const), path, domain: fc.constant('instant' as const), bounds: instantBounds }),
  fc.record({ kind: fc.constant('exists' as const), path }),
  fc.record({ kind: fc.constant('contains' as const), path, value: scalar }),
  fc.record({ kind: fc.constant('substring' as const), path, text: fc.constantFrom('e', 'en', '2024', '') }),
  fc.record({ kind: fc.constant('terms' as const), path, terms: fc.uniqueArray(fc.constantFrom('en', 'de', '2024', 'draft'), { maxLength: 2 }) }),
  fc.record({ kind: fc.constant('isNull' as const), path }),
  fc.record({ kind: fc.constant('isEmpty' as const), path }),
  fc.record({ kind: fc.constant('count' as const), path, bounds: fc.constantFrom<Bounds>({ gte: 2 }, { lt: 1 }, { gt: 0, lte: 1 }, { lte: 2 }) }),
) as fc.Arbitrary<Filter>;

const filter: fc.Arbitrary<Filter> = fc.letrec((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: leaf, weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('and' as const), of: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('or' as const), of: fc.array(tie('f'), { minLength: 1, maxLength: 3 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('not' as const), of: tie('f') }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('atLeast' as const), min: fc.integer({ min: 0, max: 3 }), of: fc.array(tie('f'), { maxLength: 3 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('nested' as const), path: explicitPath, filter: leafRelative() }), weight: 1 },
    { arbitrary: fc.constantFrom<Filter>({ kind: 'all' }, { kind: 'none' }), weight: 1 },
  ) as fc.Arbitrary<Filter>,
})).f;

/** Leaves whose paths start at an array element (for nested). */
function leafRelative(): fc.Arbitrary<Filter> {
  const rel = fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 2 }).map((ks) => pathOf(ks, 'explicit'));
  return fc.oneof(fc.record({ kind: fc.constant('eq' as const), path: rel, value: scalar }), fc.record({ kind: fc.constant('exists' as const), path: rel })) as fc.Arbitrary<Filter>;
}

function build(subjects: object[]): ColumnSet {
  const b = new ColumnSetBuilder();
  subjects.forEach((s, r) => b.addSubject(r, s));
  return b.build(subjects.length);
}

function expected(f: Filter, subjects: object[]): number[] {
  return subjects.flatMap((s, r) => (matches(f, s) ? [r] : []));
}

function bytesSource(bytes: Uint8Array) {
  return {
    bytes: bytes.byteLength,
    readRange: (dst: Uint8Array, offset: number) => dst.set(bytes.subarray(offset, offset + dst.byteLength)),
    damaged: (what: string): never => {
      throw new Error(what);
    },
  };
}

describe('filter evaluator against the reference', () => {
  it('matches the reference on random subjects and filters, built and through the codec', () => {
    fc.assert(
      fc.property(fc.array(subject, { maxLength: 12 }), fc.array(filter, { minLength: 1, maxLength: 6 }), (subjects, filters) => {
        const set = build(subjects);
        const reopened = ColumnSet.open(bytesSource(set.encode()), subjects.length);
        for (const f of filters) {
          const want = expected(f, subjects);
          expect(Array.from(evaluate(f, setSource(set, subjects)).toArray()), JSON.stringify(f)).toEqual(want);
          expect(Array.from(evaluate(f, setSource(reopened, subjects)).toArray())).toEqual(want);
        }
      }),
      { seed: 1111, numRuns: 250 },
    );
  });

  it('encodes the same set to the same bytes', () => {
    fc.assert(
      fc.property(fc.array(subject, { maxLength: 10 }), (subjects) => {
        const a = build(subjects).encode();
        const b = ColumnSet.open(bytesSource(a), subjects.length).encode();
        expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
      }),
      { seed: 2222, numRuns: 100 },
    );
  });

  it('stays right through appends, edits and removals (live overlay, folds included)', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('append' as const), subjects: fc.array(subject, { minLength: 1, maxLength: 4 }) }),
      fc.record({ op: fc.constant('edit' as const), at: fc.nat(), subject }),
      fc.record({ op: fc.constant('remove' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(subject, { maxLength: 8 }), fc.array(op, { maxLength: 10 }), fc.array(filter, { minLength: 1, maxLength: 3 }), (initial, ops, filters) => {
        let rows = [...initial];
        const live = new LiveColumns();
        live.adopt(build(rows));
        const check = () => {
          const src = live.source(rows.length, (r) => rows[r]);
          for (const f of filters) expect(Array.from(evaluate(f, src).toArray())).toEqual(expected(f, rows));
        };
        for (const o of ops) {
          if (o.op === 'append') {
            rows.push(...o.subjects);
            live.appended(o.subjects.length);
          } else if (o.op === 'edit' && rows.length > 0) {
            rows[o.at % rows.length] = o.subject;
            live.edited(o.at % rows.length);
          } else if (o.op === 'remove' && rows.length > 0) {
            const gone = [...new Set(o.at.map((a) => a % rows.length))].sort((x, y) => x - y);
            rows = rows.filter((_, i) => !gone.includes(i));
            live.removed(gone);
          }
          check();
        }
        // What a snapshot would store: one set for the rows now.
        const now = live.current(rows.length, (r) => rows[r]);
        for (const f of filters) expect(Array.from(evaluate(f, setSource(now, rows)).toArray())).toEqual(expected(f, rows));
      }),
      { seed: 3333, numRuns: 120 },
    );
  });

  it("answers doc.KEY conditions through the documents, as if each chunk held its document's metadata", () => {
    const docPath = fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 2 }).map((ks) => pathOf(['d', ...ks], 'any'));
    const docLeaf: fc.Arbitrary<Filter> = fc.oneof(
      fc.record({ kind: fc.constant('eq' as const), path: docPath, value: scalar }),
      fc.record({ kind: fc.constant('exists' as const), path: docPath }),
      fc.record({ kind: fc.constant('range' as const), path: docPath, domain: fc.constant('number' as const), bounds }),
      fc.record({ kind: fc.constant('isEmpty' as const), path: docPath }),
      fc.record({ kind: fc.constant('count' as const), path: docPath, bounds: fc.constant<Bounds>({ lt: 1 }) }),
    ) as fc.Arbitrary<Filter>;
    const mixed = fc.oneof(docLeaf, leaf, fc.record({ kind: fc.constant('not' as const), of: docLeaf }), fc.record({ kind: fc.constant('and' as const), of: fc.array(fc.oneof(docLeaf, leaf), { minLength: 1, maxLength: 3 }) })) as fc.Arbitrary<Filter>;
    fc.assert(
      fc.property(fc.array(metadata, { minLength: 0, maxLength: 4 }), fc.array(fc.tuple(subject, fc.integer({ min: -1, max: 3 })), { maxLength: 12 }), fc.array(mixed, { minLength: 1, maxLength: 4 }), (docMeta, chunks, filters) => {
        const docs = docMeta.map((m, i) => ({ id: `d${i}`, metadata: m }));
        const subjects = chunks.map(([s, d]) => ({ ...s, doc_id: d >= 0 && d < docs.length ? docs[d].id : null }));
        // The reference sees each chunk's document metadata under d.
        const merged = subjects.map((s) => {
          const doc = docs.find((d) => d.id === s.doc_id);
          return doc ? { ...s, d: doc.metadata } : s;
        });
        const src = new DocumentColumns().source(setSource(build(subjects), subjects), { list: () => docs });
        for (const f of filters) expect(Array.from(evaluate(f, src).toArray()), JSON.stringify(f)).toEqual(expected(f, merged));
      }),
      { seed: 4444, numRuns: 150 },
    );
  });

  it('folds many dirty rows into a new base without losing any', () => {
    const rows: object[] = [];
    const live = new LiveColumns();
    live.adopt(build([]));
    for (let i = 0; i < 3000; i++) rows.push({ id: `c${i}`, tags: [], created_at: '2024-01-01', m: { n: i % 7, s: `v${i % 5}` } });
    live.appended(rows.length);
    for (let i = 0; i < 3000; i += 3) {
      rows[i] = { id: `c${i}`, tags: ['e'], created_at: '2024-01-01', m: { n: 100 } };
      live.edited(i);
    }
    const f: Filter = { kind: 'or', of: [{ kind: 'eq', path: pathOf(['m', 'n'], 'any'), value: 3 }, { kind: 'eq', path: pathOf(['tags'], 'any'), value: 'e' }] };
    expect(Array.from(evaluate(f, live.source(rows.length, (r) => rows[r])).toArray())).toEqual(expected(f, rows));
  });
});
