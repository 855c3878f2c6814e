/**
 * Qdrant filters through the Qdrant routes (scroll and count), against a
 * small reference evaluator written from QDRANT.md §6 on the payload JSON;
 * bad filters are 400s in Qdrant's error shape. Also the id mapping and the
 * exact 64-bit JSON reader.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import { chunkIdOf, comparePointIds, parsePointId, pointIdOf } from '../../src/server/qdrant/ids.js';
import { parseJson, stringifyJson } from '../../src/server/qdrant/json.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';

type J = unknown;
type Obj = Record<string, J>;
const isObj = (v: J): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- the reference: QDRANT.md §6, read literally ---------------------------

/** Values at a key: objects walked by name, an intermediate array only through `[]`, a leaf array's elements. */
function endValues(payload: J, key: string): J[] {
  const parts = key.split('.');
  let at: J[] = [payload];
  for (const part of parts) {
    const each = part.endsWith('[]');
    const name = each ? part.slice(0, -2) : part;
    const next: J[] = [];
    for (const v of at) if (isObj(v) && name in v) next.push(v[name]);
    at = each ? next.flatMap((v) => (Array.isArray(v) ? v : [])) : next;
  }
  return at;
}
const valuesAt = (payload: J, key: string): J[] => endValues(payload, key).flatMap((v) => (Array.isArray(v) ? v : [v]));
const within = (x: number, r: Obj) => (r.gt === undefined || x > (r.gt as number)) && (r.gte === undefined || x >= (r.gte as number)) && (r.lt === undefined || x < (r.lt as number)) && (r.lte === undefined || x <= (r.lte as number));
const strictEq = (a: J, b: J) => a === b;

function cond(c: Obj, p: { id: J; payload: Obj }): boolean {
  if ('key' in c) {
    const key = c.key as string;
    const vals = valuesAt(p.payload, key);
    const checks: boolean[] = [];
    if (c.match) {
      const m = c.match as Obj;
      if ('value' in m) checks.push(vals.some((v) => strictEq(v, m.value)));
      if ('any' in m) checks.push(vals.some((v) => (m.any as J[]).includes(v)));
      if ('except' in m) checks.push(vals.some((v) => !(m.except as J[]).includes(v)));
      if ('text' in m) checks.push(vals.some((v) => typeof v === 'string' && v.includes(m.text as string)));
    }
    if (c.range) {
      const r = c.range as Obj;
      const dates = Object.values(r).some((x) => typeof x === 'string');
      const bounds = dates ? Object.fromEntries(Object.entries(r).map(([k, x]) => [k, Date.parse(x as string)])) : r;
      checks.push(vals.some((v) => (dates ? typeof v === 'string' && !Number.isNaN(Date.parse(v)) && within(Date.parse(v), bounds) : typeof v === 'number' && within(v, bounds))));
    }
    if (c.values_count) checks.push(within(vals.length, c.values_count as Obj));
    if (c.is_empty !== undefined) checks.push(isEmpty(p.payload, key) === c.is_empty);
    if (c.is_null !== undefined) checks.push(isNull(p.payload, key) === c.is_null);
    return checks.every(Boolean);
  }
  if ('is_empty' in c) return isEmpty(p.payload, (c.is_empty as Obj).key as string);
  if ('is_null' in c) return isNull(p.payload, (c.is_null as Obj).key as string);
  if ('has_id' in c) return (c.has_id as J[]).map((x) => (typeof x === 'string' ? x.toLowerCase() : x)).includes(p.id);
  if ('nested' in c) {
    const n = c.nested as Obj;
    const elements = endValues(p.payload, n.key as string).flatMap((v) => (Array.isArray(v) ? v.filter(isObj) : []));
    return elements.some((e) => filterMatches(n.filter as Obj, { id: p.id, payload: e }));
  }
  return filterMatches(c, p);
}
const isEmpty = (payload: J, key: string) => endValues(payload, key).every((v) => v === null || (Array.isArray(v) && v.length === 0));
const isNull = (payload: J, key: string) => endValues(payload, key).some((v) => v === null);

