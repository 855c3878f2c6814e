/**
 * vdb's JSON filters → AST (ast.ts), and the one entry point for every filter
 * a command or request carries: `parseFilter({filter, where})`.
 *
 *   {"lang": "en", "year": {"$gte": 2020}}         implicit $eq, implicit $and of keys
 *   {"$or": [{"lang": "en"}, {"lang": "de"}]}      $and, $or (lists of filters), $not (a filter)
 *   {"tags": {"$contains": "draft"}}               array element, or substring of a string
 *   {"author": {"name": "Ada"}}                    nested keys: the same as {"author.name": "Ada"}
 *
 * Field operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $contains $not.
 * Ranges take a number or an ISO-8601 date; a string that is no date is
 * refused, so `{"year": {"$gt": "2020"}}` is an error, never a silent string
 * comparison. $ne and $nin are the negations of $eq and $in: they also match
 * chunks without the field.
 */
import { InvalidFilter } from '../domain/errors.js';
import type { Bounds, Filter, Path, Scalar } from './ast.js';
import { and } from './ast.js';
import { DOC, fieldPath, METADATA } from './fields.js';
import { parseWhere } from './shorthand.js';
import { isScalar, parseInstant } from './values.js';

/** A filter as commands and requests carry it: JSON (a value, or its text) and shorthand expressions, ANDed. */
export interface FilterInput {
  filter?: unknown;
  where?: string | readonly string[];
  /** A filter already compiled to the AST (a Qdrant filter: src/server/qdrant/filter.ts); plain JSON data. */
  ast?: Filter;
}

const FIELD_OPS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$contains', '$not'];
const RANGE_OPS: Record<string, keyof Bounds> = { $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' };

/**
 * The filter of a command or request, or null when it gives none.
 * @param at prefixes messages, e.g. `line 3`
 * @throws InvalidFilter quoting the part that is wrong
 */
export function parseFilter(input: FilterInput, at?: string): Filter | null {
  const parts: Filter[] = [];
  const pre = at ? `${at}: ` : '';
  if (input.filter !== undefined) {
    let value = input.filter;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (err) {
        throw new InvalidFilter(`${pre}filter is not valid JSON: ${(err as Error).message}`, { hint: `e.g. --filter '{"lang": "en"}'` });
      }
    }
    parts.push(parseJsonFilter(value, `${pre}filter`));
  }
  if (input.ast !== undefined) parts.push(input.ast);
  const where = typeof input.where === 'string' ? [input.where] : (input.where ?? []);
  for (const expr of where) {
    if (typeof expr !== 'string') throw new InvalidFilter(`${pre}where must be a list of strings such as "lang=en"`);
    parts.push(parseWhere(expr, `${pre}--where ${JSON.stringify(expr)}`));
  }
  return parts.length === 0 ? null : and(parts);
}

/**
 * A JSON filter → AST.
 * @param where names the filter in messages, e.g. "filter"
 */
export function parseJsonFilter(value: unknown, where: string): Filter {
  if (!isPlainObject(value)) throw new InvalidFilter(`${where} must be a JSON object such as {"lang": "en"}, got ${quote(value)}`);
  // The parser and the evaluator recurse along the filter: bound it before either does.
  if (deeperThan(value, MAX_DEPTH)) throw new InvalidFilter(`${where} is nested deeper than ${MAX_DEPTH} levels`);
  return node(value, where);
}

/** Deepest nesting of objects and arrays a filter may have. */
const MAX_DEPTH = 64;

/** Whether objects and arrays nest in `v` deeper than `limit` (iteratively, so any depth is measured safely). */
function deeperThan(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop() as [unknown, number];
    if (x === null || typeof x !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(x) ? x : Object.values(x)) stack.push([child, depth + 1]);
  }
  return false;
}

function node(obj: Record<string, unknown>, where: string): Filter {
  const parts: Filter[] = [];
  for (const [key, val] of Object.entries(obj)) {
    if (key.startsWith('$')) parts.push(logical(key, val, where));
    else parts.push(field(fieldPath(key, `${where}: ${quote({ [key]: val })}`), val, where));
  }
  return and(parts);
}

function logical(op: string, val: unknown, where: string): Filter {
  const bad = (what: string): never => {
    throw new InvalidFilter(`${where}: ${quote({ [op]: val })}: ${what}`);
  };
  if (op === '$and' || op === '$or') {
    if (!Array.isArray(val) || val.length === 0) bad(`${op} takes a non-empty list of filters, e.g. {"${op}": [{"lang": "en"}, {"year": 2024}]}`);
    const of = (val as unknown[]).map((f, i) => {
      if (!isPlainObject(f)) bad(`item ${i + 1} must be a filter object, got ${quote(f)}`);
      return node(f as Record<string, unknown>, where);
    });
    if (op === '$and') return and(of);
    return of.length === 1 ? of[0] : { kind: 'or', of };
  }
  if (op === '$not') {
    if (!isPlainObject(val)) bad('$not takes a filter object, e.g. {"$not": {"lang": "en"}}');
    return { kind: 'not', of: node(val as Record<string, unknown>, where) };
  }
  return bad(`unknown operator "${op}" where a field or $and, $or, $not belongs (field operators such as $eq go inside a field: {"year": {"$gt": 2020}})`);
}

