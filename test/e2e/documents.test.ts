/**
 * Documents, your own chunk ids and on-conflict through the real entry
 * points: one scenario run through the CLI and through the REST API (same
 * seed and clock), which must agree step by step and end in the same data;
 * then the typed client against a real `vdb serve`. Steps that read stdin
 * spawn bin/vdb; the others run the same program in process (cheaper).
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VdbClient } from '../../src/client/client.js';
import { EXIT_CODES, HTTP_STATUS } from '../../src/domain/errors.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { buildApp } from '../../src/server/app.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdb, vdbInProcess } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SEED = 'docs-e2e';
const EPOCH = 1700000000;
const ENV = { VDB_SEED: SEED, SOURCE_DATE_EPOCH: String(EPOCH) };

type Outcome = 'ok' | ErrorCode;
interface Step {
  cli: string[];
  rest: [method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown];
  want: Outcome;
  /** Lines of stdout for the CLI, in order (ids); checked when given. */
  ids?: string[];
  /** A piece of the error message both must give. */
  message?: RegExp;
  stdin?: string;
}

const A = 'notes/a.md';
const URL_ID = 'https://example.com/faq?x=1';
const STEPS: Step[] = [
  { cli: ['lib', 'create', 'docs'], rest: ['POST', '/api/v1/libraries', { name: 'docs' }], want: 'ok' },
  { cli: ['doc', 'add', '--lib', 'docs', '--id', A, '--title', 'A'], rest: ['POST', '/api/v1/libraries/docs/documents', { id: A, title: 'A' }], want: 'ok', ids: [A] },
  { cli: ['doc', 'add', '--lib', 'docs', '--id', A], rest: ['POST', '/api/v1/libraries/docs/documents', { id: A }], want: 'conflict', message: /document "notes\/a.md" already exists in library "docs"/ },
  { cli: ['doc', 'add', '--lib', 'docs', '--title', 'generated'], rest: ['POST', '/api/v1/libraries/docs/documents', { title: 'generated' }], want: 'ok' },
  {
    cli: ['doc', 'add', '--lib', 'docs', '--id', URL_ID, '--metadata', '{"lang": "en"}', '--on-conflict', 'replace'],
    rest: ['POST', '/api/v1/libraries/docs/documents', { id: URL_ID, metadata: { lang: 'en' }, on_conflict: 'replace' }],
    want: 'ok',
    ids: [URL_ID],
  },
  { cli: ['chunk', 'add', '--lib', 'docs', '--id', '42', '--doc', A, 'hello vector world'], rest: ['POST', '/api/v1/chunks', { lib_id: 'docs', id: '42', doc_id: A, text: 'hello vector world' }], want: 'ok', ids: ['42'] },
  { cli: ['chunk', 'add', '--lib', 'docs', '--id', '42', 'again'], rest: ['POST', '/api/v1/chunks', { lib_id: 'docs', id: '42', text: 'again' }], want: 'conflict', message: /chunk "42" already exists in library "docs"/ },
  { cli: ['chunk', 'add', '--lib', 'docs', '--id', '42', '--on-conflict', 'skip', 'again'], rest: ['POST', '/api/v1/chunks', { lib_id: 'docs', id: '42', text: 'again', on_conflict: 'skip' }], want: 'ok', ids: ['42'] },
  { cli: ['chunk', 'add', '--lib', 'docs', '--doc', 'missing.md', 'x'], rest: ['POST', '/api/v1/chunks', { lib_id: 'docs', doc_id: 'missing.md', text: 'x' }], want: 'not_found', message: /document "missing.md" not found in library "docs"/ },
  {
    cli: ['chunk', 'add', '--lib', 'docs', '--stdin', '--on-conflict', 'replace'],
    stdin: `{"id": "42", "doc_id": "${URL_ID}", "text": "replaced text", "tags": ["t"]}\n{"text": "generated id"}\n{"id": "u-1", "doc_id": "${A}", "text": "user id"}\n`,
    rest: [
      'POST',
      '/api/v1/libraries/docs/chunks',
      { chunks: [{ id: '42', doc_id: URL_ID, text: 'replaced text', tags: ['t'] }, { text: 'generated id' }, { id: 'u-1', doc_id: A, text: 'user id' }], on_conflict: 'replace' },
    ],
    want: 'ok',
  },
  {
    cli: ['chunk', 'add', '--lib', 'docs', '--stdin'],
    stdin: '{"id": "dup", "text": "a"}\n{"id": "dup", "text": "b"}\n',
    rest: ['POST', '/api/v1/libraries/docs/chunks', { chunks: [{ id: 'dup', text: 'a' }, { id: 'dup', text: 'b' }] }],
    want: 'invalid_input',
    message: /id "dup" is given twice/,
  },
  { cli: ['lib', 'create', 'other'], rest: ['POST', '/api/v1/libraries', { name: 'other' }], want: 'ok' },
  { cli: ['chunk', 'add', '--lib', 'other', '--id', 'u-1', 'same id, other library'], rest: ['POST', '/api/v1/chunks', { lib_id: 'other', id: 'u-1', text: 'same id, other library' }], want: 'ok' },
  { cli: ['chunk', 'get', 'u-1'], rest: ['GET', '/api/v1/chunks/u-1'], want: 'usage', message: /chunk id "u-1" is in 2 libraries \("docs", "other"\)/ },
  { cli: ['chunk', 'update', 'u-1', '--lib', 'docs', '--doc', ''], rest: ['PATCH', '/api/v1/libraries/docs/chunks/u-1', { doc_id: null }], want: 'ok' },
  { cli: ['chunk', 'delete', 'u-1', '--lib', 'other'], rest: ['DELETE', '/api/v1/libraries/other/chunks/u-1'], want: 'ok', ids: ['u-1'] },
  { cli: ['doc', 'update', A, '--title', 'A, renamed'], rest: ['PATCH', `/api/v1/libraries/docs/documents/${encodeURIComponent(A)}`, { title: 'A, renamed' }], want: 'ok' },
  { cli: ['doc', 'delete', URL_ID, '--lib', 'docs'], rest: ['DELETE', `/api/v1/libraries/docs/documents/${encodeURIComponent(URL_ID)}`], want: 'ok', ids: [URL_ID] },
  { cli: ['doc', 'get', URL_ID, '--lib', 'docs'], rest: ['GET', `/api/v1/libraries/docs/documents/${encodeURIComponent(URL_ID)}`], want: 'not_found' },
];

