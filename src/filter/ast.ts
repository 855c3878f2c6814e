/**
 * The filter AST: what vdb's JSON filters and `--where` shorthand compile to
 * (parse.ts, shorthand.ts), and what a Qdrant filter compiles to as well. One
 * evaluator (evaluate.ts) answers every node from the filter columns.
 *
 * A filter tests a chunk's *subject* (fields.ts): one JSON object holding the
 * built-in fields at its top (`id`, `doc_id`, `tags`, `created_at`,
 * `updated_at`), the chunk's metadata under `m` and its document's metadata
 * under `d` (answered through the documents: documents.ts). Every field is a
 * Path into it.
 *
 * Values at a path. Walking the steps from the root, an object step takes that
 * key. Arrays are walked element by element: anywhere (`arrays: 'any'`, vdb's
 * paths, so `authors.name` reaches the names in an array of author objects),
 * or only at EACH steps plus one level at the end (`'explicit'`, Qdrant's
 * `a[].b` and its leaf arrays). The scalars reached (string, number, boolean,
 * null) are the path's values; a condition on a multi-valued path holds when
 * it holds for ANY value (array-any, as Qdrant and MongoDB). A value reached as
 * an element of an array at the end of the walk is "in an array" ($contains).
 *
 * Types are strict: a number matches only numbers, a string only strings, a
 * boolean only booleans, null only null. Strings that are ISO-8601 dates or
 * times (values.ts `parseInstant`) also compare as instants: equal when they
 * are the same instant, ordered by time in ranges.
 */

/** A JSON scalar, as stored in metadata and given in filters. */
export type Scalar = string | number | boolean | null;

/** An array step: every element of an array (Qdrant's `[]`). */
export const EACH = 0;
export type Step = string | typeof EACH;

export interface Path {
  /** Steps from the subject's root (see the file comment). */
  steps: Step[];
  /** 'any': arrays are walked wherever they are; 'explicit': at EACH steps and one level at the end. */
  arrays: 'any' | 'explicit';
  /** The path as the user wrote it, for messages and --explain. */
  label: string;
}

/** Bounds of a range; a missing bound is open. */
export interface Bounds {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export type Filter =
  /** Every chunk; `{}`. */
  | { kind: 'all' }
  /** No chunk (Qdrant's `should: []`). */
  | { kind: 'none' }
  | { kind: 'and'; of: Filter[] }
  | { kind: 'or'; of: Filter[] }
  | { kind: 'not'; of: Filter }
  /** At least `min` of `of` hold (Qdrant's min_should). */
  | { kind: 'atLeast'; min: number; of: Filter[] }
  /** Some value equals `value`. */
  | { kind: 'eq'; path: Path; value: Scalar }
  /** Some value equals one of `values` (an empty list matches nothing). */
  | { kind: 'in'; path: Path; values: Scalar[] }
  /** Some value is not in `values` (Qdrant's match.except); a path without values does not match. */
  | { kind: 'anyNotIn'; path: Path; values: Scalar[] }
  /** Some value of the domain lies within the bounds: numbers, or instants in ms since the epoch. */
  | { kind: 'range'; path: Path; domain: 'number' | 'instant'; bounds: Bounds }
  /** The path is present: its last key is in some object reached (any value, null and [] included). */
  | { kind: 'exists'; path: Path }
  /** Some value in an array at the end equals `value`, or some string value not in an array contains it. */
  | { kind: 'contains'; path: Path; value: Scalar }
  /** Some string value contains `text` (Qdrant's match.text without a full-text index). */
  | { kind: 'substring'; path: Path; text: string }
  /**
   * Some string value holds every one of `terms` among its terms (src/text
   * analyze()): Qdrant's match.text on a field with a full-text index.
   */
  | { kind: 'terms'; path: Path; terms: string[] }
  /** Some value is null and not in an array at the end: `{"k": null}` (Qdrant's is_null). */
  | { kind: 'isNull'; path: Path }
  /** No value but null, and no null in an array: missing, null or [] (Qdrant's is_empty). */
  | { kind: 'isEmpty'; path: Path }
  /** The number of values (null included) lies within the bounds (Qdrant's values_count). */
  | { kind: 'count'; path: Path; bounds: Bounds }
  /**
   * Some element of the array at `path` (objects) satisfies `filter`, whose
   * paths start at the element (Qdrant's nested). Reads the records of the
   * chunks that have the path.
   */
  | { kind: 'nested'; path: Path; filter: Filter };

export type Leaf = Exclude<Filter, { kind: 'all' | 'none' | 'and' | 'or' | 'not' | 'atLeast' | 'nested' }>;

export const ALL: Filter = { kind: 'all' };
export const NONE: Filter = { kind: 'none' };

/** AND of filters, flattened; `all` when empty. */
export function and(of: Filter[]): Filter {
  const flat: Filter[] = [];
  for (const f of of) {
    if (f.kind === 'all') continue;
    if (f.kind === 'none') return NONE;
    if (f.kind === 'and') flat.push(...f.of);
    else flat.push(f);
  }
  return flat.length === 0 ? ALL : flat.length === 1 ? flat[0] : { kind: 'and', of: flat };
}

/** The filter in one line, for --explain: `(lang = "en" AND year >= 2020)`. */
export function render(f: Filter): string {
  const v = (x: Scalar) => JSON.stringify(x);
  const bounds = (label: string, b: Bounds, show: (n: number) => string) =>
    [b.gt !== undefined && `${label} > ${show(b.gt)}`, b.gte !== undefined && `${label} >= ${show(b.gte)}`, b.lt !== undefined && `${label} < ${show(b.lt)}`, b.lte !== undefined && `${label} <= ${show(b.lte)}`]
      .filter(Boolean)
      .join(' AND ');
  switch (f.kind) {
    case 'all':
      return 'TRUE';
    case 'none':
      return 'FALSE';
    case 'and':
      return `(${f.of.map(render).join(' AND ')})`;
    case 'or':
      return `(${f.of.map(render).join(' OR ')})`;
    case 'not': {
      const g = f.of;
      if (g.kind === 'eq') return `${g.path.label} != ${v(g.value)}`;
      if (g.kind === 'in') return `${g.path.label} NOT IN [${g.values.map(v).join(', ')}]`;
      if (g.kind === 'exists') return `NOT HAS ${g.path.label}`;
      return `NOT ${render(g)}`;
    }
    case 'atLeast':
      return `AT LEAST ${f.min} OF (${f.of.map(render).join(', ')})`;
    case 'eq':
      return `${f.path.label} = ${v(f.value)}`;
    case 'in':
      return `${f.path.label} IN [${f.values.map(v).join(', ')}]`;
    case 'anyNotIn':
      return `${f.path.label} HAS A VALUE NOT IN [${f.values.map(v).join(', ')}]`;
    case 'range':
      return bounds(f.path.label, f.bounds, f.domain === 'instant' ? (n) => new Date(Math.floor(n)).toISOString() : String);
    case 'exists':
      return `HAS ${f.path.label}`;
    case 'contains':
      return `${f.path.label} CONTAINS ${v(f.value)}`;
    case 'substring':
      return `${f.path.label} CONTAINS TEXT ${v(f.text)}`;
    case 'terms':
      return `${f.path.label} HAS WORDS ${v(f.terms.join(' '))}`;
    case 'isNull':
      return `${f.path.label} IS NULL`;
    case 'isEmpty':
      return `${f.path.label} IS EMPTY`;
    case 'count':
      return bounds(`COUNT(${f.path.label})`, f.bounds, String);
    case 'nested':
      return `ANY ${f.path.label}[] (${render(f.filter)})`;
  }
}
