/**
 * Qdrant filters (QDRANT.md §6) → the filter AST (src/filter/ast.ts), which
 * the one evaluator and the planner answer as they answer vdb's own filters.
 *
 * Payload keys are paths into the chunk's metadata, with Qdrant's arrays
 * ('explicit' paths: `a[].b` walks an array, a leaf array's elements are its
 * values). Where Qdrant and vdb differ, the compiled nodes follow Qdrant:
 * `should: []` is NONE, a missing key fails match/range/except, values_count
 * and is_empty count what is there, `match.value` takes no float.
 */
import { InvalidFilter } from '../../domain/errors.js';
import { and, ALL, EACH, NONE } from '../../filter/ast.js';
import type { Bounds, Filter, Path, Scalar, Step } from '../../filter/ast.js';
import { METADATA } from '../../filter/fields.js';
import { parseInstant } from '../../filter/values.js';
import { analyze } from '../../text/tokenizer.js';
import { chunkIdsOf, parsePointId } from './ids.js';

export interface CompileContext {
  /** Whether the payload key has a full-text index (create_payload_index with "text"): match.text is then tokenised. */
  textIndexed(key: string): boolean;
  /** The collection's chunk ids, for has_id with vdb's hashed UUIDs (ids.ts). */
  chunkIds(): Iterable<string>;
}

