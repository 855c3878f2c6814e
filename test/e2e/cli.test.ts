import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../src/domain/random.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBytes, tempDir, vdb, vdbInProcess } from '../helpers/cli.js';

const ONES = JSON.stringify(new Array(26).fill(1));
let tmp: ReturnType<typeof tempDir>;
let base: string;
let firstChunkId: string;

beforeAll(async () => {
  tmp = tempDir();
  base = join(tmp.dir, 'base.json');
  const env = { VDB_SEED: 's', SOURCE_DATE_EPOCH: '1700000000' };
  // In process: these tests are about what comes after.
  expect((await vdbInProcess(['lib', 'create', 'docs'], { db: base, env })).code).toBe(0);
  expect((await vdbInProcess(['lib', 'create', 'vecs', '--dim', '3', '--metric', 'l2'], { db: base, env })).code).toBe(0);
  const add = await vdbInProcess(['chunk', 'add', '--lib', 'docs', 'hello vector world', 'the quick brown fox', 'lazy dogs sleep'], { db: base, env });
  expect(add.code).toBe(0);
  expect((await vdbInProcess(['index', 'build', '--lib', 'docs', '--type', 'kdtree'], { db: base, env })).code).toBe(0);
  firstChunkId = add.stdout.split('\n')[0];
});
afterAll(() => tmp.cleanup());

/** A private copy of the base snapshot. */
function fresh(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'db.json');
  copyFileSync(base, db);
  return db;
}