describe('documents and ids: the CLI and REST agree', () => {
  const db = join(tmp.dir, 'cli.json');
  const service = new VdbService({ path: join(tmp.dir, 'rest.json'), seed: SEED, now: () => new Date(EPOCH * 1000).toISOString() });
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ service });
  });
  afterAll(() => app.close());

  it('step by step, and in the data they leave', { timeout: 90_000 }, async () => {
    for (const [i, step] of STEPS.entries()) {
      const label = `step ${i}: vdb ${step.cli.join(' ')}`;
      const r = step.stdin === undefined ? await vdbInProcess(step.cli, { db, env: ENV }) : vdb(step.cli, { db, env: ENV, input: step.stdin });
      const [method, url, body] = step.rest;
      const res = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
      if (step.want === 'ok') {
        expect(r.code, `${label}: ${r.stderr}`).toBe(0);
        expect(res.statusCode, `${label}: ${res.body}`).toBeLessThan(300);
      } else {
        expect(r.code, `${label}: ${r.stderr}`).toBe(EXIT_CODES[step.want]);
        expect(res.statusCode, `${label}: ${res.body}`).toBe(HTTP_STATUS[step.want]);
        expect(JSON.parse(res.body).error.code, label).toBe(step.want);
        // One line, the same message from both (stdin names lines where REST names chunks of its body).
        expect(r.stderr.trim().split('\n'), label).toHaveLength(1);
        const item = (m: string) => m.replace(/\b(line|chunk) (\d+)\b/g, 'item $2');
        expect(item(r.stderr), label).toContain(item(JSON.parse(res.body).error.message));
      }
      if (step.message) expect(r.stderr, label).toMatch(step.message);
      if (step.ids) expect(r.stdout.trim().split('\n'), label).toEqual(step.ids);
    }
    // The same chunks, documents and hits, field for field (same seed, same clock).
    const lines = async (args: string[]) => (await vdbInProcess(args, { db })).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const lib of ['docs', 'other']) {
      expect(await lines(['chunk', 'list', '--lib', lib, '--json'])).toEqual(service.listChunks(lib).chunks);
      expect(await lines(['doc', 'list', '--lib', lib, '--json'])).toEqual(service.documents.list(lib).documents);
    }
    const chunks = service.listChunks('docs').chunks;
    // "42" moved into the URL document, which took it along when it was deleted.
    expect(chunks.map((c) => [c.id, c.doc_id, c.text])).toEqual([
      [expect.stringMatching(/^chk_[0-9a-f]{16}$/), null, 'generated id'],
      ['u-1', null, 'user id'],
    ]);
    const hits = JSON.parse(vdb(['query', '--lib', 'docs', '--text', 'user id', '-k', '1', '--json'], { db }).stdout).hits;
    expect(hits).toEqual([{ id: 'u-1', doc_id: null, text: 'user id', score: expect.any(Number), distance: expect.any(Number), metadata: {} }]);
    expect(JSON.parse((await app.inject({ method: 'POST', url: '/api/v1/libraries/docs/query', payload: { text: 'user id', k: 1 } })).body).hits).toEqual(hits);
  });

  it('REST answers 201 for what it added, 200 for the rest, with counts for bulk adds', async () => {
    await service.createLibrary({ name: 'codes', dim: 1, metric: 'dot' });
    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
    expect((await post('/api/v1/chunks', { lib_id: 'codes', id: 'k', embedding: [1] })).statusCode).toBe(201);
    const again = await post('/api/v1/chunks', { lib_id: 'codes', id: 'k', embedding: [1], on_conflict: 'replace' });
    expect(again.statusCode).toBe(200);
    const bulk = await post('/api/v1/libraries/codes/chunks', { chunks: [{ id: 'k', embedding: [2] }, { id: 'l', embedding: [3] }], on_conflict: 'skip' });
    expect(bulk.statusCode).toBe(201);
    expect(JSON.parse(bulk.body)).toMatchObject({ added: 1, replaced: 0, unchanged: 0, skipped: 1, chunks: [{ id: 'k' }, { id: 'l' }] });
    const none = await post('/api/v1/libraries/codes/chunks', { chunks: [{ id: 'k', embedding: [3] }], on_conflict: 'replace' });
    expect(none.statusCode).toBe(200);
    expect(JSON.parse(none.body)).toMatchObject({ added: 0, replaced: 1 });
    expect((await post('/api/v1/chunks', { lib_id: 'codes', id: 7, embedding: [1] })).statusCode).toBe(400);
    expect((await post('/api/v1/chunks', { lib_id: 'codes', embedding: [1], on_conflict: 'merge' })).statusCode).toBe(400);
    const doc = await post('/api/v1/libraries/codes/documents', { id: 'd' });
    expect([doc.statusCode, JSON.parse(doc.body)]).toEqual([201, expect.objectContaining({ id: 'd', title: null, chunk_count: 0 })]);
    const page = JSON.parse((await app.inject({ method: 'GET', url: '/api/v1/libraries/codes/documents?limit=1' })).body);
    expect(page).toMatchObject({ total: 1, offset: 0, limit: 1, documents: [{ id: 'd' }] });
  });
});