function filterMatches(f: Obj, p: { id: J; payload: Obj }): boolean {
  const list = (x: J): Obj[] => (x === undefined ? [] : Array.isArray(x) ? (x as Obj[]) : [x as Obj]);
  if (!list(f.must).every((c) => cond(c, p))) return false;
  if (f.should !== undefined && !list(f.should).some((c) => cond(c, p))) return false;
  if (list(f.must_not).some((c) => cond(c, p))) return false;
  if (f.min_should) {
    const m = f.min_should as Obj;
    if ((m.conditions as Obj[]).filter((c) => cond(c, p)).length < (m.min_count as number)) return false;
  }
  return true;
}

// ---- data ------------------------------------------------------------------

const PAYLOADS: Obj[] = [
  { city: 'Berlin', n: 1, tags: ['a', 'b'], flag: true, date: '2024-01-01T00:00:00Z', text: 'the quick brown fox', arr: [{ x: 1, y: 'a' }, { x: 2, y: 'b' }] },
  { city: 'London', n: 2, f: 1.5, tags: ['b'], flag: false, nul: null, date: '2024-06-01T12:00:00Z', text: 'lazy dogs sleep', arr: [{ x: 3, y: 'a' }] },
  { city: ['Berlin', 'Paris'], n: 3, tags: [], empty: [], obj: { k: 'v', list: [1, 2] }, text: 'Quick foxes jump' },
  { city: 'Moscow', n: '4', tags: ['c', 'a', 'd'], nul: [null], obj: { k: 'w' }, date: '2023-12-31T23:59:59Z', arr: [{ x: 2, y: 'c' }, { x: 1, y: 'b' }] },
  { n: 5.5, flag: 1, obj: [{ k: 'v' }], text: 'brown bread' },
  { city: 'berlin', n: 10, tags: ['a'], nul: null, empty: [], date: '2025-03-01', arr: [] },
  {},
  { city: null, n: -1, tags: ['b', 'b'], flag: true, obj: { list: [] } },
];
const IDS: J[] = [1, 2, 3, 10, 42, '550e8400-e29b-41d4-a716-446655440000', '00000000-0000-0000-0000-000000000001', 7];

const CASES: Obj[] = [
  {},
  { must: [{ key: 'city', match: { value: 'Berlin' } }] },
  { must: { key: 'city', match: { value: 'berlin' } } },
  { must: [{ key: 'n', match: { value: 4 } }] },
  { must: [{ key: 'n', match: { value: 1 } }] },
  { must: [{ key: 'flag', match: { value: true } }] },
  { must: [{ key: 'flag', match: { value: 1 } }] },
  { must: [{ key: 'tags', match: { any: ['c', 'x'] } }] },
  { must: [{ key: 'tags', match: { except: ['a', 'b'] } }] },
  { must: [{ key: 'city', match: { except: ['Berlin'] } }] },
  { must: [{ key: 'city', match: { any: [] } }] },
  { must: [{ key: 'n', match: { any: [1, 2, 10] } }] },
  { must: [{ key: 'text', match: { text: 'quick' } }] },
  { must: [{ key: 'n', range: { gte: 2, lt: 10 } }] },
  { must: [{ key: 'n', range: { gt: 5 } }] },
  { must: [{ key: 'f', range: { lte: 1.5 } }] },
  { must: [{ key: 'date', range: { gte: '2024-01-01T00:00:00Z', lt: '2025-01-01T00:00:00Z' } }] },
  { must: [{ key: 'obj.k', match: { value: 'v' } }] },
  { must: [{ key: 'obj.list', match: { value: 2 } }] },
  { must: [{ key: 'arr[].y', match: { value: 'b' } }] },
  { must: [{ key: 'arr.y', match: { value: 'b' } }] },
  { must: [{ key: 'obj[].k', match: { value: 'v' } }] },
  { should: [] },
  { must: [], must_not: [] },
  { should: [{ key: 'city', match: { value: 'London' } }, { key: 'n', range: { gt: 4 } }] },
  { must_not: [{ key: 'city', match: { value: 'Berlin' } }] },
  { must_not: [{ key: 'tags', match: { value: 'b' } }, { key: 'flag', match: { value: true } }] },
  { min_should: { conditions: [{ key: 'tags', match: { value: 'a' } }, { key: 'flag', match: { value: true } }, { key: 'n', range: { lt: 3 } }], min_count: 2 } },
  { must: [{ is_empty: { key: 'tags' } }] },
  { must: [{ is_empty: { key: 'empty' } }] },
  { must: [{ is_empty: { key: 'nul' } }] },
  { must: [{ is_null: { key: 'nul' } }] },
  { must: [{ is_null: { key: 'city' } }] },
  { must: [{ key: 'nul', is_null: true }] },
  { must: [{ key: 'tags', is_empty: false }] },
  { must: [{ has_id: [1, 42, '550E8400-E29B-41D4-A716-446655440000', 99] }] },
  { must_not: [{ has_id: [1, 2, 3] }] },
  { must: [{ nested: { key: 'arr', filter: { must: [{ key: 'x', match: { value: 1 } }, { key: 'y', match: { value: 'b' } }] } } }] },
  { must: [{ nested: { key: 'arr', filter: { must: [{ key: 'x', range: { gte: 2 } }] } } }] },
  { must: [{ key: 'tags', values_count: { gte: 2 } }] },
  { must: [{ key: 'tags', values_count: { lt: 1 } }] },
  { must: [{ must: [{ key: 'flag', match: { value: true } }] }, { should: [{ key: 'n', match: { value: 1 } }, { key: 'n', match: { value: -1 } }] }] },
  { must_not: [{ must_not: [{ key: 'city', match: { value: 'Berlin' } }] }] },
  { must: [{ key: 'missing', match: { except: ['x'] } }] },
  { must: [{ key: 'missing', is_empty: true }] },
];