describe('the seed demo', () => {
  it('runs each step, finds the chunk, then ranks a text query; --json prints JSON documents', () => {
    const r = vdb(['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('$ vdb lib create demo');
    expect(r.stderr).toContain('4. query with the 26-dim all-ones embedding, k=3');
    expect(r.stderr).toContain("$ vdb query --lib demo --text 'which database finds nearest vectors?' -k 3");
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const seedQuery = docs.find((d) => d.hits?.length === 1);
    expect(seedQuery.hits[0]).toMatchObject({ text: 'hello vector world', metadata: {} });
    // 16 letters with squared counts summing to 32, against 26 ones.
    expect(seedQuery.hits[0].distance).toBeCloseTo(1 - 16 / Math.sqrt(26 * 32), 6);
    expect(seedQuery.hits[0].score).toBeCloseTo(16 / Math.sqrt(26 * 32), 6);
    const ranked = docs.at(-1).hits;
    expect(ranked.map((h: { text: string }) => h.text)[0]).toBe('vector databases find the nearest embeddings');
    expect(ranked.map((h: { score: number }) => h.score)).toEqual([...ranked.map((h: { score: number }) => h.score)].sort((a, b) => b - a));
  });
});

describe('wire format', () => {
  it('lib create/show --json print the library object', async () => {
    const db = fresh('wire');
    const created = JSON.parse((await vdbInProcess(['lib', 'create', 'w', '--metadata', '{"team":"x"}', '--json'], { db })).stdout);
    expect(Object.keys(created)).toEqual(['id', 'name', 'dim', 'metric', 'embedder', 'metadata', 'chunk_count', 'document_count', 'index', 'text_index', 'created_at', 'updated_at']);
    expect(created).toMatchObject({ name: 'w', dim: 26, metric: 'cosine', embedder: 'letters', metadata: { team: 'x' }, chunk_count: 0, document_count: 0, index: null, text_index: null });
    const shown = JSON.parse((await vdbInProcess(['lib', 'show', created.id, '--json'], { db })).stdout);
    expect(shown).toEqual(created);
    expect(JSON.parse((await vdbInProcess(['lib', 'show', 'w', '--json'], { db })).stdout)).toEqual(created);
  });

  it('index show reports what the index covers after later changes', async () => {
    const db = fresh('cover');
    const ids = (await vdbInProcess(['chunk', 'list', '--lib', 'docs', '--json'], { db })).stdout.trim().split('\n').map((l) => JSON.parse(l).id);
    expect((await vdbInProcess(['chunk', 'add', '--lib', 'docs', 'brand new chunk'], { db })).code).toBe(0);
    expect((await vdbInProcess(['chunk', 'delete', ids[1]], { db })).code).toBe(0);
    expect((await vdbInProcess(['chunk', 'update', ids[0], '--text', 'hello again'], { db })).code).toBe(0);
    const info = JSON.parse((await vdbInProcess(['index', 'show', 'docs', '--json'], { db })).stdout);
    expect(info).toMatchObject({ chunk_count: 3, index: { type: 'kdtree', exact: true, indexed: 1, unindexed: 2, stale: 2 } });
    const hits = JSON.parse((await vdbInProcess(['query', '--lib', 'docs', '--text', 'hello again', '-k', '10', '--json'], { db })).stdout).hits;
    // The re-embedded chunk is found with its new text; the deleted one is gone.
    expect(hits.map((h: { text: string }) => h.text).sort()).toEqual(['brand new chunk', 'hello again', 'lazy dogs sleep']);
    expect(hits[0]).toMatchObject({ id: ids[0], text: 'hello again' });
    expect(hits[0].distance).toBeCloseTo(0, 6);
  });
});

describe('bulk NDJSON in and out', () => {
  it('adds lines atomically, lists them in order, and re-imports an export', async () => {
    const db = fresh('bulk');
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `chunk number ${i} about ${i % 2 ? 'cats' : 'dogs'}`, metadata: { i }, tags: [`t${i % 3}`] }));
    const add = vdb(['chunk', 'add', '--lib', 'docs', '--stdin', '--json'], { db, input: `${lines.join('\n')}\n\n` });
    expect(add.code).toBe(0);
    const added = add.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(added).toHaveLength(300);
    expect(added[17]).toMatchObject({ text: 'chunk number 17 about cats', metadata: { i: 17 }, tags: ['t2'] });
    const listed = (await vdbInProcess(['chunk', 'list', '--lib', 'docs', '--json', '--offset', '3'], { db })).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(listed.map((c) => c.id)).toEqual(added.map((c) => c.id));

    expect((await vdbInProcess(['lib', 'create', 'copy'], { db })).code).toBe(0);
    const exported = (await vdbInProcess(['chunk', 'list', '--lib', 'docs', '--json', '--with-embedding'], { db })).stdout;
    const imp = vdb(['chunk', 'add', '--lib', 'copy', '--stdin'], { db, input: exported });
    expect(imp.code).toBe(0);
    expect(imp.stdout.trim().split('\n')).toHaveLength(303);
    const q = ['query', '--text', 'dogs number 4', '-k', '5', '--json'];
    const a = JSON.parse((await vdbInProcess([...q, '--lib', 'docs'], { db })).stdout).hits.map((h: { text: string }) => h.text);
    const b = JSON.parse((await vdbInProcess([...q, '--lib', 'copy'], { db })).stdout).hits.map((h: { text: string }) => h.text);
    expect(b).toEqual(a);
  });

  it('query --stdin answers each line in order, like single queries', async () => {
    const db = fresh('qstdin');
    const queries = ['hello', 'quick fox', 'sleepy dog'].map((text, i) => JSON.stringify({ text, k: i + 1 }));
    const r = vdb(['query', '--lib', 'docs', '--stdin'], { db, input: `${queries.join('\n')}\n${JSON.stringify({ embedding: JSON.parse(ONES) })}\n` });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => o.hits.length)).toEqual([1, 2, 3, 3]);
    const single = JSON.parse((await vdbInProcess(['query', '--lib', 'docs', '--text', 'quick fox', '-k', '2', '--json'], { db })).stdout);
    expect(out[1]).toEqual(single);
  });

  it('splits NDJSON lines like readline (\\n, \\r\\n, lone \\r, blank lines) and numbers them in errors', () => {
    const db = fresh('lines');
    const q = (text: string) => JSON.stringify({ text, k: 1 });
    const ok = vdb(['query', '--lib', 'docs', '--stdin'], { db, input: `${q('hello')}\r\n\r\n${q('fox')}\r${q('dog')}\n   \n${q('hi')}` });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(4);
    const bad = vdb(['query', '--lib', 'docs', '--stdin'], { db, input: `${q('hello')}\r\n\r\n${q('fox')}\r[1]\n${q('x')}\n` });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/line 4: expected a JSON object/);
    // The lines before the bad one were answered.
    expect(bad.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('answers thousands of embedding lines in order, across many parser batches', async () => {
    const db = fresh('many');
    const rnd = seededRandom(3);
    const rows = Array.from({ length: 3000 }, () => Array.from({ length: 26 }, () => Math.round(rnd.next() * 100) / 10));
    const input = rows.map((embedding, i) => JSON.stringify(i % 7 === 0 ? { k: 2, embedding } : { embedding, k: 1 })).join('\n');
    const r = vdb(['query', '--lib', 'docs', '--stdin', '--json'], { db, input });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => o.hits.length)).toEqual(rows.map((_, i) => (i % 7 === 0 ? 2 : 1)));
    for (const i of [0, 1, 1499, 2999]) {
      const single = JSON.parse((await vdbInProcess(['query', '--lib', 'docs', '--embedding', JSON.stringify(rows[i]), '-k', String(i % 7 === 0 ? 2 : 1), '--json'], { db })).stdout);
      expect(out[i]).toEqual(single);
    }
  });

  it('prints tab-separated rows, not tables, when stdout is not a terminal', () => {
    const r = vdb(['query', '--lib', 'docs', '--text', 'hello', '-k', '1'], { db: fresh('plain') });
    expect(r.stdout).toMatch(/^1\t0\.\d{6}\tchk_[0-9a-f]{16}\thello vector world\t\{\}\n$/);
    expect(r.stdout).not.toMatch(/\u001b\[/);
  });
});

