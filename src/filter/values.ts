/**
 * How filter operands and stored values compare: strict types, with ISO-8601
 * strings also compared as instants. The columns (columns.ts) and the test's
 * reference evaluator both follow these rules.
 */
import type { Bounds, Scalar } from './ast.js';

/**
 * ISO-8601 / RFC 3339 date or date-time: `2024-01-01`, `2024-01-01T10:30`,
 * `2024-01-01T10:30:00.123456Z`, `2024-01-01 10:30:00+02:00`. A time without
 * an offset is taken as UTC (never the machine's zone, so answers do not
 * depend on where vdb runs).
 */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The instant a string names, in milliseconds since 1970-01-01T00:00:00Z
 * (fractions below a millisecond kept), or null when it is not a valid
 * ISO-8601 date or date-time (month 13, February 30, hour 25 ... are not).
 */
export function parseInstant(s: string): number | null {
  if (s.length < 10 || s.length > 40 || s.charCodeAt(4) !== 45) return null;
  const m = INSTANT.exec(s);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]) return null;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return null;
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(-2));
    if (oh > 23 || om > 59) return null;
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = m[7] === undefined ? 0 : Number(`0${m[7]}`) * 1000;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: years 0-99 stay as written.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offset, second, 0);
  return date.getTime() + fraction;
}

/** The JSON type of a scalar, as messages name it. */
export type Kind = 'string' | 'number' | 'boolean' | 'null';

export function kindOf(v: Scalar): Kind {
  return v === null ? 'null' : (typeof v as Kind);
}

/**
 * Filter equality: same type and equal, or two strings that name the same
 * instant ("2024-01-01" equals "2024-01-01T00:00:00Z").
 */
export function scalarEquals(operand: Scalar, value: Scalar): boolean {
  if (operand === value) return true;
  if (typeof operand !== 'string' || typeof value !== 'string') return false;
  const a = parseInstant(operand);
  return a !== null && a === parseInstant(value);
}

export function inBounds(x: number, b: Bounds): boolean {
  return (b.gt === undefined || x > b.gt) && (b.gte === undefined || x >= b.gte) && (b.lt === undefined || x < b.lt) && (b.lte === undefined || x <= b.lte);
}

/** Whether JSON.parse could have produced `v` as a scalar (finite numbers only). */
export function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}
