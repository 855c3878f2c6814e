/**
 * The Qdrant-compatible API driven by the real, unmodified clients
 * (@qdrant/js-client-rest 1.18: 1.19 declares Node >= 22; @langchain/qdrant 1.0) over a loopback port:
 * collections, both upsert forms with integer and UUID ids, retrieve, count,
 * scroll, query against a brute-force oracle (filtered too, on an hnsw
 * index with a recall bound), payload updates, deletes, errors in Qdrant's
 * shape; and a library shared with the vdb CLI in both directions.
 */
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { QdrantVectorStore } from '@langchain/qdrant';
import { Embeddings } from '@langchain/core/embeddings';
import { Document } from '@langchain/core/documents';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdbInProcess } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';

type Vec = number[];
const UUID = '550e8400-e29b-41d4-a716-446655440000';

/** A seeded generator, so the data and queries are the same on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dot = (a: Vec, b: Vec) => a.reduce((s, x, i) => s + x * b[i], 0);
const norm = (a: Vec) => Math.sqrt(dot(a, a));
const score = {
  Cosine: (a: Vec, b: Vec) => dot(a, b) / (norm(a) * norm(b)),
  Dot: dot,
  Euclid: (a: Vec, b: Vec) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0)),
};

/** The exact answer: ids of the best `limit` among the points `keep` admits, with their scores. */
function oracle(points: { id: number; vector: Vec; payload: Record<string, unknown> }[], q: Vec, distance: keyof typeof score, limit: number, keep = (_p: Record<string, unknown>) => true) {
  const scored = points.filter((p) => keep(p.payload)).map((p) => ({ id: p.id, score: score[distance](q, p.vector) }));
  scored.sort((a, b) => (distance === 'Euclid' ? a.score - b.score : b.score - a.score));
  return scored.slice(0, limit);
}

/** A tiny deterministic embedding for LangChain: letter counts of the text. */
class LetterEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.embed(t));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.embed(text);
  }
  private embed(text: string): number[] {
    const v = new Array(26).fill(0);
    for (const ch of text.toLowerCase()) {
      const i = ch.charCodeAt(0) - 97;
      if (i >= 0 && i < 26) v[i]++;
    }
    v[0] += 0.01;
    return v;
  }
}