/** The condition `val` puts on the field at `path`: a scalar (equality), operators, or nested keys. */
function field(path: Path, val: unknown, where: string): Filter {
  const bad = (what: string, hint?: string): never => {
    throw new InvalidFilter(`${where}: ${quote({ [path.label]: val })}: ${what}`, hint ? { hint } : undefined);
  };
  if (isScalar(val)) return { kind: 'eq', path, value: val };
  if (Array.isArray(val)) return bad('a list needs an operator', `{"$in": [...]} matches any of the values; {"$contains": x} an array holding x`);
  if (!isPlainObject(val)) return bad(`${quote(val)} is not a JSON value a filter can compare`);
  const keys = Object.keys(val);
  if (keys.length === 0) return bad('an empty object is not a condition', 'give a value or an operator such as {"$exists": true}');
  const ops = keys.filter((k) => k.startsWith('$'));
  if (ops.length === 0) {
    // {"author": {"name": "Ada"}} is {"author.name": "Ada"}.
    if (path.steps[0] !== METADATA && path.steps[0] !== DOC) return bad(`${path.label} has no fields below it`, `for a metadata key of that name, write metadata.${path.label}`);
    return and(keys.map((k) => field(child(path, k), val[k], where)));
  }
  if (ops.length !== keys.length) return bad('mixes operators and keys', 'write nested keys and operators in separate conditions');
  return operators(path, val, where);
}

function child(path: Path, key: string): Path {
  const quoted = /^[^."]+$/.test(key) ? key : JSON.stringify(key);
  return { steps: [...path.steps, key], arrays: path.arrays, label: `${path.label}.${quoted}` };
}

function operators(path: Path, ops: Record<string, unknown>, where: string): Filter {
  const parts: Filter[] = [];
  const ranges: Record<'number' | 'instant', Bounds | null> = { number: null, instant: null };
  for (const [op, operand] of Object.entries(ops)) {
    const bad = (what: string, hint?: string): never => {
      throw new InvalidFilter(`${where}: ${quote({ [path.label]: { [op]: operand } })}: ${what}`, hint ? { hint } : undefined);
    };
    const scalar = (): Scalar => {
      if (!isScalar(operand)) bad(`${op} takes a string, number, boolean or null, got ${quote(operand)}`);
      return operand as Scalar;
    };
    const list = (): Scalar[] => {
      if (!Array.isArray(operand) || !operand.every(isScalar)) bad(`${op} takes a list of strings, numbers, booleans or nulls, e.g. {"${op}": ["en", "de"]}`);
      return operand as Scalar[];
    };
    switch (op) {
      case '$eq':
        parts.push({ kind: 'eq', path, value: scalar() });
        break;
      case '$ne':
        parts.push({ kind: 'not', of: { kind: 'eq', path, value: scalar() } });
        break;
      case '$in':
        parts.push({ kind: 'in', path, values: list() });
        break;
      case '$nin':
        parts.push({ kind: 'not', of: { kind: 'in', path, values: list() } });
        break;
      case '$exists':
        if (typeof operand !== 'boolean') bad('$exists takes true or false');
        parts.push(operand ? { kind: 'exists', path } : { kind: 'not', of: { kind: 'exists', path } });
        break;
      case '$contains':
        parts.push({ kind: 'contains', path, value: scalar() });
        break;
      case '$not':
        if (!isPlainObject(operand) || Object.keys(operand).length === 0 || !Object.keys(operand).every((k) => k.startsWith('$'))) {
          bad('$not on a field takes operators, e.g. {"year": {"$not": {"$gt": 2020}}}');
        }
        parts.push({ kind: 'not', of: operators(path, operand as Record<string, unknown>, where) });
        break;
      default: {
        const bound = RANGE_OPS[op];
        if (bound === undefined) bad(`unknown operator "${op}"`, `use one of ${FIELD_OPS.join(' ')}`);
        let domain: 'number' | 'instant';
        let x: number;
        if (typeof operand === 'number' && Number.isFinite(operand)) {
          domain = 'number';
          x = operand;
        } else if (typeof operand === 'string' && parseInstant(operand) !== null) {
          domain = 'instant';
          x = parseInstant(operand) as number;
        } else {
          const hint = typeof operand === 'string' && /^-?\d+(\.\d+)?$/.test(operand) ? `to compare numbers write ${operand} without quotes` : 'strings are not ordered; dates are, e.g. "2024-01-01" or "2024-01-01T12:00:00Z"';
          return bad(`${op} takes a number or an ISO-8601 date, got ${quote(operand)}`, hint);
        }
        ranges[domain] = { ...(ranges[domain] ?? {}), [bound]: x };
      }
    }
  }
  for (const domain of ['number', 'instant'] as const) {
    const bounds = ranges[domain];
    if (bounds) parts.push({ kind: 'range', path, domain, bounds });
  }
  return and(parts);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A value as JSON, cut to a length that fits an error line. */
export function quote(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
}
