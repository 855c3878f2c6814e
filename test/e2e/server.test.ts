/**
 * The REST API in-process (fastify inject, real service on a temp snapshot):
 * OpenAPI coverage, a table of bad requests per route, a seeded fuzz that
 * never gets a 500, the full CRUD surface, auth and log hygiene.
 */
import { Writable } from 'node:stream';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../../src/domain/errors.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { MAX_K } from '../../src/domain/types.js';
import { buildApp } from '../../src/server/app.js';
import { MAX_BULK } from '../../src/server/schemas.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
const ONES = new Array(26).fill(1);

/** Every operation the API offers; /openapi.json must list exactly these. */
const OPERATIONS = [
  'GET /healthz',
  'POST /api/v1/libraries',
  'GET /api/v1/libraries',
  'GET /api/v1/libraries/{lib}',
  'PATCH /api/v1/libraries/{lib}',
  'DELETE /api/v1/libraries/{lib}',
  'POST /api/v1/chunks',
  'POST /api/v1/libraries/{lib}/chunks',
  'GET /api/v1/libraries/{lib}/chunks',
  'POST /api/v1/libraries/{lib}/chunks/list',
  'POST /api/v1/libraries/{lib}/chunks/delete',
  'GET /api/v1/libraries/{lib}/count',
  'POST /api/v1/libraries/{lib}/count',
  'GET /api/v1/chunks/{id}',
  'PATCH /api/v1/chunks/{id}',
  'DELETE /api/v1/chunks/{id}',
  'GET /api/v1/libraries/{lib}/chunks/{id}',
  'PATCH /api/v1/libraries/{lib}/chunks/{id}',
  'DELETE /api/v1/libraries/{lib}/chunks/{id}',
  'POST /api/v1/libraries/{lib}/documents',
  'GET /api/v1/libraries/{lib}/documents',
  'GET /api/v1/libraries/{lib}/documents/{id}',
  'PATCH /api/v1/libraries/{lib}/documents/{id}',
  'DELETE /api/v1/libraries/{lib}/documents/{id}',
  'POST /api/v1/libraries/{lib}/index',
  'GET /api/v1/libraries/{lib}/index',
  'POST /api/v1/libraries/{lib}/query',
  'POST /api/v1/chunks/delete',
  'POST /api/v1/libraries/{lib}/documents/batch',
  'POST /api/v1/libraries/{lib}/documents/delete',
  'POST /api/v1/libraries/{lib}/documents/replace',
  'POST /api/v1/libraries/{lib}/text-index',
  'POST /api/v1/import/check',
  'POST /api/v1/import/batch',
  'GET /api/v1/cluster',
  'GET /api/v1/export',
  'POST /api/v1/cluster/ops',
  // The Qdrant-compatible routes (src/server/qdrant, tag "qdrant").
  'GET /',
  'GET /collections',
  'GET /collections/{name}',
  'GET /collections/{name}/exists',
  'PUT /collections/{name}',
  'DELETE /collections/{name}',
  'PUT /collections/{name}/index',
  'DELETE /collections/{name}/index/{field}',
  'PUT /collections/{name}/points',
  'POST /collections/{name}/points',
  'GET /collections/{name}/points/{id}',
  'POST /collections/{name}/points/delete',
  'POST /collections/{name}/points/payload',
  'PUT /collections/{name}/points/payload',
  'POST /collections/{name}/points/payload/clear',
  'POST /collections/{name}/points/payload/delete',
  'POST /collections/{name}/points/scroll',
  'POST /collections/{name}/points/count',
  'POST /collections/{name}/points/query',
  'POST /collections/{name}/points/query/batch',
  'POST /collections/{name}/points/search',
];

/** Asserts the `{"error": {"code", "message"}}` shape and that the status is the code's. */
function expectError(res: { statusCode: number; body: string }, status: number, code?: ErrorCode): void {
  const body = JSON.parse(res.body);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual({ code: expect.any(String), message: expect.any(String) });
  expect(HTTP_STATUS[body.error.code as ErrorCode]).toBe(res.statusCode);
  expect(res.statusCode, res.body).toBe(status);
  if (code) expect(body.error.code).toBe(code);
}