describe('Qdrant clients against vdb serve', () => {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'vdb.json');
  let app: FastifyInstance;
  let url: string;
  let client: QdrantClient;
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const raw = async (method: string, path: string, body?: string) => {
    const res = await fetch(url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    app = await buildApp({ service: new VdbService({ path: dbPath, seed: 'qdrant', concurrentReaders: true }) });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new QdrantClient({ url });
  });
  afterAll(async () => {
    await app.close();
    warn.mockRestore();
    cleanup();
  });

  it('answers the version check without a warning, and GET / un-enveloped', async () => {
    const info = await client.versionInfo();
    expect(info.version).toBe('1.19.0');
    await new Promise((r) => setTimeout(r, 20));
    expect(warn.mock.calls.flat().join('\n')).not.toMatch(/incompatible|Failed to obtain/);
  });

  it('creates, lists, describes and refuses collections', async () => {
    expect(await client.createCollection('c', { vectors: { size: 4, distance: 'Cosine' } })).toBe(true);
    expect(await client.collectionExists('c')).toEqual({ exists: true });
    expect(await client.collectionExists('nope')).toEqual({ exists: false });
    expect((await client.getCollections()).collections.map((c) => c.name)).toContain('c');
    const info = await client.getCollection('c');
    expect(info).toMatchObject({ status: 'green', points_count: 0, config: { params: { vectors: { size: 4, distance: 'Cosine' } } } });
    await expect(client.createCollection('c', { vectors: { size: 4, distance: 'Cosine' } })).rejects.toMatchObject({ status: 409, data: { status: { error: 'Wrong input: Collection `c` already exists!' } } });
    await expect(client.createCollection('m', { vectors: { size: 4, distance: 'Manhattan' } })).rejects.toMatchObject({ status: 400, data: { status: { error: expect.stringContaining('Manhattan distance is not supported') } } });
    await expect(client.createCollection('n', { vectors: { a: { size: 4, distance: 'Dot' } } })).rejects.toMatchObject({ status: 400, data: { status: { error: expect.stringContaining('named vectors are not supported') } } });
    await expect(client.getCollection('nope')).rejects.toMatchObject({ status: 404, data: { status: { error: 'Not found: Collection `nope` doesn\'t exist!' } } });
    expect(await client.createCollection('gone', { vectors: { size: 2, distance: 'Dot' } })).toBe(true);
    expect(await client.deleteCollection('gone')).toBe(true);
    expect(await client.deleteCollection('gone')).toBe(false);
  });

  it('upserts both forms with integer and UUID ids, retrieves, counts and scrolls in id order', async () => {
    const r1 = await client.upsert('c', {
      wait: true,
      points: [
        { id: 10, vector: [1, 0, 0, 0], payload: { color: 'red', n: 1 } },
        { id: UUID.toUpperCase(), vector: [0, 2, 0, 0], payload: { color: 'blue', n: 2 } },
        { id: 2, vector: [0, 0, 3, 0], payload: { color: 'red', n: 3, tags: ['x', 'y'] } },
      ],
    });
    expect(r1.status).toBe('completed');
    await client.upsert('c', { batch: { ids: [7, '00000000-0000-0000-0000-00000000000a', 3], vectors: [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], payloads: [{ color: 'green', n: 4 }, { n: 5 }, { color: 'blue', n: 6 }] } });
    expect((await client.count('c')).count).toBe(6);

    const got = await client.retrieve('c', { ids: [UUID, 2, 999], with_vector: true });
    expect(got.map((p) => p.id)).toEqual([UUID, 2]);
    expect(got[0].payload).toEqual({ color: 'blue', n: 2 });
    // Cosine collections return the normalised vector, as Qdrant stores it.
    expect(got[0].vector).toEqual([0, 1, 0, 0]);
    expect(got[1].payload).toEqual({ color: 'red', n: 3, tags: ['x', 'y'] });

    const page1 = await client.scroll('c', { limit: 4 });
    expect(page1.points.map((p) => p.id)).toEqual([2, 3, 7, 10]);
    expect(page1.next_page_offset).toBe('00000000-0000-0000-0000-00000000000a');
    const page2 = await client.scroll('c', { limit: 4, offset: page1.next_page_offset!, with_payload: ['color'] });
    expect(page2.points).toEqual([{ id: '00000000-0000-0000-0000-00000000000a', payload: {} }, { id: UUID, payload: { color: 'blue' } }]);
    expect(page2.next_page_offset).toBeNull();
    const red = await client.scroll('c', { filter: { must: [{ key: 'color', match: { value: 'red' } }] }, with_payload: { exclude: ['color'] } });
    expect(red.points).toEqual([{ id: 2, payload: { n: 3, tags: ['x', 'y'] } }, { id: 10, payload: { n: 1 } }]);
    expect((await client.count('c', { filter: { should: [{ key: 'n', range: { gte: 5 } }, { has_id: [10] }] }, exact: true })).count).toBe(3);

    // Upsert replaces the whole point: the old payload keys are gone.
    await client.upsert('c', { points: [{ id: 10, vector: [1, 0, 0, 0], payload: { color: 'black' } }] });
    expect((await client.retrieve('c', { ids: [10] }))[0].payload).toEqual({ color: 'black' });
  });

  it('updates payloads by ids and by filter, and deletes by ids and by filter', async () => {
    await client.setPayload('c', { payload: { seen: true }, points: [2, UUID] });
    await client.setPayload('c', { payload: { deep: 1 }, points: [2], key: 'meta.inner' });
    expect((await client.retrieve('c', { ids: [2] }))[0].payload).toEqual({ color: 'red', n: 3, tags: ['x', 'y'], seen: true, meta: { inner: { deep: 1 } } });
    await client.setPayload('c', { payload: { big: true }, filter: { must: [{ key: 'n', range: { gte: 5 } }] } });
    expect((await client.count('c', { filter: { must: [{ key: 'big', match: { value: true } }] } })).count).toBe(2);
    await client.overwritePayload('c', { payload: { only: 'this' }, points: [UUID] });
    expect((await client.retrieve('c', { ids: [UUID] }))[0].payload).toEqual({ only: 'this' });
    await client.deletePayload('c', { keys: ['seen', 'meta.inner.deep', 'absent'], points: [2] });
    expect((await client.retrieve('c', { ids: [2] }))[0].payload).toEqual({ color: 'red', n: 3, tags: ['x', 'y'], meta: { inner: {} } });
    await client.clearPayload('c', { points: [7] });
    expect((await client.retrieve('c', { ids: [7] }))[0].payload).toEqual({});
    await expect(client.setPayload('c', { payload: { a: 1 }, points: [12345] })).rejects.toMatchObject({ status: 404, data: { status: { error: 'Not found: No point with id 12345 found' } } });

    await client.delete('c', { wait: true, points: [7, 4242] });
    await client.delete('c', { wait: true, filter: { must: [{ key: 'big', match: { value: true } }] } });
    const left = await client.scroll('c', { limit: 100, with_payload: false });
    expect(left.points.map((p) => p.id)).toEqual([2, 10, UUID]);
  });

  it('queries like a brute-force oracle, with filters, offset, score_threshold and point ids', async () => {
    const next = rng(7);
    for (const distance of ['Cosine', 'Dot', 'Euclid'] as const) {
      const name = `q-${distance}`;
      await client.createCollection(name, { vectors: { size: 8, distance } });
      const points = Array.from({ length: 200 }, (_, i) => ({ id: i + 1, vector: Array.from({ length: 8 }, () => next() * 2 - 1), payload: { group: i % 3, even: i % 2 === 0 } }));
      await client.upsert(name, { points });
      for (let t = 0; t < 3; t++) {
        const q = Array.from({ length: 8 }, () => next() * 2 - 1);
        const want = oracle(points, q, distance, 10);
        const { points: got } = await client.query(name, { query: q, limit: 10 });
        expect(got.map((p) => p.id)).toEqual(want.map((p) => p.id));
        got.forEach((p, i) => expect(p.score).toBeCloseTo(want[i].score, 4));
        expect(got[0].payload).toBeUndefined();

        const filter = { must: [{ key: 'group', match: { value: 1 } }], must_not: [{ key: 'even', match: { value: true } }] };
        const wantF = oracle(points, q, distance, 7, (p) => p.group === 1 && p.even === false);
        const { points: gotF } = await client.query(name, { query: { nearest: q }, filter, limit: 5, offset: 2, with_payload: true });
        expect(gotF.map((p) => p.id)).toEqual(wantF.slice(2).map((p) => p.id));
        expect(gotF.every((p) => p.payload?.group === 1)).toBe(true);

        // Strictly better than the threshold: the 5th score itself is left out.
        const { points: gotT } = await client.query(name, { query: q, limit: 10, score_threshold: got[4].score });
        expect(gotT.map((p) => p.id)).toEqual(want.slice(0, 4).map((p) => p.id));
      }
      const batch = await client.queryBatch(name, { searches: [{ query: points[0].vector, limit: 2 }, { query: points[1].vector, limit: 1, filter: { must: [{ key: 'group', match: { value: 2 } }] } }] });
      expect(batch.map((b) => b.points.map((p) => p.id))).toEqual([oracle(points, points[0].vector, distance, 2).map((p) => p.id), oracle(points, points[1].vector, distance, 1, (p) => p.group === 2).map((p) => p.id)]);
      // A point id as the query: its stored vector, the point itself left out.
      const byId = await client.query(name, { query: 5, limit: 3 });
      expect(byId.points.map((p) => p.id)).toEqual(oracle(points.filter((p) => p.id !== 5), points[4].vector, distance, 3).map((p) => p.id));
    }
  });

  it('keeps recall on an hnsw index with a filter (the same planner as vdb query)', async () => {
    const next = rng(11);
    const points = Array.from({ length: 600 }, (_, i) => ({ id: i, vector: Array.from({ length: 8 }, () => next() * 2 - 1), payload: { bucket: i % 5 } }));
    await client.createCollection('h', { vectors: { size: 8, distance: 'Euclid' } });
    for (let i = 0; i < points.length; i += 300) await client.upsert('h', { points: points.slice(i, i + 300) });
    const service = new VdbService({ path: dbPath });
    await service.buildIndex('h', { type: 'hnsw' });
    let found = 0;
    let total = 0;
    for (let t = 0; t < 8; t++) {
      const q = Array.from({ length: 8 }, () => next() * 2 - 1);
      const want = oracle(points, q, 'Euclid', 10, (p) => p.bucket === 3);
      const { points: got } = await client.query('h', { query: q, limit: 10, filter: { must: [{ key: 'bucket', match: { value: 3 } }] }, with_payload: true });
      expect(got.every((p) => p.payload?.bucket === 3)).toBe(true);
      const ids = new Set(want.map((p) => p.id));
      found += got.filter((p) => ids.has(p.id as number)).length;
      total += want.length;
    }
    expect(found / total).toBeGreaterThanOrEqual(0.9);
  });

  it('keeps u64 ids above 2^53 exactly (raw JSON; the JS client rounds them on Node 20)', async () => {
    await client.createCollection('big', { vectors: { size: 2, distance: 'Dot' } });
    const put = await raw('PUT', '/collections/big/points?wait=true', '{"points":[{"id":18446744073709551615,"vector":[1,2],"payload":{"x":9007199254740993}},{"id":9007199254740993,"vector":[2,1]}]}');
    expect(put.status).toBe(200);
    const scrolled = await raw('POST', '/collections/big/points/scroll', '{"with_payload":false}');
    expect(scrolled.text).toContain('"points":[{"id":9007199254740993},{"id":18446744073709551615}]');
    const got = await raw('POST', '/collections/big/points', '{"ids":[18446744073709551615]}');
    expect(got.text).toContain('"id":18446744073709551615,"payload":{"x":9007199254740992}');
  });

  it.each([
    ['PUT', '/collections/c/points', '{"points": [{"id": 1.5, "vector": [1,0,0,0]}]}', 400, 'not a valid point ID'],
    ['PUT', '/collections/c/points', '{"points": [{"id": "42", "vector": [1,0,0,0]}]}', 400, 'not a valid point ID'],
    ['PUT', '/collections/c/points', '{"points": [{"id": 1, "vector": [1,0]}]}', 400, 'expected 4'],
    ['PUT', '/collections/c/points', '{"points": [{"id": 1, "vector": {"a": [1,0,0,0]}}]}', 400, 'named vectors are not supported'],
    ['PUT', '/collections/c/points', '{"batch": {"ids": [1, 2], "vectors": [[1,0,0,0]]}}', 400, '1 vectors for 2 ids'],
    ['PUT', '/collections/c/points', '{"points": [{"id": 1, "vector": [1,0,0,"x"]}]}', 400, 'must be a number'],
    ['PUT', '/collections/c/points', '{"points": ', 400, 'not valid JSON'],
    ['PUT', '/collections/c/points', '[]', 400, 'must be a JSON object'],
    ['PUT', '/collections/c/points', '{"points": [{"id": 1, "vector": [1,0,0,0], "payload": {"__proto__": {"x": 1}}}]}', 400, '"__proto__" is not allowed'],
    ['PUT', '/collections/nope/points', '{"points": [{"id": 1, "vector": [1]}]}', 404, 'Collection `nope` doesn\'t exist!'],
    ['POST', '/collections/c/points/query', '{"query": [1,0,0]}', 400, 'expected 4'],
    ['POST', '/collections/c/points/query', '{"query": {"recommend": {"positive": [1]}}}', 400, 'not supported'],
    ['POST', '/collections/c/points/query', '{"query": [1,0,0,0], "limit": 0}', 400, 'limit must be an integer'],
    ['POST', '/collections/c/points/query', '{"query": [1,0,0,0], "using": "image"}', 400, 'one unnamed vector'],
    ['POST', '/collections/c/points/query', '{"query": 999999}', 404, 'No point with id 999999 found'],
    ['POST', '/collections/c/points/scroll', '{"filter": {"must": [{"key": "n", "match": {"value": 1.5}}]}}', 400, 'an integer or a boolean'],
    ['POST', '/collections/c/points/delete', '{}', 400, 'give either points'],
    ['POST', '/collections/c/points/query/batch', '{"searches": [{"query": [1,0,0,0]}, {"query": [1]}]}', 400, 'searches[1]: '],
    ['PATCH', '/collections/c/points', '{}', 404, 'no route PATCH /collections/c/points'],
    ['PUT', '/collections/x', '{"vectors": {"size": 0, "distance": "Dot"}}', 400, 'vectors.size must be an integer'],
    ['PUT', '/collections/x', '{}', 400, 'vectors must be'],
    ['PUT', '/collections/c/index', '{"field_name": "n", "field_schema": "vector"}', 400, 'field_schema must be one of'],
  ])('%s %s %s → %i', async (method, path, body, status, message) => {
    const res = await raw(method, path, body);
    expect(res.status).toBe(status);
    const parsed = JSON.parse(res.text);
    expect(parsed).toEqual({ status: { error: expect.stringContaining(message) }, time: expect.any(Number) });
  });

  it("takes Python qdrant-client's bodies, which spell out every unset field as null", async () => {
    const create = await raw('PUT', '/collections/py', JSON.stringify({ vectors: { size: 2, distance: 'Dot', hnsw_config: null, quantization_config: null, on_disk: null, datatype: null, multivector_config: null }, shard_number: null, sharding_method: null, init_from: null }));
    expect(create.status).toBe(200);
    const up = await raw('PUT', '/collections/py/points?wait=true', JSON.stringify({ points: [{ id: 1, vector: [1, 2], payload: { lang: 'en' } }, { id: 2, vector: [2, 1], payload: null }], shard_key: null, update_filter: null }));
    expect(up.status).toBe(200);
    const cond = { key: 'lang', match: { value: 'en' }, range: null, geo_bounding_box: null, geo_radius: null, geo_polygon: null, values_count: null, is_empty: null, is_null: null };
    const body = { query: [1, 1], using: null, prefetch: null, filter: { should: null, min_should: null, must: [cond], must_not: null }, params: null, score_threshold: null, limit: 3, offset: null, with_vector: null, with_payload: true, lookup_from: null, shard_key: null };
    const res = await raw('POST', '/collections/py/points/query', JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).result.points).toEqual([{ id: 1, version: 0, score: 3, payload: { lang: 'en' } }]);
  });

  it('runs LangChain: fromTexts, addDocuments, similaritySearch(WithScore) with filters, MMR, delete', async () => {
    const embeddings = new LetterEmbeddings();
    const config = { url, collectionName: 'lc' };
    const store = await QdrantVectorStore.fromTexts(['apple pie', 'banana bread', 'cherry tart'], [{ kind: 'fruit', n: 1 }, { kind: 'bread', n: 2 }, { kind: 'fruit', n: 3 }], embeddings, config);
    await store.addDocuments([new Document({ pageContent: 'apple crumble', metadata: { kind: 'fruit', n: 4 } }), new Document({ pageContent: 'zzz', metadata: { kind: 'noise', n: 5 } })], {
      ids: ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'],
    });
    expect((await client.count('lc')).count).toBe(5);

    const hits = await store.similaritySearchWithScore('apple', 2);
    expect(hits.map(([d]) => d.pageContent)).toEqual(['apple pie', 'apple crumble']);
    const q = await embeddings.embedQuery('apple');
    const pie = await embeddings.embedQuery('apple pie');
    expect(hits[0][1]).toBeCloseTo(score.Cosine(q, pie), 5);
    expect(hits[0][0].metadata).toEqual({ kind: 'fruit', n: 1 });

    const filtered = await store.similaritySearch('apple', 5, { must: [{ key: 'metadata.kind', match: { value: 'fruit' } }, { key: 'metadata.n', range: { gte: 3 } }] });
    expect(filtered.map((d) => d.pageContent).sort()).toEqual(['apple crumble', 'cherry tart']);
    expect(filtered.find((d) => d.pageContent === 'apple crumble')?.id).toBe('11111111-1111-4111-8111-111111111111');

    const mmr = await store.maxMarginalRelevanceSearch('apple', { k: 2, fetchK: 5 });
    expect(mmr).toHaveLength(2);
    expect(mmr[0].pageContent).toBe('apple pie');

    const again = await QdrantVectorStore.fromExistingCollection(embeddings, config);
    await again.delete({ ids: ['22222222-2222-4222-8222-222222222222'] });
    await again.delete({ filter: { must: [{ key: 'metadata.kind', match: { value: 'bread' } }] } });
    expect((await client.count('lc')).count).toBe(3);
  });

  it('takes the api-key header (or a bearer token) when VDB_API_KEY is set', async () => {
    const keyed = await buildApp({ service: new VdbService({ path: join(dir, 'keyed.json') }), apiKey: 's3cret' });
    const keyedUrl = await keyed.listen({ host: '127.0.0.1', port: 0 });
    try {
      const ok = new QdrantClient({ url: keyedUrl, apiKey: 's3cret', checkCompatibility: false });
      expect(await ok.createCollection('k', { vectors: { size: 2, distance: 'Dot' } })).toBe(true);
      const bad = new QdrantClient({ url: keyedUrl, apiKey: 'wrong', checkCompatibility: false });
      await expect(bad.getCollections()).rejects.toMatchObject({ status: 401, data: { status: { error: 'wrong API key' } } });
      const bearer = await fetch(`${keyedUrl}/collections`, { headers: { authorization: 'Bearer s3cret' } });
      expect(bearer.status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});

describe('a library shared by the vdb CLI and Qdrant clients', () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'vdb.json');
  let server: Served;
  afterAll(async () => {
    await server?.stop();
    cleanup();
  });

  it('finds CLI chunks through the Qdrant routes, and Qdrant points through the CLI', async () => {
    expect((await vdbInProcess(['lib', 'create', 'notes', '--dim', '3', '--metric', 'l2'], { db })).code).toBe(0);
    const lines = [
      { id: 'chk_00000000000000aa', text: 'a', embedding: [0, 0, 0], metadata: { lang: 'en' } },
      { id: 'intro#1', text: 'b', embedding: [1, 0, 0], metadata: { lang: 'de' } },
      { id: '17', text: 'c', embedding: [5, 5, 5], metadata: { lang: 'en' } },
    ];
    for (const l of lines) {
      const added = await vdbInProcess(['chunk', 'add', l.text, '--lib', 'notes', '--id', l.id, '--embedding', JSON.stringify(l.embedding), '--metadata', JSON.stringify(l.metadata)], { db });
      expect(added.code).toBe(0);
    }
    server = await serve({ db });
    const client = new QdrantClient({ url: server.url, checkCompatibility: false });

    const { points } = await client.query('notes', { query: [0.9, 0, 0], limit: 3, with_payload: true });
    const hashed = points[0].id as string;
    expect(points.map((p) => p.id)).toEqual([hashed, '7664625f-6368-6b5f-0000-0000000000aa', 17]);
    expect(hashed).toMatch(/^7664625f-6964-/);
    expect(points[0].score).toBeCloseTo(0.1, 5);
    expect(points[0].payload).toEqual({ lang: 'de' });
    // The reserved UUIDs name the CLI's chunks: retrieve and update through them.
    await client.setPayload('notes', { payload: { seen: 1 }, points: [hashed, '7664625f-6368-6b5f-0000-0000000000aa'] });
    await client.upsert('notes', { points: [{ id: 99, vector: [2, 2, 2], payload: { lang: 'fr' } }] });
    await expect(client.upsert('notes', { points: [{ id: '7664625f-6964-0000-0000-000000000000', vector: [1, 1, 1] }] })).rejects.toMatchObject({ status: 400 });

    const listed = await vdbInProcess(['chunk', 'list', '--lib', 'notes', '--json'], { db });
    expect(listed.code).toBe(0);
    const chunks = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const byId = Object.fromEntries((chunks as { id: string; metadata: object }[]).map((c) => [c.id, c.metadata]));
    expect(byId).toEqual({ chk_00000000000000aa: { lang: 'en', seen: 1 }, 'intro#1': { lang: 'de', seen: 1 }, '17': { lang: 'en' }, '99': { lang: 'fr' } });
    const q = await vdbInProcess(['query', '--lib', 'notes', '--embedding', '[2,2,2.1]', '-k', '1', '--where', 'lang=fr', '--json'], { db });
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout).hits[0].id).toBe('99');
  });
});