interface BadCase {
  name: string;
  args: string[];
  input?: string;
  code: number;
  message: RegExp;
  setup?: (db: string) => void;
  /** stdout lines before the failure (query --stdin answers the lines before a bad one). */
  answered?: number;
  /** Through bin/vdb even without input (a sample of the table; the rest runs in process). */
  spawn?: boolean;
}

const bad: BadCase[] = [
  { name: 'unknown library', args: ['query', '--lib', 'nope', '--text', 'x'], code: 4, message: /library "nope" not found \(see vdb lib list\)/ },
  { name: 'unknown chunk', args: ['chunk', 'get', 'chk_nope'], code: 4, message: /chunk "chk_nope" not found/ },
  { name: 'delete with one unknown id deletes nothing', args: ['chunk', 'delete', 'FIRST', 'chk_nope'], code: 4, message: /chunk "chk_nope" not found/ },
  { name: 'malformed JSON embedding', args: ['query', '--lib', 'docs', '--embedding', '[1,2'], code: 3, message: /--embedding is not valid JSON/ },
  { name: 'wrong dimension', args: ['chunk', 'add', '--lib', 'docs', '--embedding', '[1,2]'], code: 3, message: /embedding has 2 dims, expected 26/ },
  { name: 'NaN in an embedding', args: ['query', '--lib', 'docs', '--embedding', '[NaN]'], code: 3, message: /not valid JSON/ },
  { name: 'Infinity in an NDJSON embedding', args: ['chunk', 'add', '--lib', 'vecs', '--stdin'], input: '{"embedding": [1, 2, 3]}\n{"embedding": [1e999, 0, 0]}\n', code: 3, message: /line 2: embedding\[0\] is Infinity/ },
  { name: 'string in an embedding', args: ['chunk', 'add', '--lib', 'vecs', '--embedding', '[1, "2", 3]'], code: 3, message: /embedding\[1\] is "2"/ },
  { name: 'empty text with letters', args: ['chunk', 'add', '--lib', 'docs', ''], code: 3, message: /text is empty; the letters embedder needs text/ },
  { name: 'text with no letters (zero vector, cosine)', args: ['chunk', 'add', '--lib', 'docs', '1234'], code: 3, message: /cannot embed text "1234": it has no letters the letters embedder counts \(a-z\), and cosine needs a direction/ },
  { name: 'no TEXT, --embedding or --stdin: one hint', args: ['chunk', 'add', '--lib', 'docs'], code: 2, message: /^vdb: error: give TEXT, --embedding or --stdin \(see vdb chunk add --help\)\n$/, spawn: true },
  { name: 'a read command on a --db where nothing is', args: ['lib', 'list', '--db', 'TYPO'], code: 4, message: /no database at .*typo\.json \(check --db; vdb lib create NAME starts one\)/ },
  { name: '--tag with --no-tags', args: ['chunk', 'update', 'FIRST', '--tag', 'a', '--no-tags'], code: 2, message: /give --tag or --no-tags, not both/ },
  { name: 'k = 0', args: ['query', '--lib', 'docs', '--text', 'x', '-k', '0'], code: 2, message: /argument '0' is invalid/ },
  { name: 'k negative', args: ['query', '--lib', 'docs', '--text', 'x', '-k', '-3'], code: 2, message: /is invalid/ },
  { name: 'k not an integer', args: ['query', '--lib', 'docs', '--text', 'x', '-k', '1.5'], code: 2, message: /expected an integer, got "1.5"/ },
  { name: 'huge k', args: ['query', '--lib', 'docs', '--text', 'x', '-k', '100000'], code: 2, message: /must be from 1 to 10000/ },
  { name: 'k ≤ 0 on a stdin line', args: ['query', '--lib', 'docs', '--stdin'], input: '{"text": "a"}\n{"text": "b", "k": 0}\n', code: 3, message: /line 2: k must be a positive integer, got 0/, answered: 1 },
  { name: 'malformed NDJSON line', args: ['chunk', 'add', '--lib', 'docs', '--stdin'], input: '{"text": "ok"}\n{"text": "fine"}\n{"text": \n', code: 3, message: /line 3: not valid JSON/ },
  { name: 'misspelt NDJSON field', args: ['chunk', 'add', '--lib', 'docs', '--stdin'], input: '{"text": "ok", "metdata": {}}\n', code: 3, message: /line 1: unknown field "metdata"/ },
  { name: 'empty stdin', args: ['chunk', 'add', '--lib', 'docs', '--stdin'], input: '\n\n', code: 3, message: /no chunks on stdin/ },
  { name: 'metadata not an object', args: ['chunk', 'add', '--lib', 'docs', 'hi', '--metadata', '[1]'], code: 3, message: /--metadata must be a JSON object/ },
  { name: 'chunk without embedding in a library without embedder', args: ['chunk', 'add', '--lib', 'vecs', 'text only'], code: 3, message: /has no embedder, so each chunk needs an "embedding" of 3 numbers/ },
  { name: 'unknown index type', args: ['index', 'build', '--lib', 'docs', '--type', 'btree'], code: 2, message: /unknown index type "btree" \(use one of: linear, kdtree, lsh/ },
  { name: 'option of another index type', args: ['index', 'build', '--lib', 'docs', '--type', 'kdtree', '--tables', '4'], code: 2, message: /--tables does not apply to index type kdtree/ },
  { name: 'index option out of range', args: ['index', 'build', '--lib', 'docs', '--type', 'lsh', '--bits', '99'], code: 2, message: /must be from 1 to 24/ },
  { name: 'missing --lib', args: ['query', '--text', 'x'], code: 2, message: /required option '--lib <lib>' not specified/ },
  { name: 'unknown option', args: ['query', '--lib', 'docs', '--txt', 'x'], code: 2, message: /unknown option '--txt' \(Did you mean --text\?\) \(see vdb query --help\)/, spawn: true },
  { name: 'unknown command', args: ['libs'], code: 2, message: /unknown command 'libs' \(Did you mean lib\?\) \(see vdb --help\)/ },
  { name: 'duplicate library name', args: ['lib', 'create', 'docs'], code: 5, message: /a library named "docs" already exists/ },
  { name: 'unknown metric', args: ['lib', 'create', 'm', '--metric', 'manhattan'], code: 2, message: /argument 'manhattan' is invalid. Allowed choices are cosine, l2, dot/ },
  { name: 'embedder with wrong dim', args: ['lib', 'create', 'm', '--dim', '3', '--embedder', 'letters'], code: 3, message: /embedder letters gives 26 dims but --dim is 3/ },
  { name: 'unknown embedder', args: ['lib', 'create', 'm', '--embedder', 'bert'], code: 3, message: /unknown embedder "bert"/ },
  {
    name: 'corrupt (truncated) snapshot is never overwritten',
    args: ['chunk', 'add', '--lib', 'docs', 'more'],
    code: 6,
    message: /snapshot .*db\.json is corrupt: not valid JSON .*truncated.*restore it from a backup/,
    setup: (db) => writeFileSync(db, readBytes(db)!.subarray(0, 200)),
    spawn: true,
  },
  {
    name: 'snapshot from a newer vdb',
    args: ['lib', 'list'],
    code: 6,
    message: /format version 7, newer than this vdb reads \(up to 2\) \(upgrade vdb\)/,
    setup: (db) => writeFileSync(db, JSON.stringify({ ...JSON.parse(readBytes(db)!.toString()), version: 7 })),
  },
];

describe('bad input: one-line message, exit code, snapshot byte-identical', () => {
  it.each(bad)('$name', async ({ name, args, input, code, message, setup, answered = 0, spawn }) => {
    const db = fresh(`bad-${name.replace(/\W+/g, '-')}`);
    setup?.(db);
    const before = readBytes(db);
    const argv = args.map((a) => (a === 'FIRST' ? firstChunkId : a === 'TYPO' ? join(db, '..', 'typo.json') : a));
    const r = input !== undefined || spawn ? vdb(argv, { db, input }) : await vdbInProcess(argv, { db });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(/^vdb: error: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout === '' ? 0 : r.stdout.trimEnd().split('\n').length).toBe(answered);
    expect(readBytes(db)).toEqual(before);
    // The lock file stays (see README): removing it would let two writers lock different files.
    expect(readdirSync(join(db, '..')).filter((f) => f !== 'db.json.lock')).toEqual(['db.json']);
  });

  it('prints a stack trace only with VDB_DEBUG=1', () => {
    const db = fresh('debug');
    const r = vdb(['query', '--lib', 'nope', '--text', 'x'], { db, env: { VDB_DEBUG: '1' } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('rejects a --db that is a directory', () => {
    const r = vdb(['lib', 'list'], { db: tmp.dir });
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^vdb: error: --db .* is a directory/);
  });
});