describe('REST API (in-process)', () => {
  const { dir, cleanup } = tempDir();
  const service = new VdbService({ path: join(dir, 'vdb.json') });
  let app: FastifyInstance;
  let letters: string;
  let vectors: string;
  let chunkId: string;

  const inject = (method: InjectOptions['method'], url: string, payload?: unknown) =>
    app.inject({ method, url, headers: payload === undefined ? {} : JSON_HEADERS, payload: typeof payload === 'string' || payload === undefined ? payload : JSON.stringify(payload) });

  beforeAll(async () => {
    app = await buildApp({ service });
    letters = (await service.createLibrary({ name: 'letters' })).id;
    vectors = (await service.createLibrary({ name: 'vectors', dim: 3, metric: 'l2' })).id;
    [{ id: chunkId }] = await service.addChunks(letters, [{ text: 'hello vector world' }]);
  });
  afterAll(async () => {
    await app.close();
    cleanup();
  });

  it('documents every route in /openapi.json, and every documented route exists', async () => {
    const doc = JSON.parse((await inject('GET', '/openapi.json')).body);
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(listed.sort()).toEqual([...OPERATIONS].sort());
    for (const op of OPERATIONS) {
      const [method, path] = op.split(' ');
      expect(app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), op).toBe(true);
      expect(doc.paths[path][method.toLowerCase()].summary, op).toBeTruthy();
    }
    // Every $ref points into the document's own components, so Swagger UI can resolve it.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    expect((await inject('GET', '/docs/')).statusCode).toBe(200);
  });

  // [method, url, body, status, code?]; `$L`, `$V`, `$C` stand for the letters library, the vectors library and a chunk.
  const BAD: [InjectOptions['method'], string, unknown, number, ErrorCode?][] = [
    ['POST', '/api/v1/libraries/', '{bad', 400, 'bad_request'],
    ['POST', '/api/v1/libraries/', '', 400],
    ['POST', '/api/v1/libraries/', 'null', 400],
    ['POST', '/api/v1/libraries/', '[]', 400],
    ['POST', '/api/v1/libraries/', { name: 5 }, 400],
    ['POST', '/api/v1/libraries/', { name: 'x', nmae: 'typo' }, 400],
    ['POST', '/api/v1/libraries/', { name: 'x', dim: 1.5 }, 400],
    ['POST', '/api/v1/libraries/', { name: 'x', dim: 0 }, 422, 'invalid_input'],
    ['POST', '/api/v1/libraries/', { name: 'x', metric: 'hamming' }, 400],
    ['POST', '/api/v1/libraries/', { name: 'x', embedder: 'gpt-9' }, 422],
    ['POST', '/api/v1/libraries/', { name: ' ' }, 422],
    ['POST', '/api/v1/libraries/', { name: 'x', metadata: [1] }, 400],
    ['POST', '/api/v1/libraries/', '{"name": "x", "__proto__": {"polluted": 1}}', 400],
    ['POST', '/api/v1/libraries/', { name: 'letters' }, 409, 'conflict'],
    ['GET', '/api/v1/libraries?limit=0', undefined, 400],
    ['GET', '/api/v1/libraries?limit=abc', undefined, 400],
    ['GET', '/api/v1/libraries?offset=-1', undefined, 400],
    ['GET', '/api/v1/libraries?limit=1001', undefined, 400],
    ['GET', '/api/v1/libraries?colour=red', undefined, 400],
    ['GET', '/api/v1/libraries/nope', undefined, 404, 'not_found'],
    ['GET', '/api/v1/libraries/%E0%A4%A', undefined, 400],
    ['GET', `/api/v1/libraries/${'y'.repeat(2000)}`, undefined, 400],
    ['PATCH', '/api/v1/libraries/$L', {}, 400],
    ['PATCH', '/api/v1/libraries/$L', { name: null }, 400],
    ['PATCH', '/api/v1/libraries/$L', { name: 'vectors' }, 409],
    ['PATCH', '/api/v1/libraries/nope', { name: 'y' }, 404],
    ['DELETE', '/api/v1/libraries/nope', undefined, 404],
    ['POST', '/api/v1/chunks/', { text: 'no library' }, 400],
    ['POST', '/api/v1/chunks/', { lib_id: 'nope', text: 'x' }, 404],
    ['POST', '/api/v1/chunks/', { lib_id: '$L', text: 5 }, 400],
    ['POST', '/api/v1/chunks/', { lib_id: '$L', text: '   ' }, 422],
    ['POST', '/api/v1/chunks/', { lib_id: '$L', embedding: [1, 2] }, 422],
    ['POST', '/api/v1/chunks/', { lib_id: '$V', embedding: ['1', 2, 3] }, 400],
    ['POST', '/api/v1/chunks/', '{"lib_id": "$V", "embedding": [1e999, 2, 3]}', 400],
    ['POST', '/api/v1/chunks/', '{"lib_id": "$V", "embedding": [NaN, 2, 3]}', 400],
    ['POST', '/api/v1/chunks/', { lib_id: '$V', embedding: [1, 2, 3], tags: [''] }, 422],
    ['POST', '/api/v1/chunks/', { lib_id: '$V', text: 'no embedder here' }, 422],
    ['POST', '/api/v1/libraries/$V/chunks', { chunks: [] }, 400],
    ['POST', '/api/v1/libraries/$V/chunks', { chunks: new Array(MAX_BULK + 1).fill({}) }, 400],
    ['POST', '/api/v1/libraries/$V/chunks', [{ embedding: [1, 2, 3] }], 400],
    ['POST', '/api/v1/libraries/nope/chunks', { chunks: [{ text: 'x' }] }, 404],
    ['GET', '/api/v1/libraries/$V/chunks?with_embedding=maybe', undefined, 400],
    ['GET', '/api/v1/libraries/nope/chunks', undefined, 404],
    ['GET', '/api/v1/chunks/chk_nope', undefined, 404],
    ['PATCH', '/api/v1/chunks/$C', {}, 400],
    ['PATCH', '/api/v1/chunks/$C', { embedding: [1, 2] }, 422],
    ['PATCH', '/api/v1/chunks/$C', { lib_id: '$V' }, 400],
    ['PATCH', '/api/v1/chunks/chk_nope', { text: 'x' }, 404],
    ['DELETE', '/api/v1/chunks/chk_nope', undefined, 404],
    ['POST', '/api/v1/libraries/$L/index', { type: 'btree' }, 400],
    ['POST', '/api/v1/libraries/$L/index', { type: 'linear', leaf_size: 3 }, 422],
    ['POST', '/api/v1/libraries/$L/index', { type: 'kdtree', leaf_size: 0 }, 400],
    ['POST', '/api/v1/libraries/$L/index', { type: 'lsh', tables: '4' }, 400],
    ['POST', '/api/v1/libraries/$L/index', { params: {} }, 400],
    ['POST', '/api/v1/libraries/$L/index', { full: 'yes' }, 400],
    ['POST', '/api/v1/libraries/nope/index', {}, 404],
    ['GET', '/api/v1/libraries/nope/index', undefined, 404],
    ['POST', '/api/v1/libraries/$L/query', { k: 3 }, 422],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, text: 'both' }, 422],
    ['POST', '/api/v1/libraries/$L/query', { embedding: [1, 1] }, 422],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, k: 0 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, k: MAX_K + 1 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, k: 2.5 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, k: '3' }, 400],
    ['POST', '/api/v1/libraries/$L/query', `{"embedding": ${JSON.stringify(ONES)}, "k": 1e999}`, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, kk: 3 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, ef: 0 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, ef: 10_001 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, ef: 2.5 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { embedding: ONES, ef: 8 }, 422, 'invalid_input'],
    ['POST', '/api/v1/libraries/$V/query', { text: 'no embedder' }, 422],
    ['POST', '/api/v1/libraries/nope/query', { text: 'x' }, 404],
    ['POST', '/api/v1/libraries/$L/query', { text: 'x', mode: 'fuzzy' }, 400],
    ['POST', '/api/v1/libraries/$L/query', { text: 'x', mode: 'hybrid', fusion: 'max' }, 400],
    ['POST', '/api/v1/libraries/$L/query', { text: 'x', mode: 'hybrid', alpha: 1.5 }, 400],
    ['POST', '/api/v1/libraries/$L/query', { text: 'the of', mode: 'text' }, 422, 'invalid_input'],
    ['POST', '/api/v1/libraries/$L/query', { text: 'x', mode: 'hybrid', fusion: 'rrf', alpha: 0.5 }, 422, 'invalid_input'],
    ['POST', '/api/v1/libraries/$V/query', { text: 'x', mode: 'hybrid' }, 422, 'invalid_input'],
    ['POST', '/api/v1/libraries/$L/index', { text: 'yes' }, 400],
    ['POST', '/api/v1/libraries/$L/query', `{"embedding": [${new Array(1_200_000).fill('0.123456').join(',')}]}`, 413, 'payload_too_large'],
    ['GET', '/api/v1/nowhere', undefined, 404, 'not_found'],
  ];

  it.each(BAD.map((row, i) => [i, ...row] as const))('bad request %i: %s %s → %i', async (_i, method, url, body, status, code) => {
    const sub = (s: string) => s.replaceAll('$L', letters).replaceAll('$V', vectors).replaceAll('$C', chunkId);
    const payload = body === undefined ? undefined : sub(typeof body === 'string' ? body : JSON.stringify(body));
    expectError(await inject(method, sub(url), payload), status, code);
  });

  it('rejects bodies that are not JSON with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/libraries', headers: { 'content-type': type }, payload: 'name=x' });
      expectError(res, 415, 'unsupported_media_type');
    }
  });

  it('changes nothing on a rejected bulk insert', async () => {
    const before = service.getLibrary(vectors).chunk_count;
    const res = await inject('POST', `/api/v1/libraries/${vectors}/chunks`, { chunks: [{ embedding: [1, 2, 3] }, { embedding: [1, 2] }] });
    expectError(res, 422);
    expect(JSON.parse(res.body).error.message).toContain('chunk 2');
    expect(service.getLibrary(vectors).chunk_count).toBe(before);
  });

  it('never answers 5xx to arbitrary JSON (seeded fuzz over every body route)', async () => {
    const targets = [
      '/api/v1/libraries',
      `/api/v1/libraries/${letters}`,
      '/api/v1/chunks',
      `/api/v1/libraries/${vectors}/chunks`,
      `/api/v1/chunks/${chunkId}`,
      `/api/v1/libraries/${letters}/index`,
      `/api/v1/libraries/${letters}/query`,
      `/api/v1/libraries/${letters}/count`,
      `/api/v1/libraries/${letters}/chunks/list`,
    ];
    const methods = ['POST', 'PATCH', 'POST', 'POST', 'PATCH', 'POST', 'POST', 'POST', 'POST'] as const;
    // Objects with the routes' own field names, so some inputs get past the schema into the service.
    const field = fc.constantFrom('name', 'dim', 'metric', 'embedder', 'metadata', 'lib_id', 'text', 'embedding', 'tags', 'chunks', 'type', 'leaf_size', 'tables', 'k', 'filter', 'where', 'explain');
    const body = fc.oneof(fc.jsonValue(), fc.dictionary(field, fc.oneof(fc.jsonValue(), fc.array(fc.double(), { maxLength: 30 })), { maxKeys: 4 }));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: targets.length - 1 }), body, async (t, value) => {
        const res = await inject(methods[t], targets[t], JSON.stringify(value) ?? 'null');
        if (res.statusCode >= 500) throw new Error(`${methods[t]} ${targets[t]} ${JSON.stringify(value)} → ${res.statusCode} ${res.body}`);
        if (res.statusCode >= 400) expectError(res, res.statusCode);
      }),
      { seed: 6, numRuns: 150 },
    );
  });

  it('builds every index type on an empty library, with or without a body, and the snapshot stays readable', async () => {
    const empty = JSON.parse((await inject('POST', '/api/v1/libraries', { name: 'empty' })).body).id;
    expect((await app.inject({ method: 'POST', url: `/api/v1/libraries/${empty}/index` })).statusCode).toBe(200);
    for (const type of ['linear', 'kdtree', 'lsh']) {
      const res = await inject('POST', `/api/v1/libraries/${empty}/index`, { type });
      expect(JSON.parse(res.body)).toMatchObject({ type, indexed: 0 });
    }
    expect(new VdbService({ path: service.store.path }).indexInfo(empty).index?.type).toBe('lsh');
    await inject('POST', '/api/v1/chunks', { lib_id: empty, text: 'late arrival' });
    const { hits } = JSON.parse((await inject('POST', `/api/v1/libraries/${empty}/query`, { text: 'late', k: 3 })).body);
    expect(hits.map((h: { text: string }) => h.text)).toEqual(['late arrival']);
    expectError(await inject('POST', `/api/v1/libraries/${empty}/index`, 'null'), 400);
  });

  it('updates an hnsw index in place, rebuilds it on request, and takes a per-query ef', async () => {
    const lib = JSON.parse((await inject('POST', '/api/v1/libraries', { name: 'graph', dim: 4, metric: 'l2' })).body).id;
    const points = (from: number, count: number) => ({ chunks: Array.from({ length: count }, (_, i) => ({ embedding: [0, 1, 2, 3].map((d) => Math.sin((from + i) * (d + 1))) })) });
    expect((await inject('POST', `/api/v1/libraries/${lib}/chunks`, points(0, 60))).statusCode).toBe(201);
    const built = JSON.parse((await inject('POST', `/api/v1/libraries/${lib}/index`, { type: 'hnsw', m: 4, ef_construction: 16, ef_search: 4 })).body);
    expect(built).toMatchObject({ type: 'hnsw', indexed: 60, build: { mode: 'full', reason: 'no index yet', inserted: 60, removed: 0 } });
    await inject('POST', `/api/v1/libraries/${lib}/chunks`, points(60, 20));
    const updated = JSON.parse((await inject('POST', `/api/v1/libraries/${lib}/index`, {})).body);
    expect(updated).toMatchObject({ type: 'hnsw', params: { m: 4, ef_construction: 16, ef_search: 4 }, indexed: 80, unindexed: 0, build: { mode: 'incremental', inserted: 20, removed: 0 } });
    expect(JSON.parse((await inject('POST', `/api/v1/libraries/${lib}/index`, { full: true })).body).build).toEqual({ mode: 'full', reason: 'full build requested', inserted: 80, removed: 0 });
    const q = { embedding: [0.5, 0.5, 0.5, 0.5], k: 5, ef: 100 };
    const answer = JSON.parse((await inject('POST', `/api/v1/libraries/${lib}/query`, q)).body);
    expect(answer.hits).toHaveLength(5);
    expect(answer).toEqual(await service.query(lib, q));
  });

  it('answers text and hybrid queries, and builds and shows the full-text index', async () => {
    const built = await inject('POST', `/api/v1/libraries/${letters}/index`, { text: true });
    expect(built.statusCode).toBe(200);
    expect(JSON.parse(built.body)).toMatchObject({ text_build: { mode: 'full', added: 1, removed: 0 }, text_index: { indexed: 1, unindexed: 0, stale: 0, params: { k1: 1.2, b: 0.75 } } });
    expect(JSON.parse((await inject('GET', `/api/v1/libraries/${letters}/index`)).body).text_index).toMatchObject({ indexed: 1 });
    expect(JSON.parse((await inject('GET', `/api/v1/libraries/${letters}`)).body).text_index).toMatchObject({ indexed: 1 });
    const text = JSON.parse((await inject('POST', `/api/v1/libraries/${letters}/query`, { text: 'vector', mode: 'text' })).body);
    expect(text).toEqual({ mode: 'text', hits: [expect.objectContaining({ id: chunkId, distance: null, modes: { vector: null, text: { rank: 1, score: text.hits[0].score } } })] });
    // No mode: hybrid, the library having a full-text index now.
    const hybrid = JSON.parse((await inject('POST', `/api/v1/libraries/${letters}/query`, { text: 'hello', k: 1 })).body);
    expect(hybrid.mode).toBe('hybrid');
    expect(hybrid.hits[0].modes).toEqual({ vector: { rank: 1, score: expect.any(Number), distance: hybrid.hits[0].distance }, text: { rank: 1, score: expect.any(Number) } });
    const raw = await inject('POST', `/api/v1/libraries/${vectors}/query`, { text: 'nothing here', mode: 'text' });
    expect(JSON.parse(raw.body)).toEqual({ mode: 'text', hits: [] });
  });

  it('finds a library by a long non-ASCII name in the path', async () => {
    const name = `é/ü ${'x'.repeat(196)}`;
    expect((await inject('POST', '/api/v1/libraries', { name })).statusCode).toBe(201);
    const res = await inject('GET', `/api/v1/libraries/${encodeURIComponent(name)}`);
    expect(JSON.parse(res.body).name).toBe(name);
  });

  it('serves the whole CRUD surface in the CLI wire format', async () => {
    const created = await inject('POST', '/api/v1/libraries', { name: 'crud', dim: 2, metric: 'l2', metadata: { team: 'search' } });
    expect(created.statusCode).toBe(201);
    const lib = JSON.parse(created.body);
    expect(lib).toEqual(service.getLibrary('crud'));

    const page = JSON.parse((await inject('GET', '/api/v1/libraries?offset=1&limit=1')).body);
    expect(page).toMatchObject({ offset: 1, limit: 1, total: service.listLibraries().length });
    expect(page.libraries).toEqual([service.listLibraries()[1]]);
    expect(JSON.parse((await inject('GET', '/api/v1/libraries')).body).limit).toBe(100);

    const renamed = JSON.parse((await inject('PATCH', '/api/v1/libraries/crud', { name: 'crud2' })).body);
    expect(renamed).toMatchObject({ id: lib.id, name: 'crud2', metadata: { team: 'search' } });
    expect(JSON.parse((await inject('GET', `/api/v1/libraries/crud2`)).body).id).toBe(lib.id);

    const points = [[0, 0], [1, 0], [0, 1], [5, 5], [9, 9]];
    const bulk = await inject('POST', `/api/v1/libraries/${lib.id}/chunks/`, { chunks: points.map((p, i) => ({ text: `p${i}`, embedding: p, tags: ['pt'] })) });
    expect(bulk.statusCode).toBe(201);
    const ids = JSON.parse(bulk.body).chunks.map((c: { id: string }) => c.id);
    expect(ids).toHaveLength(5);

    const listed = JSON.parse((await inject('GET', `/api/v1/libraries/${lib.id}/chunks?offset=1&limit=2&with_embedding=true`)).body);
    expect(listed).toMatchObject({ total: 5, offset: 1, limit: 2 });
    expect(listed.chunks.map((c: { id: string; embedding: number[] }) => [c.id, c.embedding])).toEqual([[ids[1], [1, 0]], [ids[2], [0, 1]]]);

    expect(JSON.parse((await inject('GET', `/api/v1/chunks/${ids[0]}`)).body)).toEqual(service.getChunk(ids[0]));
    expect(JSON.parse((await inject('GET', `/api/v1/chunks/${ids[0]}?with_embedding=true`)).body).embedding).toEqual([0, 0]);
    const patched = JSON.parse((await inject('PATCH', `/api/v1/chunks/${ids[4]}`, { embedding: [0.5, 0.5], metadata: { moved: true } })).body);
    expect(patched).toMatchObject({ id: ids[4], metadata: { moved: true } });
    expect(JSON.parse((await inject('DELETE', `/api/v1/chunks/${ids[3]}`)).body).id).toBe(ids[3]);

    const built = JSON.parse((await inject('POST', `/api/v1/libraries/${lib.id}/index/`, { type: 'kdtree', leaf_size: 2 })).body);
    expect(built).toMatchObject({ type: 'kdtree', exact: true, params: { leaf_size: 2 }, indexed: 4 });
    expect(JSON.parse((await inject('GET', `/api/v1/libraries/${lib.id}/index`)).body)).toEqual(service.indexInfo(lib.id));

    const q = { embedding: [0.4, 0.4], k: 2 };
    const answer = JSON.parse((await inject('POST', `/api/v1/libraries/${lib.id}/query/`, q)).body);
    expect(answer.hits.map((h: { id: string }) => h.id)).toEqual([ids[4], ids[0]]);
    expect(answer).toEqual(await service.query(lib.id, q));

    const deleted = JSON.parse((await inject('DELETE', `/api/v1/libraries/${lib.id}`)).body);
    expect(deleted).toMatchObject({ id: lib.id, chunk_count: 4 });
    expectError(await inject('GET', `/api/v1/libraries/${lib.id}`), 404);
  });
});