describe('Qdrant filters', () => {
  const { dir, cleanup } = tempDir();
  let app: FastifyInstance;
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) => {
    const res = await app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };

  beforeAll(async () => {
    app = await buildApp({ service: new VdbService({ path: join(dir, 'vdb.json'), seed: 'qf' }) });
    expect((await call('PUT', '/collections/f', { vectors: { size: 2, distance: 'Dot' } })).status).toBe(200);
    const points = PAYLOADS.map((payload, i) => ({ id: IDS[i], vector: [i, 1], payload }));
    expect((await call('PUT', '/collections/f/points?wait=true', { points })).status).toBe(200);
  });
  afterAll(async () => {
    await app.close();
    cleanup();
  });

  it.each(CASES.map((f) => [JSON.stringify(f), f]))('%s', async (_label, filter) => {
    const expected = PAYLOADS.map((payload, i) => ({ id: IDS[i], payload }))
      .filter((p) => filterMatches(filter as Obj, { id: typeof p.id === 'string' ? p.id.toLowerCase() : p.id, payload: p.payload }))
      .map((p) => p.id);
    // The reference reads has_id literally: give it the ids as the server prints them.
    const scrolled = await call('POST', '/collections/f/points/scroll', { filter, limit: 100, with_payload: false });
    expect(scrolled.status).toBe(200);
    const got = scrolled.body.result.points.map((p: { id: J }) => p.id);
    expect(new Set(got)).toEqual(new Set(expected.map((id) => (typeof id === 'string' ? id.toLowerCase() : id))));
    const counted = await call('POST', '/collections/f/points/count', { filter, exact: true });
    expect(counted.body.result.count).toBe(expected.length);
  });

  it('a text index makes match.text match all tokens, not a substring', async () => {
    const filter = { must: [{ key: 'text', match: { text: 'quick jumping' } }] };
    const before = await call('POST', '/collections/f/points/count', { filter });
    expect(before.body.result.count).toBe(0);
    expect((await call('PUT', '/collections/f/index', { field_name: 'text', field_schema: 'text' })).status).toBe(200);
    const info = await call('GET', '/collections/f');
    expect(info.body.result.payload_schema.text).toEqual({ data_type: 'text', points: 4 });
    const after = await call('POST', '/collections/f/points/scroll', { filter, with_payload: false });
    // "Quick foxes jump": every token, lower-cased and stemmed, in any order.
    expect(after.body.result.points.map((p: { id: J }) => p.id)).toEqual([3]);
    const both = await call('POST', '/collections/f/points/count', { filter: { must: [{ key: 'text', match: { text: 'QUICK' } }] } });
    expect(both.body.result.count).toBe(2);
    await app.inject({ method: 'DELETE', url: '/collections/f/index/text' });
    expect((await call('POST', '/collections/f/points/count', { filter })).body.result.count).toBe(0);
  });

  it.each([
    [{ must: [{ key: 'n', match: { value: 1.5 } }] }, 'must be a string, an integer or a boolean'],
    [{ must: [{ key: 'n', range: { gt: 'soon' } }] }, 'RFC 3339'],
    [{ must: [{ key: 'n', match: { any: ['a', 1] } }] }, 'a list of strings or of integers'],
    [{ must: [{ key: 'a[0]', match: { value: 1 } }] }, 'array indexes'],
    [{ must: [{ key: 'n' }] }, 'needs a condition'],
    [{ musts: [] }, 'unknown field "musts"'],
    [{ must: [{ nested: { key: 'arr', filter: { must: [{ has_id: [1] }] } } }] }, 'has_id is not allowed inside nested'],
    [{ must: [{ has_id: ['x'] }] }, 'not a valid point ID'],
    [{ must: [{ key: 'geo', geo_radius: { center: { lon: 0, lat: 0 }, radius: 1 } }] }, 'geo conditions are not supported'],
    [{ min_should: { conditions: [], min_count: -1 } }, 'min_count'],
    ['yes', 'must be an object'],
  ])('refuses %j with a 400', async (filter, message) => {
    const res = await call('POST', '/collections/f/points/count', { filter });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: { error: expect.stringContaining(message) }, time: expect.any(Number) });
  });
});