const MAX_DEPTH = 64;
const CLAUSES = ['must', 'should', 'must_not', 'min_should'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A Qdrant filter as an AST; null/undefined is no filter (every point).
 * @throws InvalidFilter (400) naming the part that is wrong
 */
export function compileQdrantFilter(value: unknown, ctx: CompileContext): Filter {
  if (value === undefined || value === null) return ALL;
  return new Compiler(ctx).filter(value, 'filter', 0, false);
}

class Compiler {
  constructor(private readonly ctx: CompileContext) {}

  filter(v: unknown, where: string, depth: number, nested: boolean): Filter {
    if (!isObject(v)) fail(where, `must be an object with must, should, must_not or min_should, got ${show(v)}`);
    if (depth > MAX_DEPTH) fail(where, `is nested deeper than ${MAX_DEPTH} levels`);
    for (const k of Object.keys(v)) if (!CLAUSES.includes(k)) fail(where, `has unknown field "${k}" (a filter has ${CLAUSES.join(', ')})`);
    const parts: Filter[] = [];
    const list = (name: string): Filter[] | null => {
      const c = v[name];
      if (c === undefined || c === null) return null;
      const items = Array.isArray(c) ? c : [c];
      return items.map((x, i) => this.condition(x, `${where}.${name}${Array.isArray(c) ? `[${i}]` : ''}`, depth + 1, nested));
    };
    const must = list('must');
    if (must) parts.push(and(must));
    // QDRANT.md §6: `should: []` is any() over nothing, which matches no point.
    const should = list('should');
    if (should) parts.push(should.length === 0 ? NONE : should.length === 1 ? should[0] : { kind: 'or', of: should });
    const mustNot = list('must_not');
    if (mustNot && mustNot.length > 0) parts.push({ kind: 'not', of: mustNot.length === 1 ? mustNot[0] : { kind: 'or', of: mustNot } });
    if (v.min_should !== undefined && v.min_should !== null) {
      const m = v.min_should;
      const at = `${where}.min_should`;
      if (!isObject(m) || !Array.isArray(m.conditions)) fail(at, 'must be {"conditions": [...], "min_count": N}');
      const min = m.min_count;
      if (typeof min !== 'number' || !Number.isInteger(min) || min < 0) fail(at, `min_count must be an unsigned integer, got ${show(min)}`);
      const of = (m.conditions as unknown[]).map((c, i) => this.condition(c, `${at}.conditions[${i}]`, depth + 1, nested));
      parts.push({ kind: 'atLeast', min: min as number, of });
    }
    return and(parts);
  }

  condition(c: unknown, where: string, depth: number, nested: boolean): Filter {
    if (!isObject(c)) fail(where, `must be a condition object, got ${show(c)}`);
    if ('key' in c) return this.field(c, where);
    if ('is_empty' in c) return { kind: 'isEmpty', path: this.keyOf(c.is_empty, `${where}.is_empty`) };
    if ('is_null' in c) return { kind: 'isNull', path: this.keyOf(c.is_null, `${where}.is_null`) };
    if ('has_id' in c) {
      if (nested) fail(where, 'has_id is not allowed inside nested (it tests the point, not an array element)');
      return this.hasId(c.has_id, `${where}.has_id`);
    }
    if ('nested' in c) return this.nested(c.nested, `${where}.nested`, depth);
    if ('has_vector' in c) {
      // One unnamed vector per point: "" names it; vdb has no named vectors.
      if (c.has_vector === '') return ALL;
      fail(`${where}.has_vector`, `names no vector of this collection: ${show(c.has_vector)} (vdb collections have one unnamed vector, "")`);
    }
    if (CLAUSES.some((k) => k in c)) return this.filter(c, where, depth + 1, nested);
    return fail(where, `is not a condition: ${show(c)} (give key with match/range/values_count/is_empty/is_null, or is_empty, is_null, has_id, nested, must, should, must_not)`);
  }

  private keyOf(v: unknown, where: string): Path {
    if (!isObject(v) || typeof v.key !== 'string') fail(where, 'must be {"key": "<payload key>"}');
    return payloadPath((v as Json).key as string, where);
  }

  private hasId(v: unknown, where: string): Filter {
    if (!Array.isArray(v)) fail(where, `must be a list of point ids, got ${show(v)}`);
    const ids = (v as unknown[]).map((x, i) => {
      try {
        return parsePointId(x);
      } catch (err) {
        return fail(`${where}[${i}]`, (err as Error).message);
      }
    });
    const chunkIds = [...chunkIdsOf(ids, () => this.ctx.chunkIds()).values()];
    return { kind: 'in', path: { steps: ['id'], arrays: 'any', label: 'id' }, values: chunkIds };
  }

  private nested(v: unknown, where: string, depth: number): Filter {
    if (!isObject(v) || typeof v.key !== 'string' || !isObject(v.filter)) fail(where, 'must be {"key": "<array of objects>", "filter": {...}}');
    const n = v as { key: string; filter: Json };
    // `nested: {key: "a"}` is the array a (its elements are tested); `a[]` says the same.
    const path = payloadPath(n.key.endsWith('[]') ? n.key.slice(0, -2) : n.key, `${where}.key`);
    const inner = this.filter(n.filter, `${where}.filter`, depth + 1, true);
    // Paths inside start at the element, not at the metadata.
    return { kind: 'nested', path, filter: relative(inner) };
  }

  private field(c: Json, where: string): Filter {
    if (typeof c.key !== 'string') fail(`${where}.key`, `must be a string, got ${show(c.key)}`);
    const key = c.key as string;
    const path = payloadPath(key, `${where}.key`);
    const parts: Filter[] = [];
    const known = ['key', 'match', 'range', 'values_count', 'is_empty', 'is_null', 'geo_bounding_box', 'geo_radius', 'geo_polygon', 'datetime_range'];
    for (const k of Object.keys(c)) if (!known.includes(k)) fail(where, `has unknown field "${k}" (a field condition has key and one of match, range, values_count, is_empty, is_null)`);
    for (const geo of ['geo_bounding_box', 'geo_radius', 'geo_polygon']) {
      if (c[geo] !== undefined && c[geo] !== null) fail(`${where}.${geo}`, 'geo conditions are not supported by vdb');
    }
    if (c.match !== undefined && c.match !== null) parts.push(this.match(path, key, c.match, `${where}.match`));
    if (c.range !== undefined && c.range !== null) parts.push(range(path, c.range, `${where}.range`));
    if (c.datetime_range !== undefined && c.datetime_range !== null) parts.push(range(path, c.datetime_range, `${where}.datetime_range`));
    if (c.values_count !== undefined && c.values_count !== null) parts.push({ kind: 'count', path, bounds: bounds(c.values_count, `${where}.values_count`, 'count') });
    for (const flag of ['is_empty', 'is_null'] as const) {
      const x = c[flag];
      if (x === undefined || x === null) continue;
      if (typeof x !== 'boolean') fail(`${where}.${flag}`, `must be true or false, got ${show(x)}`);
      const leaf: Filter = { kind: flag === 'is_empty' ? 'isEmpty' : 'isNull', path };
      parts.push(x ? leaf : { kind: 'not', of: leaf });
    }
    if (parts.length === 0) fail(where, `needs a condition on "${key}": match, range, values_count, is_empty or is_null`);
    return and(parts);
  }

  private match(path: Path, key: string, m: unknown, where: string): Filter {
    if (!isObject(m)) fail(where, `must be an object such as {"value": "en"}, got ${show(m)}`);
    const given = Object.keys(m);
    if (given.length !== 1) fail(where, `must have exactly one of value, any, except, text, text_any, got ${show(m)}`);
    const [kind] = given;
    const x = m[kind];
    switch (kind) {
      case 'value':
        return { kind: 'eq', path, value: matchValue(x, `${where}.value`) };
      case 'any':
      case 'except': {
        const values = matchList(x, `${where}.${kind}`);
        return kind === 'any' ? { kind: 'in', path, values } : { kind: 'anyNotIn', path, values };
      }
      case 'text':
      case 'text_any': {
        if (typeof x !== 'string') fail(`${where}.${kind}`, `must be a string, got ${show(x)}`);
        const text = x as string;
        // QDRANT.md §6: a substring test, unless the key has a full-text index (then its tokens).
        if (this.ctx.textIndexed(key)) {
          const terms = [...new Set(analyze(text))];
          if (kind === 'text') return terms.length === 0 ? NONE : { kind: 'terms', path, terms };
          return terms.length === 0 ? NONE : { kind: 'or', of: terms.map((t) => ({ kind: 'terms', path, terms: [t] }) as Filter) };
        }
        if (kind === 'text') return { kind: 'substring', path, text };
        const words = text.split(/\s+/).filter((w) => w !== '');
        return words.length === 0 ? NONE : { kind: 'or', of: words.map((w) => ({ kind: 'substring', path, text: w }) as Filter) };
      }
      case 'phrase':
        return fail(`${where}.phrase`, 'phrase matching is not supported by vdb (use text)');
      default:
        return fail(where, `has unknown field "${kind}" (use value, any, except, text or text_any)`);
    }
  }
}

/** match.value: a string, an integer or a boolean (QDRANT.md §6: no floats). */
function matchValue(x: unknown, where: string): Scalar {
  if (typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number' && Number.isInteger(x)) return x;
  if (typeof x === 'bigint') return Number(x);
  return fail(where, `must be a string, an integer or a boolean, got ${show(x)}`);
}

/** match.any / match.except: all strings or all integers. */
function matchList(x: unknown, where: string): Scalar[] {
  if (!Array.isArray(x)) fail(where, `must be a list of strings or of integers, got ${show(x)}`);
  const list = (x as unknown[]).map((v) => (typeof v === 'bigint' ? Number(v) : v));
  const strings = list.every((v) => typeof v === 'string');
  const ints = list.every((v) => typeof v === 'number' && Number.isInteger(v));
  if (!strings && !ints) fail(where, `must be a list of strings or of integers, got ${show(x)}`);
  return list as Scalar[];
}

function range(path: Path, r: unknown, where: string): Filter {
  if (!isObject(r)) fail(where, `must be an object with gt, gte, lt or lte, got ${show(r)}`);
  const values = Object.values(r).filter((v) => v !== null && v !== undefined);
  // RFC 3339 strings make it a datetime range (QDRANT.md §6 Range).
  const domain = values.some((v) => typeof v === 'string') ? 'instant' : 'number';
  return { kind: 'range', path, domain, bounds: bounds(r, where, domain) };
}

function bounds(r: unknown, where: string, domain: 'number' | 'instant' | 'count'): Bounds {
  if (!isObject(r)) fail(where, `must be an object with gt, gte, lt or lte, got ${show(r)}`);
  const out: Bounds = {};
  for (const [k, v] of Object.entries(r)) {
    if (!['gt', 'gte', 'lt', 'lte'].includes(k)) fail(where, `has unknown field "${k}" (use gt, gte, lt, lte)`);
    if (v === null || v === undefined) continue;
    let n: number | null;
    if (domain === 'instant') n = typeof v === 'string' ? parseInstant(v) : null;
    else n = typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'bigint' ? Number(v) : null;
    if (n === null || (domain === 'count' && (!Number.isInteger(n) || n < 0))) {
      const want = domain === 'instant' ? 'an RFC 3339 date-time such as "2024-01-01T00:00:00Z"' : domain === 'count' ? 'an unsigned integer' : 'a number';
      fail(`${where}.${k}`, `must be ${want}, got ${show(v)}`);
    }
    out[k as keyof Bounds] = n as number;
  }
  return out;
}

/**
 * A payload key (`a.b`, `a[].b`, `"a.b".c`) as a path into the metadata.
 * @throws InvalidFilter for `a[0]` (not supported) and malformed keys
 */
export function payloadPath(key: string, where: string): Path {
  const steps: Step[] = [METADATA];
  let i = 0;
  if (key === '') fail(where, 'is an empty key');
  while (i < key.length) {
    let name: string;
    if (key[i] === '"') {
      const end = key.indexOf('"', i + 1);
      if (end < 0) fail(where, `has an unterminated quote: ${show(key)}`);
      name = key.slice(i + 1, end);
      i = end + 1;
    } else {
      let j = i;
      while (j < key.length && key[j] !== '.' && key[j] !== '[') j++;
      name = key.slice(i, j);
      i = j;
    }
    if (name === '') fail(where, `has an empty part: ${show(key)}`);
    steps.push(name);
    while (key[i] === '[') {
      if (key.startsWith('[]', i)) {
        steps.push(EACH);
        i += 2;
      } else fail(where, `${show(key)}: array indexes such as [0] are not supported by vdb (use [] for every element)`);
    }
    if (i < key.length) {
      if (key[i] !== '.') fail(where, `is not a payload key: ${show(key)}`);
      i++;
      if (i === key.length) fail(where, `ends with a dot: ${show(key)}`);
    }
  }
  return { steps, arrays: 'explicit', label: key };
}

/** `f` with every path's leading metadata step dropped: paths inside a nested filter start at the array element. */
function relative(f: Filter): Filter {
  switch (f.kind) {
    case 'all':
    case 'none':
      return f;
    case 'and':
    case 'or':
      return { ...f, of: f.of.map(relative) };
    case 'atLeast':
      return { ...f, of: f.of.map(relative) };
    case 'not':
      return { kind: 'not', of: relative(f.of) };
    case 'nested':
      return { ...f, path: strip(f.path), filter: f.filter };
    default:
      return { ...f, path: strip(f.path) } as Filter;
  }
}

function strip(p: Path): Path {
  return p.steps[0] === METADATA ? { ...p, steps: p.steps.slice(1) } : p;
}

function fail(where: string, what: string): never {
  throw new InvalidFilter(`${where} ${what}`);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 100 ? `${s.slice(0, 99)}…` : s;
}
