import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbedderError, InvalidInput } from '../../src/domain/errors.js';
import { cohereEmbedder } from '../../src/embed/cohere.js';
import { openaiEmbedder } from '../../src/embed/openai.js';
import { embedTexts, parseSpec } from '../../src/embed/registry.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';
import { fakeVector, mockEmbed, TEST_KEY } from '../helpers/mock-embed.js';
import type { MockEmbed } from '../helpers/mock-embed.js';

let mock: MockEmbed;
let tmp: ReturnType<typeof tempDir>;
const saved = { ...process.env };

beforeAll(async () => {
  mock = await mockEmbed();
});
afterAll(() => mock.close());
beforeEach(() => {
  tmp = tempDir();
  mock.seen.length = 0;
  mock.script.length = 0;
  Object.assign(process.env, {
    OPENAI_BASE_URL: `${mock.url}/v1`,
    COHERE_BASE_URL: mock.url,
    OPENAI_API_KEY: TEST_KEY,
    CO_API_KEY: TEST_KEY,
    VDB_EMBED_RETRY_BASE_MS: '1',
    VDB_EMBED_RETRIES: '2',
    VDB_EMBED_CACHE: join(tmp.dir, 'cache'),
  });
});
afterEach(() => {
  process.env = { ...saved };
  tmp.cleanup();
});