describe('POST …/documents/replace and …/text-index (what vdb ingest --remote sends)', () => {
  const service = new VdbService({ path: join(tmp.dir, 'replace.json'), seed: SEED, now: () => new Date(EPOCH * 1000).toISOString() });
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ service });
    await service.createLibrary({ name: 'r', dim: 2 });
    await service.putChunks('r', [{ id: 'loose', embedding: [1, 1] }]);
  });
  afterAll(() => app.close());
  const post = async (url: string, payload: object) => {
    const res = await app.inject({ method: 'POST', url, payload });
    return { status: res.statusCode, json: JSON.parse(res.body) };
  };

  it('replaces documents whole, refuses or (isolate) reports the invalid ones, and stores the full-text index', async () => {
    const docs = [
      { id: 'a', title: 'A', chunks: [{ id: 'a#1', text: 'one', embedding: [1, 0] }, { id: 'a#2', text: 'two', embedding: [0, 1] }] },
      { id: 'b', chunks: [{ id: 'loose', text: 'taken', embedding: [1, 0] }] },
    ];
    // Without isolate: the conflict refuses the request, nothing is written.
    const refused = await post('/api/v1/libraries/r/documents/replace', { documents: docs });
    expect([refused.status, refused.json.error.code]).toEqual([409, 'conflict']);
    expect(service.documents.list('r').total).toBe(0);
    const isolated = await post('/api/v1/libraries/r/documents/replace', { documents: docs, isolate: true });
    expect(isolated.status).toBe(200);
    expect(isolated.json.results).toEqual([
      { id: 'a', document: 'added', chunks: { added: 2, replaced: 0, unchanged: 0, removed: 0 } },
      { id: 'b', error: { code: 'conflict', message: expect.stringMatching(/chunk id "loose" is taken by a chunk in no document/), hint: expect.any(String) } },
    ]);
    // Again with one chunk fewer: that chunk goes, the other is unchanged.
    const again = await post('/api/v1/libraries/r/documents/replace', { documents: [{ ...docs[0], chunks: docs[0].chunks.slice(0, 1) }] });
    expect(again.json.results).toEqual([{ id: 'a', document: 'unchanged', chunks: { added: 0, replaced: 0, unchanged: 1, removed: 1 } }]);
    expect((await post('/api/v1/libraries/r/documents/replace', { documents: [{ id: 'c', chunks: [{ text: 'x' }] }] })).json.error.code).toBe('invalid_input');
    expect((await post('/api/v1/libraries/r/documents/replace', { documents: [] })).status).toBe(400);
    expect((await post('/api/v1/libraries/r/text-index', { when_worth_it: true })).json).toEqual({ text_build: { mode: 'full', added: 2, removed: 0 } });
    expect((await post('/api/v1/libraries/r/text-index', { when_worth_it: true })).json).toEqual({ text_build: null });
    expect((await post('/api/v1/libraries/r/text-index', {})).json).toEqual({ text_build: { mode: 'none', added: 0, removed: 0 } });
  });
});

