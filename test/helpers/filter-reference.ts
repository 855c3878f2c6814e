/**
 * A plain reference evaluator: the filter semantics of src/filter/ast.ts
 * applied by walking each subject's JSON, with no columns. Tests compare the
 * column evaluator with it.
 */
import type { Bounds, Filter, Path, Scalar } from '../../src/filter/ast.js';
import { EACH } from '../../src/filter/ast.js';
import { parseInstant } from '../../src/filter/values.js';
import { analyze } from '../../src/text/tokenizer.js';

type Json = unknown;

const isObj = (v: Json): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v: Json): v is Scalar => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** The scalars at the path, each with whether its container is an array. */
function valuesAt(root: Json, p: Path): { v: Scalar; inArray: boolean }[] {
  const out: { v: Scalar; inArray: boolean }[] = [];
  const go = (v: Json, i: number, inArray: boolean): void => {
    if (i === p.steps.length) {
      if (isScalar(v)) out.push({ v, inArray });
      else if (Array.isArray(v)) {
        // 'any': arrays at any depth; 'explicit': one level (the leaf array).
        for (const e of v) {
          if (isScalar(e)) out.push({ v: e, inArray: true });
          else if (p.arrays === 'any' && Array.isArray(e)) go(e, i, true);
        }
      }
      return;
    }
    const step = p.steps[i];
    if (Array.isArray(v)) {
      if (step === EACH) for (const e of v) go(e, i + 1, true);
      else if (p.arrays === 'any') for (const e of v) go(e, i, true);
    } else if (step !== EACH && isObj(v) && step in v) go(v[step], i + 1, false);
  };
  go(root, 0, false);
  return out;
}

/** The raw values right after the path's last step. */
function endValues(root: Json, p: Path): Json[] {
  const out: Json[] = [];
  const go = (v: Json, i: number): void => {
    if (i === p.steps.length) {
      out.push(v);
      return;
    }
    const step = p.steps[i];
    if (Array.isArray(v)) {
      if (step === EACH) for (const e of v) go(e, i + 1);
      else if (p.arrays === 'any') for (const e of v) go(e, i);
    } else if (step !== EACH && isObj(v) && step in v) go(v[step], i + 1);
  };
  go(root, 0);
  return out;
}

function eq(a: Scalar, b: Scalar): boolean {
  if (a === b) return true;
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const x = parseInstant(a);
  return x !== null && x === parseInstant(b);
}

function within(x: number, b: Bounds): boolean {
  return (b.gt === undefined || x > b.gt) && (b.gte === undefined || x >= b.gte) && (b.lt === undefined || x < b.lt) && (b.lte === undefined || x <= b.lte);
}

export function matches(f: Filter, s: Json): boolean {
  switch (f.kind) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'and':
      return f.of.every((c) => matches(c, s));
    case 'or':
      return f.of.some((c) => matches(c, s));
    case 'not':
      return !matches(f.of, s);
    case 'atLeast':
      return f.of.filter((c) => matches(c, s)).length >= f.min;
    case 'eq':
      return valuesAt(s, f.path).some(({ v }) => eq(f.value, v));
    case 'in':
      return valuesAt(s, f.path).some(({ v }) => f.values.some((x) => eq(x, v)));
    case 'anyNotIn':
      return valuesAt(s, f.path).some(({ v }) => !f.values.some((x) => eq(x, v)));
    case 'range':
      return valuesAt(s, f.path).some(({ v }) => {
        if (f.domain === 'number') return typeof v === 'number' && within(v, f.bounds);
        const t = typeof v === 'string' ? parseInstant(v) : null;
        return t !== null && within(t, f.bounds);
      });
    case 'exists':
      return endValues(s, f.path).length > 0;
    case 'contains':
      return valuesAt(s, f.path).some(({ v, inArray }) => (inArray ? eq(f.value, v) : typeof v === 'string' && typeof f.value === 'string' && v.includes(f.value)));
    case 'substring':
      return valuesAt(s, f.path).some(({ v }) => typeof v === 'string' && v.includes(f.text));
    case 'terms':
      return valuesAt(s, f.path).some(({ v }) => typeof v === 'string' && f.terms.every((t) => analyze(v).includes(t)));
    case 'isNull':
      return endValues(s, f.path).some((v) => v === null);
    case 'isEmpty':
      return endValues(s, f.path).every((v) => v === null || (Array.isArray(v) && v.length === 0));
    case 'count':
      return within(valuesAt(s, f.path).length, f.bounds);
    case 'nested': {
      const elements: Json[] = [];
      const collect = (v: Json): void => {
        if (Array.isArray(v)) for (const e of v) isObj(e) ? elements.push(e) : f.path.arrays === 'any' && Array.isArray(e) && collect(e);
        else if (isObj(v)) elements.push(v);
      };
      for (const v of endValues(s, f.path)) collect(v);
      return elements.some((e) => matches(f.filter, e));
    }
  }
}
