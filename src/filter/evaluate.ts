/**
 * The filter evaluator: AST → row bitmap. Leaves are answered by a
 * FilterSource (the columns); this file only combines bitmaps, and builds
 * the per-element columns a `nested` node is answered from.
 */
import type { Filter, Leaf, Path } from './ast.js';
import { EACH } from './ast.js';
import { RowBitmap } from './bitmap.js';
import { ColumnSetBuilder } from './columns.js';
import type { ColumnSet } from './columns.js';

/** Answers the leaves of a filter over `rows` rows. */
export interface FilterSource {
  readonly rows: number;
  /** The rows where the leaf holds. */
  leaf(l: Leaf): RowBitmap;
  /** The subject of a row (for nested), read from its record. */
  subjectAt(row: number): object;
}

export function evaluate(f: Filter, src: FilterSource): RowBitmap {
  switch (f.kind) {
    case 'all':
      return RowBitmap.all(src.rows);
    case 'none':
      return new RowBitmap(src.rows);
    case 'and': {
      let acc: RowBitmap | null = null;
      for (const child of f.of) {
        const b = evaluate(child, src);
        acc = acc === null ? b : acc.and(b);
        if (acc.isEmpty()) break;
      }
      return acc ?? RowBitmap.all(src.rows);
    }
    case 'or': {
      const acc = new RowBitmap(src.rows);
      for (const child of f.of) acc.or(evaluate(child, src));
      return acc;
    }
    case 'not':
      return evaluate(f.of, src).not();
    case 'atLeast': {
      if (f.min <= 0) return RowBitmap.all(src.rows);
      const counts = new Uint32Array(src.rows);
      for (const child of f.of) for (const r of evaluate(child, src).toArray()) counts[r]++;
      const out = new RowBitmap(src.rows);
      for (let r = 0; r < src.rows; r++) if (counts[r] >= f.min) out.set(r);
      return out;
    }
    case 'nested':
      return nested(f.path, f.filter, src);
    default:
      return src.leaf(f);
  }
}

/** The leaves of a ColumnSet whose row r is `subjects[r]` (or, without them, whose records are not at hand). */
export function setSource(set: ColumnSet, subjects?: readonly object[]): FilterSource {
  return {
    rows: set.rows,
    leaf(l) {
      const out = new RowBitmap(set.rows);
      return set.positive(l, out, null) ? out.not() : out;
    },
    subjectAt(row) {
      if (!subjects) throw new Error('nested filter over columns without their subjects');
      return subjects[row];
    },
  };
}

/**
 * Rows where some element of the array at `path` satisfies `inner`: the
 * elements of the rows that have the path become rows of a column set of
 * their own, and `inner` is evaluated over it.
 */
function nested(path: Path, inner: Filter, src: FilterSource): RowBitmap {
  const present = src.leaf({ kind: 'exists', path }).toArray();
  const builder = new ColumnSetBuilder();
  const owners: number[] = [];
  const elements: object[] = [];
  for (const row of present) {
    for (const e of elementsAt(src.subjectAt(row), path)) {
      builder.addSubject(owners.length, e);
      owners.push(row);
      elements.push(e);
    }
  }
  const matched = evaluate(inner, setSource(builder.build(owners.length), elements));
  const out = new RowBitmap(src.rows);
  for (const e of matched.toArray()) out.set(owners[e]);
  return out;
}

/** The objects at the end of `path`: array elements (any depth for 'any' paths, one level for 'explicit'), or an object itself. */
export function elementsAt(root: unknown, path: Path): object[] {
  const out: object[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const collect = (v: unknown, deep: boolean): void => {
    if (Array.isArray(v)) {
      for (const e of v) {
        if (isObject(e)) out.push(e);
        else if (deep && Array.isArray(e)) collect(e, true);
      }
    } else if (isObject(v)) out.push(v);
  };
  const go = (v: unknown, i: number): void => {
    if (i === path.steps.length) return collect(v, path.arrays === 'any');
    const step = path.steps[i];
    if (Array.isArray(v)) {
      if (step === EACH) for (const e of v) go(e, i + 1);
      else if (path.arrays === 'any') for (const e of v) go(e, i);
    } else if (step !== EACH && isObject(v) && Object.prototype.hasOwnProperty.call(v, step)) go(v[step], i + 1);
  };
  go(root, 0);
  return out;
}