describe('the typed client against vdb serve', () => {
  it('adds, reads and deletes documents and chunks whose ids hold /, ? and spaces', async () => {
    const db = join(tmp.dir, 'served.json');
    const server = await serve({ db });
    try {
      const c = new VdbClient(server.url);
      await c.createLibrary({ name: 'docs' });
      const id = 'dir/sub dir/a?.md';
      expect(await c.addDocument('docs', { id, title: 'T', metadata: { k: 1 } })).toMatchObject({ id, title: 'T', chunk_count: 0 });
      await c.addChunks('docs', [{ id: 'p/1', doc_id: id, text: 'first' }, { id: 'p/2', doc_id: id, text: 'second' }]);
      expect((await c.putChunks('docs', [{ id: 'p/1', doc_id: id, text: 'first' }], 'replace')).unchanged).toBe(1);
      expect(await c.getChunk('p/1', false, 'docs')).toMatchObject({ id: 'p/1', doc_id: id });
      expect(await c.getDocument('docs', id)).toMatchObject({ chunk_count: 2 });
      expect((await c.listDocuments('docs')).documents.map((d) => d.id)).toEqual([id]);
      expect(await c.updateDocument('docs', id, { title: null })).toMatchObject({ title: null });
      expect(await c.deleteDocument('docs', id)).toMatchObject({ id, chunk_count: 2 });
      expect((await c.listChunks('docs')).total).toBe(0);
      await expect(c.getDocument('docs', id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    } finally {
      await server.stop();
    }
  });
});
