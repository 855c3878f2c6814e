/**
 * JSON with exact unsigned 64-bit integers, for the Qdrant routes: point ids
 * above 2^53 (QDRANT.md §1) must not be rounded on the way in or out.
 *
 * Reading: integer literals that a JS number cannot hold exactly become
 * bigints. Only point ids keep them (ids.ts); everywhere else `toNumbers`
 * turns them back into numbers, as JSON.parse would have read them.
 * Writing: bigints are written as plain integer literals.
 */

/** Integer literals of more than 15 digits, outside strings (the JSON text is scanned once). */
const TOKEN = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![.eE\d])/g;
const MARK = '\u0000u64:';
/** A long integer anywhere, strings included: a cheap test before the scan. */
const LONG_INTEGER = /(?<![\d.eE+])\d{16}/;

/** JSON.parse, with integers beyond Number.MAX_SAFE_INTEGER read as bigints. */
export function parseJson(text: string): unknown {
  // As fastify's own parser: a "__proto__" key is refused (it would be a trap for any later object spread or merge).
  if (text.includes('"__proto__"')) JSON.parse(text, refuseProto);
  // Most bodies have no long integer at all (a float's digits follow its point): plain JSON.parse.
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
  let marked = false;
  const source = text.replace(TOKEN, (t) => {
    if (t[0] === '"') return t;
    if (Number.isSafeInteger(Number(t))) return t;
    marked = true;
    return JSON.stringify(MARK + t);
  });
  if (!marked) return JSON.parse(source);
  return JSON.parse(source, (_key, v) => (typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v));
}

function refuseProto(key: string, v: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('"__proto__" is not allowed as a key');
  return v;
}

/** `v` with every bigint made a number (payloads and vectors: what plain JSON.parse gives). */
export function toNumbers<T>(v: T): T {
  if (typeof v === 'bigint') return Number(v) as T;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toNumbers) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toNumbers(x);
  return out as T;
}

/** JSON.stringify, with bigints written as integer literals. */
export function stringifyJson(v: unknown): string {
  let marked = false;
  const text = JSON.stringify(v, (_key, x) => {
    if (typeof x !== 'bigint') return x;
    if (x <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(x);
    marked = true;
    return MARK + x.toString();
  });
  return marked ? text.replace(/"\\u0000u64:(\d+)"/g, '$1') : text;
}