const openai = (spec = 'openai:text-embedding-3-small@8') => openaiEmbedder(parseSpec(spec), 8);
const cohere = () => cohereEmbedder(parseSpec('cohere:embed-english-v3.0@8'), 8);
const texts = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('openai', () => {
  it('sends model, input, dimensions and the key; keeps input order though the reply is reversed', async () => {
    const got = await embedTexts(openai(), ['alpha', 'beta', 'gamma'], { inputType: 'document' });
    expect(got.map((v) => Array.from(v))).toEqual(['alpha', 'beta', 'gamma'].map((t) => Array.from(Float32Array.from(fakeVector(t, 8)))));
    expect(mock.seen).toHaveLength(1);
    expect(mock.seen[0].path).toBe('/v1/embeddings');
    expect(mock.seen[0].body).toEqual({ model: 'text-embedding-3-small', input: ['alpha', 'beta', 'gamma'], encoding_format: 'float', dimensions: 8 });
    expect(mock.seen[0].headers.authorization).toBe(`Bearer ${TEST_KEY}`);
  });

  it('batches at 2,048 inputs and at the token budget, in order', async () => {
    const many = texts(2050);
    const got = await embedTexts(openai(), many, { inputType: 'document', cache: false });
    expect(mock.seen.map((s) => (s.body.input as string[]).length).sort((a, b) => b - a)).toEqual([2048, 2]);
    expect(Array.from(got[2049])).toEqual(Array.from(Float32Array.from(fakeVector('t 2049', 8))));
    mock.seen.length = 0;
    // ~30k estimated tokens each: 8 fit under the 250k budget.
    const long = texts(10).map((t) => `${t} ${'x'.repeat(90_000)}`);
    await embedTexts(openai(), long, { inputType: 'document', cache: false });
    expect(mock.seen.map((s) => (s.body.input as string[]).length).sort((a, b) => b - a)).toEqual([8, 2]);
  });

  it('a missing key, a rejected key (401) and an unknown model are one clear line, without the key', async () => {
    delete process.env.OPENAI_API_KEY;
    delete process.env.EMBEDDING_API_KEY;
    const none = await failure(embedTexts(openai(), ['a'], { inputType: 'document' }));
    expect(none).toBeInstanceOf(EmbedderError);
    expect(none.message).toBe('openai: no API key');
    process.env.EMBEDDING_API_KEY = 'sk-wrong-key-abcdefgh';
    const rejected = await failure(embedTexts(openai(), ['a'], { inputType: 'document' }));
    expect((rejected as EmbedderError).display).toBe('openai rejected the API key (HTTP 401) (check OPENAI_API_KEY or EMBEDDING_API_KEY)');
    expect(mock.seen).toHaveLength(1);
    process.env.OPENAI_API_KEY = TEST_KEY;
    mock.script.push({ status: 404, body: JSON.stringify({ error: { message: 'The model `nope` does not exist', code: 'model_not_found' } }) });
    const unknown = await failure(embedTexts(openai('openai:nope@8'), ['a'], { inputType: 'document' }));
    expect(unknown).toBeInstanceOf(InvalidInput);
    expect(unknown.message).toContain('unknown model');
    for (const e of [none, rejected, unknown]) expect(`${e.message}${(e as EmbedderError).hint}${e.stack}`).not.toContain('SECRET');
  });

  it('retries 429 with Retry-After (waiting as asked) and without, then succeeds', async () => {
    mock.script.push({ status: 429, headers: { 'retry-after': '1' } });
    const t0 = Date.now();
    await embedTexts(openai(), ['a'], { inputType: 'document' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(mock.seen).toHaveLength(2);
    mock.seen.length = 0;
    mock.script.push({ status: 429 }, { status: 503 });
    await embedTexts(openai(), ['b'], { inputType: 'document' });
    expect(mock.seen).toHaveLength(3);
  });

  it('500 past the retries, a timeout, a malformed reply and no network fail with one line each', async () => {
    mock.script.push({ status: 500 }, { status: 500 }, { status: 500 });
    const e500 = await failure(embedTexts(openai(), ['a'], { inputType: 'document' }));
    expect(e500).toBeInstanceOf(EmbedderError);
    expect(e500.message).toBe('openai: HTTP 500 after 2 retries: scripted 500');
    expect(mock.seen).toHaveLength(3);

    process.env.VDB_EMBED_TIMEOUT_MS = '150';
    process.env.VDB_EMBED_RETRIES = '1';
    mock.script.push('hang', 'hang');
    const slow = await failure(embedTexts(openai(), ['b'], { inputType: 'document' }));
    expect(slow.message).toMatch(/^openai: no answer from http:\/\/127\.0\.0\.1:\d+\/v1\/embeddings within 150 ms \(1 retries\)$/);

    mock.script.push('malformed');
    const bad = await failure(embedTexts(openai(), ['c'], { inputType: 'document' }));
    expect(bad.message).toContain('openai: malformed reply');

    const closed = createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
    const { port } = closed.address() as { port: number };
    await new Promise((res) => closed.close(res));
    process.env.OPENAI_BASE_URL = `http://127.0.0.1:${port}/v1`;
    const down = await failure(embedTexts(openai(), ['d'], { inputType: 'document' }));
    expect(down.message).toBe(`openai: cannot reach http://127.0.0.1:${port}/v1/embeddings (ECONNREFUSED)`);
  });

  it('caches: the same texts again make no request, and the cache holds no key or text', async () => {
    await embedTexts(openai(), ['one', 'two', 'one'], { inputType: 'document' });
    expect(mock.seen).toHaveLength(1);
    expect(mock.seen[0].body.input).toEqual(['one', 'two']);
    const again = await embedTexts(openai(), ['two', 'one'], { inputType: 'document' });
    expect(mock.seen).toHaveLength(1);
    expect(Array.from(again[1])).toEqual(Array.from(Float32Array.from(fakeVector('one', 8))));
    const cacheDir = join(tmp.dir, 'cache');
    const files = readdirSync(cacheDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(files).toHaveLength(2);
    for (const f of files) {
      const bytes = readFileSync(join(f.parentPath, f.name)).toString('latin1');
      expect(bytes).not.toContain('SECRET');
      expect(bytes).not.toContain('one');
    }
  });
});

describe('cohere', () => {
  it('sends input_type for documents and queries, float embeddings, at most 96 texts a request', async () => {
    await embedTexts(cohere(), texts(200), { inputType: 'document', cache: false });
    expect(mock.seen.map((s) => (s.body.texts as string[]).length).sort((a, b) => b - a)).toEqual([96, 96, 8]);
    expect(mock.seen[0].path).toBe('/v2/embed');
    expect(mock.seen[0].body).toMatchObject({ model: 'embed-english-v3.0', input_type: 'search_document', embedding_types: ['float'], output_dimension: 8 });
    mock.seen.length = 0;
    const [q] = await embedTexts(cohere(), ['t 1'], { inputType: 'query' });
    expect(mock.seen[0].body.input_type).toBe('search_query');
    expect(Array.from(q)).toEqual(Array.from(Float32Array.from(fakeVector('t 1', 8, 'search_query'))));
  });
});

describe('query sessions', () => {
  it('embedAhead sends the texts of many queries in one request; prepare then sends none', async () => {
    const svc = new VdbService({ path: join(tmp.dir, 'q.json') });
    await svc.createLibrary({ name: 'kb', embedder: 'cohere:embed-english-v3.0@8' });
    await svc.addChunks('kb', [{ text: 'alpha' }, { text: 'beta' }]);
    mock.seen.length = 0;
    const session = await svc.querySession('kb');
    await session.embedAhead(['beta?', 'alpha?', 'gamma?']);
    const prepared = [];
    for (const text of ['beta?', 'alpha?', 'gamma?']) prepared.push(await session.prepare({ text, k: 1 }));
    expect(mock.seen.map((s) => s.body.texts)).toEqual([['beta?', 'alpha?', 'gamma?']]);
    expect(mock.seen[0].body.input_type).toBe('search_query');
    expect(Array.from(prepared[2].vector)).toEqual(Array.from(Float32Array.from(fakeVector('gamma?', 8, 'search_query'))));
    await session.close();
  });
});

describe('a failed batch writes nothing', () => {
  it('addChunks with one batch failing leaves the library as it was', async () => {
    const svc = new VdbService({ path: join(tmp.dir, 'db.json') });
    await svc.createLibrary({ name: 'kb', embedder: 'cohere:embed-english-v3.0@8' });
    mock.script.push('pass', { status: 400, body: JSON.stringify({ message: 'too long' }) });
    process.env.VDB_EMBED_CONCURRENCY = '1';
    const err = await failure(svc.addChunks('kb', texts(150).map((text) => ({ text }))));
    expect(err.message).toBe('cohere refused the request (HTTP 400: too long)');
    expect(svc.getLibrary('kb').chunk_count).toBe(0);
    // The batch that did succeed is cached: the retry sends only the rest.
    mock.seen.length = 0;
    await svc.addChunks('kb', texts(150).map((text) => ({ text })));
    expect(svc.getLibrary('kb').chunk_count).toBe(150);
    expect(mock.seen.map((s) => (s.body.texts as string[]).length)).toEqual([54]);
    expect(svc.listChunks('kb').chunks.map((c) => c.text)).toEqual(texts(150));
  });
});
