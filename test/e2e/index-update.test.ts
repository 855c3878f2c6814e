/**
 * `vdb index build` updating an hnsw index in place, and `vdb query --ef`,
 * through bin/vdb on temporary snapshots (one-file and manifest with sidecars).
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { readBytes, tempDir, vdb, vdbInProcess } from '../helpers/cli.js';

const DIM = 8;
const SEEDED = { VDB_SEED: 'update', SOURCE_DATE_EPOCH: '1700000000' };
let tmp: ReturnType<typeof tempDir>;

/** NDJSON chunks with seeded embeddings around a few centres. */
function chunks(count: number, seed: string): string {
  const r = seededRandom(seed);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: DIM }, () => r.gaussian()));
  return Array.from({ length: count }, (_, i) => {
    const c = centres[i % 4];
    return JSON.stringify({ text: `${seed} ${i}`, embedding: c.map((x) => x + 0.3 * r.gaussian()) });
  }).join('\n');
}

const queries = Array.from({ length: 5 }, (_, i) => JSON.stringify(Array.from({ length: DIM }, (_, d) => Math.sin(i * 7 + d))));

/** Runs vdb: a real bin/vdb process when it reads stdin, else in process (same program, no process start). */
async function ok(args: string[], db: string, opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const env = { ...SEEDED, ...opts.env };
  const r = opts.input === undefined ? await vdbInProcess(args, { db, env }) : vdb(args, { db, input: opts.input, env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** A library of 300 chunks with an hnsw index, then 100 chunks added and 5 deleted; returns the db path. */
async function libraryWithChanges(dir: string, env: Record<string, string> = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'db.json');
  await ok(['lib', 'create', 'v', '--dim', String(DIM), '--metric', 'l2'], db, { env });
  const ids = (await ok(['chunk', 'add', '--lib', 'v', '--stdin'], db, { input: chunks(300, 'a'), env })).trim().split('\n');
  const built = JSON.parse(await ok(['index', 'build', '--lib', 'v', '--type', 'hnsw', '--m', '6', '--ef-construction', '40', '--ef-search', '8', '--json'], db, { env }));
  expect(built).toMatchObject({ type: 'hnsw', indexed: 300, build: { mode: 'full', reason: 'no index yet', inserted: 300, removed: 0 } });
  await ok(['chunk', 'add', '--lib', 'v', '--stdin'], db, { input: chunks(100, 'b'), env });
  await ok(['chunk', 'delete', ...ids.slice(10, 15)], db, { env });
  return db;
}

/** Copies a snapshot (and its sidecar directory, if any) into `dir`; returns the copy's path. */
function copyDb(db: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const copy = join(dir, 'db.json');
  cpSync(db, copy);
  if (existsSync(`${db}.d`)) cpSync(`${db}.d`, `${copy}.d`, { recursive: true });
  return copy;
}

/** One-file snapshot from libraryWithChanges, built once; tests work on copies of it. */
let template: string;

/** The query lines for `query --stdin`, each with the given extra fields. */
function lines(extra: string): string {
  return queries.map((q) => `{"embedding": ${q}${extra}}`).join('\n');
}

beforeAll(async () => {
  tmp = tempDir();
  template = await libraryWithChanges(join(tmp.dir, 'template'));
});
afterAll(() => tmp.cleanup());

describe('vdb index build on an hnsw index', () => {
  it.each([
    ['a one-file snapshot', {}],
    ['a manifest with sidecars and a log', { VDB_SIDECAR_MIN_BYTES: '1' }],
  ])('inserts new chunks and removes deleted ones in place, and says so (%s)', async (_name, env) => {
    const db = Object.keys(env).length === 0 ? copyDb(template, join(tmp.dir, 'update-0')) : await libraryWithChanges(join(tmp.dir, 'update-1'), env);
    const info = async () => JSON.parse(await ok(['index', 'show', 'v', '--json'], db, { env })).index;
    expect(await info()).toMatchObject({ indexed: 295, unindexed: 100, stale: 5 });
    const answers = (out: string) => out.trim().split('\n');
    const before = answers(await ok(['query', '--lib', 'v', '--stdin'], db, { env, input: lines(', "k": 5, "ef": 400') }));
    expect(before).toHaveLength(queries.length);

    const updated = JSON.parse(await ok(['index', 'build', '--lib', 'v', '--json'], db, { env }));
    expect(updated).toMatchObject({ type: 'hnsw', params: { m: 6, ef_construction: 40, ef_search: 8 }, build: { mode: 'incremental', reason: null, inserted: 100, removed: 5 } });
    expect(await info()).toMatchObject({ indexed: 395, unindexed: 0, stale: 0 });
    // ef >= n: the graph is scanned, so the answers are exact before and after.
    expect(answers(await ok(['query', '--lib', 'v', '--stdin'], db, { env, input: lines(', "k": 5, "ef": 400') }))).toEqual(before);
    expect(await ok(['query', '--lib', 'v', '--embedding', queries[0], '-k', '5', '--ef', '400', '--json'], db, { env })).toBe(`${before[0]}\n`);
    // A small beam walks the updated graph (read from disk in a new process) and still finds most of them.
    const ids = (out: string) => (JSON.parse(out).hits as { id: string }[]).map((h) => h.id);
    let found = 0;
    answers(await ok(['query', '--lib', 'v', '--stdin'], db, { env, input: lines(', "k": 5, "ef": 40') })).forEach((out, i) => {
      const want = new Set(ids(before[i]));
      found += ids(out).filter((id) => want.has(id)).length;
    });
    expect(found / (5 * queries.length)).toBeGreaterThanOrEqual(0.8);

    const bytes = readBytes(db);
    expect(JSON.parse(await ok(['index', 'build', '--lib', 'v', '--json'], db, { env })).build).toEqual({ mode: 'none', reason: null, inserted: 0, removed: 0 });
    expect(readBytes(db)).toEqual(bytes);
    expect(JSON.parse(await ok(['index', 'build', '--lib', 'v', '--full', '--json'], db, { env })).build).toEqual({ mode: 'full', reason: 'full build requested', inserted: 395, removed: 0 });
  });

  it('gives byte-identical snapshots from the same seed', async () => {
    const [a, b] = [copyDb(template, join(tmp.dir, 'same-a')), await libraryWithChanges(join(tmp.dir, 'same-b'))];
    expect(readBytes(b)).toEqual(readBytes(a));
    for (const db of [a, b]) expect(JSON.parse(await ok(['index', 'build', '--lib', 'v', '--json'], db)).build.mode).toBe('incremental');
    expect(readBytes(b)).toEqual(readBytes(a));
  });

  it('prints what it did in the table too', async () => {
    const db = copyDb(template, join(tmp.dir, 'table'));
    expect(await ok(['index', 'build', '--lib', 'v'], db)).toContain('build\tupdated in place: inserted 100 chunks, removed 5 stale entries');
  });
});

describe('vdb query --ef', () => {
  let hnsw: string;
  let linear: string;
  beforeAll(async () => {
    hnsw = copyDb(template, join(tmp.dir, 'ef'));
    await ok(['index', 'build', '--lib', 'v'], hnsw);
    linear = copyDb(hnsw, join(tmp.dir, 'ef-linear'));
    await ok(['index', 'build', '--lib', 'v', '--type', 'linear'], linear);
  });

  it('answers exactly when ef is at least the library size, from flags and from --stdin lines', async () => {
    const want = await ok(['query', '--lib', 'v', '--stdin'], linear, { input: lines(', "k": 10') });
    const exact = want.trim().split('\n');
    expect(exact).toHaveLength(queries.length);
    for (const i of [0, 3]) {
      expect(await ok(['query', '--lib', 'v', '--embedding', queries[i], '-k', '10', '--json'], linear)).toBe(`${exact[i]}\n`);
      expect(await ok(['query', '--lib', 'v', '--embedding', queries[i], '-k', '10', '--ef', '395', '--json'], hnsw)).toBe(`${exact[i]}\n`);
    }
    expect(await ok(['query', '--lib', 'v', '--stdin'], hnsw, { input: lines(', "k": 10, "ef": 10000') })).toBe(want);
    expect(await ok(['query', '--lib', 'v', '--stdin', '--ef', '500'], hnsw, { input: lines(', "k": 10') })).toBe(want);
  });

  it.each([
    { args: ['--ef', '0'], code: 2, message: /--ef <n>' argument '0' is invalid\. must be from 1 to 10000/ },
    { args: ['--ef', '2.5'], code: 2, message: /expected an integer, got "2.5"/ },
    { args: ['--ef', '10001'], code: 2, message: /must be from 1 to 10000/ },
  ])('refuses --ef $args.1 with a usage error', ({ args, code, message }) => {
    const r = vdb(['query', '--lib', 'v', '--embedding', queries[0], ...args], { db: hnsw });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the line of a bad ef in --stdin', () => {
    const r = vdb(['query', '--lib', 'v', '--stdin'], { db: hnsw, input: `{"embedding": ${queries[0]}}\n{"embedding": ${queries[1]}, "ef": 0}\n` });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('vdb: error: line 2: ef must be an integer from 1 to 10000, got 0\n');
  });

  it('refuses ef on an index without ef_search', () => {
    const r = vdb(['query', '--lib', 'v', '--embedding', queries[0], '--ef', '50'], { db: linear });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('vdb: error: ef applies to an hnsw index; library "v" has a linear index (drop ef, or build one with vdb index build --type hnsw)\n');
  });
});
