/**
 * Filters on the command line: --where / --filter / --explain on query,
 * count, chunk list and chunk delete, NDJSON query lines, bad filters (exit 3,
 * one line, data untouched), and chunk delete --where as one atomic change,
 * even when the writer is killed. bin/vdb runs where the process is the point
 * (stdin, exit codes and stderr of a real process, killing the writer); the
 * CLI runs in this process otherwise.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { parseFilter } from '../../src/filter/parse.js';
import { VdbService } from '../../src/service/service.js';
import { childEnv, tempDir, VDB, vdb, vdbInProcess } from '../helpers/cli.js';

let tmp: ReturnType<typeof tempDir>;
let base: string;
const ENV = { VDB_SEED: 'filters', SOURCE_DATE_EPOCH: '1700000000' };
const LINES = [
  { text: 'hello vector world', metadata: { lang: 'en', year: 2021, author: { name: 'Ada' } }, tags: ['foo', 'intro'] },
  { text: 'hallo vektor welt', metadata: { lang: 'de', year: 2019 } },
  { text: 'bonjour le monde', metadata: { lang: 'fr', year: '2020' }, tags: ['foo'] },
  { text: 'hello again', metadata: { lang: 'en', year: 2024, published: '2024-03-01' } },
  { text: 'goodbye', metadata: { lang: 'en' }, tags: ['draft'] },
];

beforeAll(async () => {
  tmp = tempDir();
  base = join(tmp.dir, 'base.json');
  // The seed's clock (SOURCE_DATE_EPOCH 1700000000).
  const svc = new VdbService({ path: base, seed: 'filters', now: () => '2023-11-14T22:13:20.000Z' });
  await svc.createLibrary({ name: 'docs' });
  await svc.addChunks('docs', LINES);
});
afterAll(() => tmp.cleanup());

let copies = 0;
function copy(): string {
  const db = join(tmp.dir, `copy${copies++}.json`);
  copyFileSync(base, db);
  return db;
}
const texts = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).text);

describe('filters on the command line', () => {
  it("takes the seed's two examples verbatim", async () => {
    const tag = vdb(['query', '--lib', 'docs', '--text', 'hello', '--where', 'tag=foo', '--json'], { db: base });
    expect(tag.code, tag.stderr).toBe(0);
    expect(JSON.parse(tag.stdout).hits.map((h: { text: string }) => h.text).sort()).toEqual(['bonjour le monde', 'hello vector world']);
    // Every chunk was created at SOURCE_DATE_EPOCH (2023-11-14T22:13:20Z).
    const after = await vdbInProcess(['count', '--lib', 'docs', '--where', 'created_after=2023-11-14', '--where', 'created_before=2023-11-15T00:00:00Z'], { db: base });
    expect(after.stdout).toBe('5\n');
    expect((await vdbInProcess(['count', '--lib', 'docs', '--where', 'created_after=2023-11-15'], { db: base })).stdout).toBe('0\n');
  });

  it('filters, counts and lists with JSON and shorthand alike; types are strict', async () => {
    const count = async (...args: string[]) => (await vdbInProcess(['count', '--lib', 'docs', ...args], { db: base })).stdout.trim();
    expect(await count('--filter', '{"year": {"$gte": 2020}}')).toBe('2');
    // "2020" is a string: equal to the string, never to the number.
    expect(await count('--where', 'year="2020"')).toBe('1');
    expect(await count('--where', 'year=2020')).toBe('0');
    expect(await count('--where', 'lang=en,de', '--where', '!has:author', '--filter', '{"$or": [{"year": {"$lt": 2020}}, {"published": {"$lt": "2025-01-01"}}]}')).toBe('2');
    expect(JSON.parse((await vdbInProcess(['count', '--lib', 'docs', '--json', '--where', 'tag=draft'], { db: base })).stdout)).toEqual({ lib_id: expect.stringMatching(/^lib_/), count: 1 });
    const list = await vdbInProcess(['chunk', 'list', '--lib', 'docs', '--where', 'lang!=en', '--json'], { db: base });
    expect(texts(list.stdout)).toEqual(['hallo vektor welt', 'bonjour le monde']);
  });

  it('explains the plan: in the JSON document, or on stderr beside the hits', async () => {
    const json = await vdbInProcess(['query', '--lib', 'docs', '--text', 'hello', '--where', 'lang=en', '--explain', '--json'], { db: base });
    expect(JSON.parse(json.stdout).explain).toEqual({ plan: 'exact-scan', index: null, filter: 'lang = "en"', chunks: 5, matches: 3, reason: expect.stringContaining('exact scan'), search: null, unindexed: 0 });
    const plain = await vdbInProcess(['query', '--lib', 'docs', '--text', 'hello', '--where', 'lang=en', '--explain', '-k', '1'], { db: base });
    expect(plain.stdout.trim().split('\n')).toHaveLength(1);
    expect(plain.stderr).toContain('plan: exact-scan');
    expect(plain.stderr).toContain('matches: 3 of 5 chunks');
  });

  it('takes "filter", "where" and "explain" on query --stdin lines, ANDed with --where', () => {
    const input = [{ text: 'hello', filter: { year: { $lt: 2022 } } }, { text: 'hello', where: ['tag=foo'], explain: true }, { text: 'hello' }].map((l) => JSON.stringify(l)).join('\n');
    const r = vdb(['query', '--lib', 'docs', '--stdin', '--where', 'has:year'], { db: base, input });
    expect(r.code, r.stderr).toBe(0);
    const [a, b, c] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(a.hits.map((h: { text: string }) => h.text).sort()).toEqual(['hallo vektor welt', 'hello vector world']);
    expect(b.hits.map((h: { text: string }) => h.text).sort()).toEqual(['bonjour le monde', 'hello vector world']);
    expect(b.explain.filter).toBe('(HAS year AND tags = "foo")'.replace('tags', 'tag'));
    expect(a.explain).toBeUndefined();
    expect(c.hits).toHaveLength(4);
  });

  it.each<[string[], string]>([
    [['query', '--lib', 'docs', '--text', 'x', '--where', 'year=>2020'], '--where "year=>2020": "=>" is not an operator'],
    [['query', '--lib', 'docs', '--text', 'x', '--filter', '{"year": {"$gtt": 1}}'], 'filter: {"year":{"$gtt":1}}: unknown operator "$gtt"'],
    [['count', '--lib', 'docs', '--filter', '{"year": {"$gt": "2020"}}'], 'filter: {"year":{"$gt":"2020"}}: $gt takes a number or an ISO-8601 date, got "2020" (to compare numbers write 2020 without quotes)'],
    [['chunk', 'list', '--lib', 'docs', '--filter', '{oops'], 'filter is not valid JSON'],
  ])('refuses a bad filter with exit 3 and one line: %j', async (args, message) => {
    // The first through a real process; the CLI's error path is the same in process.
    const r = args.includes('year=>2020') ? vdb(args, { db: base }) : await vdbInProcess(args, { db: base });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`vdb: error: ${message}`);
  });

  it('names the NDJSON line of a bad filter and answers the lines before it', () => {
    const r = vdb(['query', '--lib', 'docs', '--stdin'], { db: base, input: '{"text": "hello"}\n{"text": "hello", "where": "lang="}\n' });
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('vdb: error: line 2: --where "lang=": has no value after "="');
  });
});

describe('chunk delete --where', () => {
  it('deletes exactly the matching chunks, prints them, and refuses bad input leaving the bytes as they were', async () => {
    const db = copy();
    const before = readFileSync(db);
    const cli = (...args: string[]) => vdbInProcess(args, { db });
    expect((await cli('chunk', 'delete', '--lib', 'docs', '--where', 'lang==')).code).toBe(3);
    expect((await cli('chunk', 'delete', '--where', 'lang=en')).code).toBe(2);
    expect((await cli('chunk', 'delete', 'chk_x', '--lib', 'docs', '--where', 'lang=en')).code).toBe(2);
    const dry = await cli('chunk', 'delete', '--lib', 'docs', '--where', 'lang=en', '--dry-run', '--json');
    expect(texts(dry.stdout)).toEqual(['hello vector world', 'hello again', 'goodbye']);
    expect(readFileSync(db).equals(before)).toBe(true);
    const gone = await cli('chunk', 'delete', '--lib', 'docs', '--where', 'lang=en');
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout.trim().split('\n')).toEqual(JSON.parse(`[${dry.stdout.trim().split('\n').join(',')}]`).map((c: { id: string }) => c.id));
    expect(texts((await cli('chunk', 'list', '--lib', 'docs', '--json')).stdout)).toEqual(['hallo vektor welt', 'bonjour le monde']);
    expect((await cli('chunk', 'delete', '--lib', 'docs', '--where', 'lang=en')).stdout).toBe('');
  });

  it('is one atomic change: readers see all or none of it, and a writer killed at any moment leaves all or none', async () => {
    // A version 2 database with a log, so the delete is one appended record.
    const db = join(tmp.dir, 'atomic.json');
    const env = { ...ENV, VDB_SIDECAR_MIN_BYTES: '0' };
    const setup = new VdbService({ path: db, seed: 'atomic', storage: { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 } });
    await setup.createLibrary({ name: 'big', dim: 16 });
    const rnd = seededRandom('atomic');
    await setup.addChunks('big', Array.from({ length: 600 }, (_, i) => ({ embedding: Array.from({ length: 16 }, () => rnd.next()), metadata: { half: i % 2 } })));
    // Both counts from one load of the database: one state, before the delete or after it.
    const counts = (path: string) => {
      const lib = new VdbService({ path }).store.read().library('big');
      return [lib.size, lib.filterRows(parseFilter({ where: ['half=1'] })!).count()];
    };
    const run = (path: string, killAfterMs?: number) =>
      new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [VDB, '--db', path, 'chunk', 'delete', '--lib', 'big', '--where', 'half=1'], { env: childEnv(env), stdio: 'ignore' });
        const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        child.on('close', () => {
          if (timer) clearTimeout(timer);
          resolve();
        });
      });
    // Readers in this process while a writer deletes.
    const watched = join(tmp.dir, 'watched.json');
    cpSync(db, watched);
    cpSync(`${db}.d`, `${watched}.d`, { recursive: true });
    const seen = new Set<string>();
    let done = false;
    const writer = run(watched).then(() => (done = true));
    while (!done) {
      seen.add(counts(watched).join('/'));
      await new Promise((r) => setTimeout(r, 5));
    }
    await writer;
    seen.add(counts(watched).join('/'));
    for (const s of seen) expect(['600/300', '300/0']).toContain(s);
    expect(seen.has('300/0')).toBe(true);
    // Writers killed at random moments.
    for (let round = 0; round < 4; round++) {
      const path = join(tmp.dir, `killed${round}.json`);
      cpSync(db, path);
      cpSync(`${db}.d`, `${path}.d`, { recursive: true });
      await run(path, 40 + Math.floor(rnd.next() * 400));
      expect(['600/300', '300/0']).toContain(counts(path).join('/'));
      expect(existsSync(path)).toBe(true);
    }
  }, 60_000);
});
