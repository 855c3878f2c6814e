/**
 * Filters over REST: query bodies, the list/count/delete-by-filter routes,
 * 400 for a bad filter (never a 500), and one filtered query through the
 * real server on a loopback port.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

const HEADERS = { 'content-type': 'application/json' };
const chunk = (i: number) => ({ embedding: [i % 5, (i * 7) % 11, 1], metadata: { cat: ['a', 'b', 'c'][i % 3], n: i, ...(i % 4 === 0 ? { author: { name: 'Ada' } } : {}) }, tags: i % 2 ? ['odd'] : [] });

describe('filters over REST', () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'vdb.json');
  let app: FastifyInstance;
  const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.inject({ method, url, headers: body === undefined ? {} : HEADERS, payload: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };

  beforeAll(async () => {
    app = await buildApp({ service: new VdbService({ path, seed: 'rest' }) });
    await call('POST', '/api/v1/libraries', { name: 'v', dim: 3, metric: 'l2' });
    await call('POST', '/api/v1/libraries/v/chunks', { chunks: Array.from({ length: 120 }, (_, i) => chunk(i)) });
    await call('POST', '/api/v1/libraries/v/index', { type: 'hnsw', m: 8 });
  });
  afterAll(async () => {
    await app.close();
    cleanup();
  });

  it('queries among the matching chunks, with explain on request', async () => {
    const res = await call('POST', '/api/v1/libraries/v/query', { embedding: [0, 0, 1], k: 50, filter: { cat: 'a', n: { $gte: 60 } }, explain: true });
    expect(res.status).toBe(200);
    expect(res.body.hits).toHaveLength(20);
    expect(res.body.hits.every((h: { metadata: { cat: string; n: number } }) => h.metadata.cat === 'a' && h.metadata.n >= 60)).toBe(true);
    expect(res.body.explain).toMatchObject({ plan: 'index', index: 'hnsw', matches: 20, chunks: 120, filter: '(cat = "a" AND n >= 60)' });
    const shorthand = await call('POST', '/api/v1/libraries/v/query', { embedding: [0, 0, 1], k: 50, where: ['cat=a', 'n>=60'] });
    expect(shorthand.body.hits).toEqual(res.body.hits);
    expect(shorthand.body.explain).toBeUndefined();
  });

  it('lists, counts and deletes by filter', async () => {
    const listed = await call('GET', `/api/v1/libraries/v/chunks?where=tag%3Dodd&where=has%3Aauthor&limit=5`);
    expect(listed.status).toBe(200);
    expect(listed.body.total).toBe(0);
    const byJson = await call('GET', `/api/v1/libraries/v/chunks?filter=${encodeURIComponent('{"author.name":"Ada"}')}&limit=7`);
    expect(byJson.body).toMatchObject({ total: 30, offset: 0, limit: 7 });
    expect(byJson.body.chunks).toHaveLength(7);
    const page = await call('POST', '/api/v1/libraries/v/chunks/list', { filter: { cat: { $in: ['b', 'c'] } }, offset: 70, limit: 100 });
    expect(page.body).toMatchObject({ total: 80, offset: 70, limit: 100 });
    expect(page.body.chunks).toHaveLength(10);
    expect((await call('GET', '/api/v1/libraries/v/count?where=cat%3Da')).body).toEqual({ lib_id: expect.any(String), count: 40 });
    expect((await call('POST', '/api/v1/libraries/v/count', {})).body.count).toBe(120);
    const dry = await call('POST', '/api/v1/libraries/v/chunks/delete', { where: 'n<10', dry_run: true });
    expect(dry.body.deleted).toBe(10);
    expect((await call('POST', '/api/v1/libraries/v/count', {})).body.count).toBe(120);
    const gone = await call('POST', '/api/v1/libraries/v/chunks/delete', { where: 'n<10' });
    expect(gone.body).toEqual({ deleted: 10, ids: dry.body.ids });
    expect((await call('POST', '/api/v1/libraries/v/count', {})).body.count).toBe(110);
  });

  it.each<[string, 'GET' | 'POST', unknown]>([
    ['/api/v1/libraries/v/query', 'POST', { embedding: [0, 0, 1], filter: { n: { $gtt: 1 } } }],
    ['/api/v1/libraries/v/query', 'POST', { embedding: [0, 0, 1], where: ['n>=abc'] }],
    ['/api/v1/libraries/v/query', 'POST', { embedding: [0, 0, 1], filter: '{bad' }],
    ['/api/v1/libraries/v/query', 'POST', { embedding: [0, 0, 1], filter: [1] }],
    ['/api/v1/libraries/v/count', 'POST', { filter: { $or: [] } }],
    ['/api/v1/libraries/v/chunks?filter=%7Bbad', 'GET', undefined],
    ['/api/v1/libraries/v/chunks/delete', 'POST', { dry_run: true }],
    ['/api/v1/libraries/v/chunks/delete', 'POST', { filter: { year: { $gt: '2020' } } }],
  ])('400 invalid_filter for %s %j', async (url, method, body) => {
    const before = (await call('POST', '/api/v1/libraries/v/count', {})).body.count;
    const res = await call(method, url, body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('invalid_filter');
    expect((await call('POST', '/api/v1/libraries/v/count', {})).body.count).toBe(before);
  });

  it('answers a filtered query through the real server', async () => {
    const db = join(dir, 'served.json');
    const svc = new VdbService({ path: db });
    await svc.createLibrary({ name: 'docs' });
    await svc.addChunks('docs', [{ text: 'red apple', tags: ['fruit'] }, { text: 'red car' }]);
    const served = await serve({ db });
    try {
      const res = await fetch(`${served.url}/api/v1/libraries/docs/query`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ text: 'red', where: 'tag=fruit' }) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { hits: { text: string }[] }).hits.map((h) => h.text)).toEqual(['red apple']);
      const bad = await fetch(`${served.url}/api/v1/libraries/docs/count`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ where: 'tag==fruit' }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('--where "tag==fruit"');
    } finally {
      await served.stop();
    }
  });
});
