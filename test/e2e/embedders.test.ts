import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, vdbAsync } from '../helpers/cli.js';
import { mockEmbed, TEST_KEY } from '../helpers/mock-embed.js';
import type { MockEmbed } from '../helpers/mock-embed.js';
import { ensureGlove, TEST_MODELS_DIR } from '../helpers/models.js';
import { serve } from '../helpers/server.js';

let tmp: ReturnType<typeof tempDir>;
let mock: MockEmbed;
beforeAll(async () => {
  tmp = tempDir();
  mock = await mockEmbed();
  await ensureGlove();
}, 120_000);
afterAll(async () => {
  await mock.close();
  tmp.cleanup();
});

const env = () => ({
  VDB_MODELS_DIR: TEST_MODELS_DIR,
  VDB_CACHE_DIR: join(tmp.dir, 'cache'),
  OPENAI_BASE_URL: `${mock.url}/v1`,
  COHERE_BASE_URL: mock.url,
  OPENAI_API_KEY: TEST_KEY,
  CO_API_KEY: TEST_KEY,
  // Whatever the caller's shell holds must not stand in for a missing key.
  EMBEDDING_API_KEY: undefined,
  VDB_EMBED_RETRY_BASE_MS: '1',
});

describe('openai and cohere through bin/vdb', () => {
  it('create, bulk add, query; a second ingest is served from the cache; the key appears nowhere', async () => {
    const db = join(tmp.dir, 'http.json');
    expect((await vdbAsync(['lib', 'create', 'kb', '--embedder', 'openai:text-embedding-3-small@8'], { db, env: env() })).code).toBe(0);
    const lines = ['red apples', 'green pears', 'blue sky'].map((text) => JSON.stringify({ text })).join('\n');
    const add = await vdbAsync(['chunk', 'add', '--lib', 'kb', '--stdin'], { db, env: env(), input: lines });
    expect(add.code, add.stderr).toBe(0);
    expect(mock.seen.filter((s) => s.path === '/v1/embeddings')).toHaveLength(1);
    const q = await vdbAsync(['query', '--lib', 'kb', '--text', 'green pears', '-k', '1', '--json'], { db, env: env() });
    expect(JSON.parse(q.stdout).hits[0].text).toBe('green pears');
    // query --stdin: answers in order; texts the cache has (openai's vectors do not depend on the input type) are not sent.
    const asked = mock.seen.length;
    const many = await vdbAsync(['query', '--lib', 'kb', '--stdin', '-k', '1'], { db, env: env(), input: ['blue sky', 'red apples', 'q three', 'q four'].map((text) => JSON.stringify({ text })).join('\n') });
    expect(many.stdout.trim().split('\n').map((l) => JSON.parse(l).hits[0].text).slice(0, 2)).toEqual(['blue sky', 'red apples']);
    expect(mock.seen.slice(asked).flatMap((r) => r.body.input as string[])).toEqual(['q three', 'q four']);
    const before = mock.seen.length;
    const again = await vdbAsync(['chunk', 'add', '--lib', 'kb', '--stdin'], { db, env: env(), input: lines });
    expect(again.code).toBe(0);
    expect(mock.seen.length).toBe(before);
    const show = await vdbAsync(['lib', 'show', 'kb', '--json'], { db, env: env() });
    expect(JSON.parse(show.stdout)).toMatchObject({ embedder: 'openai:text-embedding-3-small@8', dim: 8 });

    const c = await vdbAsync(['lib', 'create', 'co', '--embedder', 'cohere:embed-english-v3.0@8'], { db, env: env() });
    const ca = await vdbAsync(['chunk', 'add', '--lib', 'co', 'red apples'], { db, env: env() });
    const cq = await vdbAsync(['query', '--lib', 'co', '--text', 'apples', '--json'], { db, env: env() });
    expect([c.code, ca.code, cq.code]).toEqual([0, 0, 0]);
    expect(mock.seen.filter((s) => s.path === '/v2/embed').map((s) => s.body.input_type)).toEqual(['search_document', 'search_query']);

    const bad = await vdbAsync(['query', '--lib', 'kb', '--text', 'never seen'], { db, env: { ...env(), OPENAI_API_KEY: 'sk-wrong-0123456789' } });
    expect(bad.code).toBe(9);
    expect(bad.stderr).toBe('vdb: error: openai rejected the API key (HTTP 401) (check OPENAI_API_KEY or EMBEDDING_API_KEY)\n');

    const everything = [add, q, many, again, show, c, ca, cq, bad].map((r) => r.stdout + r.stderr).join('') + readFileSync(db, 'latin1');
    const cacheFiles = readdirSync(join(tmp.dir, 'cache'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(cacheFiles.length).toBeGreaterThan(0);
    const cached = cacheFiles.map((f) => readFileSync(join(f.parentPath, f.name), 'latin1')).join('');
    expect(everything + cached).not.toContain('SECRET');
    expect(everything + cached).not.toContain('wrong-0123');
  });

  it('REST: chunk create and query with text use the library\'s embedder', async () => {
    const db = join(tmp.dir, 'rest.json');
    expect((await vdbAsync(['lib', 'create', 'kb', '--embedder', 'openai:text-embedding-3-small@8'], { db, env: env() })).code).toBe(0);
    expect((await vdbAsync(['lib', 'create', 'co', '--embedder', 'cohere:embed-english-v3.0@8'], { db, env: env() })).code).toBe(0);
    const s = await serve({ db, env: { ...env(), CO_API_KEY: undefined } });
    try {
      const post = (path: string, body: unknown) => fetch(`${s.url}/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post('/chunks', { lib_id: 'kb', text: 'rest apples' })).status).toBe(201);
      const r = await post('/libraries/kb/query', { text: 'rest apples', k: 1 });
      expect(((await r.json()) as { hits: { text: string }[] }).hits[0].text).toBe('rest apples');
      const empty = await post('/libraries/kb/query', { text: '   ', k: 1 });
      expect(empty.status).toBe(422);
      const noKey = await post('/libraries/co/query', { text: 'pears never cached', k: 1 });
      expect(noKey.status).toBe(502);
      expect(await noKey.json()).toEqual({ error: { code: 'embedder', message: 'cohere: no API key (set CO_API_KEY or EMBEDDING_API_KEY)' } });
    } finally {
      await s.stop();
    }
    expect(s.stderr()).not.toContain('SECRET');
  });
});

describe('glove through bin/vdb', () => {
  it('answers a real question offline; a text with no known word is exit 3; pull says it is installed', async () => {
    const db = join(tmp.dir, 'glove.json');
    const e = { VDB_MODELS_DIR: TEST_MODELS_DIR, VDB_EMBED_CACHE: 'off' };
    expect((await vdbAsync(['lib', 'create', 'notes', '--embedder', 'glove'], { db, env: e })).code).toBe(0);
    const texts = ['a kitten is a young cat', 'the stock market fell sharply today', 'doctors treat patients in hospitals', 'the orchestra played a symphony'];
    expect((await vdbAsync(['chunk', 'add', '--lib', 'notes', ...texts], { db, env: e })).code).toBe(0);
    const q = await vdbAsync(['query', '--lib', 'notes', '--text', 'where do sick people go?', '-k', '1', '--json'], { db, env: e });
    expect(JSON.parse(q.stdout).hits[0].text).toBe('doctors treat patients in hospitals');
    const none = await vdbAsync(['chunk', 'add', '--lib', 'notes', 'qqxv zzkw'], { db, env: e });
    expect(none.code).toBe(3);
    expect(none.stderr).toBe('vdb: error: text "qqxv zzkw" has no word the glove vocabulary knows (give English words, or pass an embedding)\n');
    const pull = await vdbAsync(['model', 'pull', 'glove'], { env: e });
    expect(pull.code).toBe(0);
    expect(pull.stderr).toContain('glove is already installed');
    const emb = await vdbAsync(['embed', '--embedder', 'glove', 'a small cat'], { env: e });
    expect(JSON.parse(emb.stdout).embedding).toHaveLength(100);
  });

  it('a library whose embedder is not installed here is a clear error (exit 9)', async () => {
    const db = join(tmp.dir, 'missing.json');
    const r = await vdbAsync(['lib', 'create', 'notes', '--embedder', 'glove'], { db, env: { VDB_MODELS_DIR: join(tmp.dir, 'nothing') } });
    expect(r.code).toBe(9);
    expect(r.stderr).toBe('vdb: error: the glove embedder is not installed here (run vdb model pull glove)\n');
    const u = await vdbAsync(['lib', 'create', 'x', '--embedder', 'word2vec'], { db });
    expect(u.code).toBe(3);
    expect(u.stderr).toContain('unknown embedder "word2vec"');
  });
});

describe('glove vectors', () => {
  it('deterministic, the same alone or in a batch, unknown words skipped, semantic sanity', async () => {
    const { GloveTable } = await import('../../src/embed/glove.js');
    const file = join(TEST_MODELS_DIR, 'glove', 'glove-6B-100d.v1.bin');
    const a = GloveTable.open(file);
    const b = GloveTable.open(file);
    b.preload();
    const texts = ['a small cat', 'kitten', 'stock market', "the doctor's patients don't wait", 'cats and blorfxq'];
    const one = texts.map((t) => a.embed(t) as Float32Array);
    const many = texts.map((t) => b.embed(t) as Float32Array);
    expect(one.map((v) => Buffer.from(v.buffer).toString('hex'))).toEqual(many.map((v) => Buffer.from(v.buffer).toString('hex')));
    for (const v of one) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    expect(cos(one[0], one[1])).toBeGreaterThan(cos(one[0], one[2]) + 0.2);
    // An unknown word changes nothing; clitics split as GloVe's tokenizer did.
    expect(Array.from(a.embed('cats and blorfxq') as Float32Array)).toEqual(Array.from(a.embed('cats and') as Float32Array));
    expect(Array.from(a.embed("don't") as Float32Array)).toEqual(Array.from(a.embed('do not') as Float32Array));
    expect(a.embed('zzqx blorfxq')).toBeNull();
    a.close();
  });
});