describe('REST API auth and logs', () => {
  const { dir, cleanup } = tempDir();
  const service = new VdbService({ path: join(dir, 'vdb.json') });
  const KEY = 'k3y-that-must-stay-secret';
  let log = '';
  let app: FastifyInstance;
  const savedEmbeddingKey = process.env.EMBEDDING_API_KEY;

  beforeAll(async () => {
    process.env.EMBEDDING_API_KEY = 'embedding-secret-42';
    const stream = new Writable({ write: (chunk, _enc, done) => ((log += chunk), done()) });
    app = await buildApp({ service, apiKey: KEY, logLevel: 'trace', logStream: stream });
  });
  afterAll(async () => {
    await app.close();
    if (savedEmbeddingKey === undefined) delete process.env.EMBEDDING_API_KEY;
    else process.env.EMBEDDING_API_KEY = savedEmbeddingKey;
    cleanup();
  });

  it('requires the bearer key everywhere but /healthz', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/healthz/')).statusCode).toBe(200);
    for (const url of ['/api/v1/libraries', '/openapi.json', '/docs/', '/nowhere', '/healthz/x', '/healthz/../api/v1/libraries']) {
      const none = await app.inject(url);
      expectError(none, 401, 'unauthorized');
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expectError(await app.inject({ url, headers: { authorization: `Bearer ${KEY}x` } }), 401);
      expectError(await app.inject({ url, headers: { authorization: KEY } }), 401);
    }
    const ok = await app.inject({ url: '/api/v1/libraries', headers: { authorization: `Bearer ${KEY}` } });
    expect(ok.statusCode).toBe(200);
    const doc = JSON.parse((await app.inject({ url: '/openapi.json', headers: { authorization: `Bearer ${KEY}` } })).body);
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('logs requests without secrets', async () => {
    await app.inject({ method: 'POST', url: '/api/v1/libraries', headers: { ...JSON_HEADERS, authorization: `Bearer ${KEY}` }, payload: { name: 'logged' } });
    await app.inject({ url: '/api/v1/libraries/nope', headers: { authorization: `Bearer ${KEY}` } });
    expect(log).toContain('"url":"/api/v1/libraries"');
    expect(log).not.toContain(KEY);
    expect(log).not.toContain('embedding-secret-42');
  });
});