describe('point ids', () => {
  it('parses u64 and every UUID form, and refuses the rest', () => {
    expect(parsePointId(42)).toBe(42n);
    expect(parsePointId(18446744073709551615n)).toBe(18446744073709551615n);
    const uuid = '550e8400-e29b-41d4-a716-446655440000';
    for (const form of [uuid, uuid.toUpperCase(), uuid.replace(/-/g, ''), `{${uuid}}`, `urn:uuid:${uuid}`]) expect(parsePointId(form)).toBe(uuid);
    for (const bad of [-1, 1.5, '42', 'abc', 18446744073709551616n, null, true, [1]]) expect(() => parsePointId(bad)).toThrow(/not a valid point ID/);
  });

  it('maps chunk ids to point ids and back', () => {
    expect(pointIdOf('42')).toBe(42n);
    expect(chunkIdOf(42n)).toBe('42');
    const uuid = '550e8400-e29b-41d4-a716-446655440000';
    expect(pointIdOf(uuid)).toBe(uuid);
    const generated = pointIdOf('chk_1beb2412d6ad18a0');
    expect(generated).toBe('7664625f-6368-6b5f-1beb-2412d6ad18a0');
    expect(chunkIdOf(generated)).toBe('chk_1beb2412d6ad18a0');
    // Other strings hash into the reserved range and are found again among the library's ids.
    for (const own of ['intro#3', '042', 'CHK_X', uuid.toUpperCase(), '7664625f-6368-6b5f-1beb-2412d6ad18a0']) {
      const p = pointIdOf(own) as string;
      expect(p).toMatch(/^7664625f-6964-/);
      expect(chunkIdOf(p, () => ['a', own, 'b'])).toBe(own);
      expect(chunkIdOf(p, () => ['a'])).toBeUndefined();
    }
  });

  it("orders integers ascending, then UUIDs (Qdrant's order)", () => {
    const ids = ['ffffffff-0000-0000-0000-000000000000', 10n, '00000000-0000-0000-0000-000000000001', 2n, 18446744073709551615n];
    expect([...ids].sort(comparePointIds)).toEqual([2n, 10n, 18446744073709551615n, '00000000-0000-0000-0000-000000000001', 'ffffffff-0000-0000-0000-000000000000']);
  });

  it('reads and writes integers beyond 2^53 exactly, and nothing else changes', () => {
    const text = '{"id":18446744073709551615,"s":"12345678901234567890","f":1.2345678901234567,"e":1e300,"n":-9007199254740993,"a":[9007199254740993]}';
    const v = parseJson(text) as Obj;
    expect(v.id).toBe(18446744073709551615n);
    expect(v.s).toBe('12345678901234567890');
    expect(v.f).toBe(1.2345678901234567);
    expect(v.e).toBe(1e300);
    expect(v.n).toBe(-9007199254740993n);
    expect(stringifyJson({ id: 18446744073709551615n, small: 5n, x: 'a' })).toBe('{"id":18446744073709551615,"small":5,"x":"a"}');
  });
});
