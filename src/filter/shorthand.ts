/**
 * `--where` shorthand → AST. One expression per flag; repeated flags are ANDed.
 *
 *   tag=foo                  the chunk has the tag foo (tag and tags are the same field)
 *   lang=en   lang!=en       equality, its negation (which also matches chunks without lang)
 *   lang=en,de  lang!=en,de  any of the values, none of them
 *   year>=2020  year<2000    ranges: > >= < <= on numbers and ISO-8601 dates
 *   title~vector             $contains: substring of a string, element of an array
 *   has:author  !has:author  the key is present / absent
 *   created_after=2024-01-01   created_before=…   updated_after=…   updated_before=…
 *
 * Values: `2020`, `-1.5`, `true`, `false` and `null` are JSON literals; a
 * value in double quotes is a JSON string (`zip="02134"`, `title="a, b"`);
 * anything else is a string. Fields are those of fields.ts.
 */
import { InvalidFilter } from '../domain/errors.js';
import type { Filter, Scalar } from './ast.js';
import { fieldPath } from './fields.js';
import { parseInstant } from './values.js';

const DATE_FIELDS: Record<string, [string, 'gt' | 'lt']> = {
  created_after: ['created_at', 'gt'],
  created_before: ['created_at', 'lt'],
  updated_after: ['updated_at', 'gt'],
  updated_before: ['updated_at', 'lt'],
};
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const HINT = 'forms: tag=foo, lang!=en, year>=2020, lang=en,de, title~word, has:author, created_after=2024-01-01';

/**
 * One shorthand expression → AST.
 * @param where names the expression in messages, e.g. `--where "year>=2020"`
 * @throws InvalidFilter when it does not parse
 */
export function parseWhere(expr: string, where: string): Filter {
  const bad = (what: string, hint = HINT): never => {
    throw new InvalidFilter(`${where}: ${what}`, { hint });
  };
  const s = expr.trim();
  if (s === '') bad('is empty');
  const has = /^(!?)has:(.*)$/s.exec(s);
  if (has) {
    const name = has[2].trim();
    if (name === '') bad('has: needs a field, e.g. has:author');
    const exists: Filter = { kind: 'exists', path: fieldPath(name, where) };
    return has[1] ? { kind: 'not', of: exists } : exists;
  }
  const at = operatorAt(s);
  if (at < 0) bad('has no operator');
  const name = s.slice(0, at).trim();
  const op = /^(!=|>=|<=|=|>|<|~)/.exec(s.slice(at))?.[1];
  if (op === undefined) return bad(`"${s[at]}" is not an operator (use = != > >= < <= ~)`);
  const rest = s.slice(at + op.length).trim();
  if (name === '') bad(`has no field before "${op}"`);
  if (rest.startsWith('=') || rest.startsWith('>') || rest.startsWith('<')) bad(`"${op}${rest[0]}" is not an operator (use = != > >= < <= ~)`);
  if (rest === '') bad(`has no value after "${op}"`, 'to match an empty string write FIELD=""');
  const values = splitValues(rest, bad);
  const date = DATE_FIELDS[name];
  if (date) {
    if (op !== '=') bad(`${name} takes "=", e.g. ${name}=2024-01-01`);
    if (values.length !== 1 || typeof values[0] !== 'string' || parseInstant(values[0]) === null) {
      bad(`${name} takes one ISO-8601 date or time, e.g. ${name}=2024-01-01 or ${name}=2024-01-01T12:00:00Z`);
    }
    const [fieldName, bound] = date;
    return { kind: 'range', path: fieldPath(fieldName, where), domain: 'instant', bounds: { [bound]: parseInstant(values[0] as string) as number } };
  }
  const path = fieldPath(name, where);
  if (op === '=' || op === '!=') {
    const positive: Filter = values.length === 1 ? { kind: 'eq', path, value: values[0] } : { kind: 'in', path, values };
    return op === '=' ? positive : { kind: 'not', of: positive };
  }
  if (values.length !== 1) bad(`"${op}" takes one value; lists go with = and !=`);
  const v = values[0];
  if (op === '~') return { kind: 'contains', path, value: v };
  const bound = ({ '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' } as const)[op as '>' | '>=' | '<' | '<='];
  if (typeof v === 'number') return { kind: 'range', path, domain: 'number', bounds: { [bound]: v } };
  const instant = typeof v === 'string' ? parseInstant(v) : null;
  if (instant === null) {
    bad(`"${op}" takes a number or an ISO-8601 date, got ${JSON.stringify(v)}`, 'strings are not ordered; dates are, e.g. 2024-01-01 or 2024-01-01T12:00:00Z');
  }
  return { kind: 'range', path, domain: 'instant', bounds: { [bound]: instant as number } };
}

/** Index of the first operator character outside double quotes, or -1. */
function operatorAt(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '=' || c === '!' || c === '<' || c === '>' || c === '~') return i;
  }
  return -1;
}

/** Comma-separated values, each a JSON string in quotes or a bare word (typed as documented above). */
function splitValues(rest: string, bad: (what: string, hint?: string) => never): Scalar[] {
  const out: Scalar[] = [];
  let i = 0;
  while (i <= rest.length) {
    while (rest[i] === ' ') i++;
    if (rest[i] === '"') {
      let j = i + 1;
      while (j < rest.length && rest[j] !== '"') j += rest[j] === '\\' ? 2 : 1;
      if (j >= rest.length) bad(`has an unterminated quote in ${rest}`);
      try {
        out.push(JSON.parse(rest.slice(i, j + 1)) as string);
      } catch {
        bad(`has a badly quoted value ${rest.slice(i, j + 1)}`);
      }
      i = j + 1;
      while (rest[i] === ' ') i++;
      if (i < rest.length && rest[i] !== ',') bad(`has text after the quoted value ${rest.slice(0, i)}`);
    } else {
      let j = rest.indexOf(',', i);
      if (j < 0) j = rest.length;
      const word = rest.slice(i, j).trim();
      if (word === '') bad(`has an empty value in the list ${rest}`, 'to match an empty string write ""');
      if (word.includes('"')) bad(`has a quote inside the value ${word}`, 'quote the whole value: FIELD="..."');
      out.push(bare(word));
      i = j;
    }
    if (i >= rest.length) break;
    i++; // the comma
    if (i >= rest.length) bad(`ends with a comma: ${rest}`);
  }
  return out;
}

function bare(word: string): Scalar {
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'null') return null;
  if (NUMBER.test(word)) {
    const n = Number(word);
    if (Number.isFinite(n)) return n;
  }
  return word;
}
