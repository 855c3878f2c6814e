/**
 * `vdb index build` updating an hnsw index in place, and `vdb query --ef`,
 * through bin/vdb on temporary snapshots (one-file and manifest with sidecars).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { readBytes, tempDir, vdb } from '../helpers/cli.js';

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

function ok(args: string[], db: string, opts: { input?: string; env?: Record<string, string> } = {}): string {
  const r = vdb(args, { db, input: opts.input, env: { ...SEEDED, ...opts.env } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** A library of 300 chunks with an hnsw index, then 100 chunks added and 5 deleted; returns the db path. */
function libraryWithChanges(dir: string, env: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'db.json');
  ok(['lib', 'create', 'v', '--dim', String(DIM), '--metric', 'l2'], db, { env });
  const ids = ok(['chunk', 'add', '--lib', 'v', '--stdin'], db, { input: chunks(300, 'a'), env }).trim().split('\n');
  const built = JSON.parse(ok(['index', 'build', '--lib', 'v', '--type', 'hnsw', '--m', '6', '--ef-construction', '40', '--ef-search', '8', '--json'], db, { env }));
  expect(built).toMatchObject({ type: 'hnsw', indexed: 300, build: { mode: 'full', reason: 'no index yet', inserted: 300, removed: 0 } });
  ok(['chunk', 'add', '--lib', 'v', '--stdin'], db, { input: chunks(100, 'b'), env });
  ok(['chunk', 'delete', ...ids.slice(10, 15)], db, { env });
  return db;
}

beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('vdb index build on an hnsw index', () => {
  it.each([
    ['a one-file snapshot', {}],
    ['a manifest with sidecars and a log', { VDB_SIDECAR_MIN_BYTES: '1' }],
  ])('inserts new chunks and removes deleted ones in place, and says so (%s)', (_name, env) => {
    const db = libraryWithChanges(join(tmp.dir, `update-${Object.keys(env).length}`), env);
    const info = () => JSON.parse(ok(['index', 'show', 'v', '--json'], db, { env })).index;
    expect(info()).toMatchObject({ indexed: 295, unindexed: 100, stale: 5 });
    const before = queries.map((q) => ok(['query', '--lib', 'v', '--embedding', q, '-k', '5', '--ef', '400', '--json'], db, { env }));

    const updated = JSON.parse(ok(['index', 'build', '--lib', 'v', '--json'], db, { env }));
    expect(updated).toMatchObject({ type: 'hnsw', params: { m: 6, ef_construction: 40, ef_search: 8 }, build: { mode: 'incremental', reason: null, inserted: 100, removed: 5 } });
    expect(info()).toMatchObject({ indexed: 395, unindexed: 0, stale: 0 });
    // ef >= n: the graph is scanned, so the answers are exact before and after.
    expect(queries.map((q) => ok(['query', '--lib', 'v', '--embedding', q, '-k', '5', '--ef', '400', '--json'], db, { env }))).toEqual(before);
    // A small beam walks the updated graph (read from disk in a new process) and still finds most of them.
    const ids = (out: string) => (JSON.parse(out).hits as { id: string }[]).map((h) => h.id);
    let found = 0;
    queries.forEach((q, i) => {
      const want = new Set(ids(before[i]));
      found += ids(ok(['query', '--lib', 'v', '--embedding', q, '-k', '5', '--ef', '40', '--json'], db, { env })).filter((id) => want.has(id)).length;
    });
    expect(found / (5 * queries.length)).toBeGreaterThanOrEqual(0.8);

    const bytes = readBytes(db);
    expect(JSON.parse(ok(['index', 'build', '--lib', 'v', '--json'], db, { env })).build).toEqual({ mode: 'none', reason: null, inserted: 0, removed: 0 });
    expect(readBytes(db)).toEqual(bytes);
    expect(JSON.parse(ok(['index', 'build', '--lib', 'v', '--full', '--json'], db, { env })).build).toEqual({ mode: 'full', reason: 'full build requested', inserted: 395, removed: 0 });
  });

  it('gives byte-identical snapshots from the same seed', () => {
    const [a, b] = ['same-a', 'same-b'].map((name) => libraryWithChanges(join(tmp.dir, name)));
    for (const db of [a, b]) expect(JSON.parse(ok(['index', 'build', '--lib', 'v', '--json'], db)).build.mode).toBe('incremental');
    expect(readBytes(b)).toEqual(readBytes(a));
  });

  it('prints what it did in the table too', () => {
    const db = libraryWithChanges(join(tmp.dir, 'table'));
    expect(ok(['index', 'build', '--lib', 'v'], db)).toContain('build\tupdated in place: inserted 100 chunks, removed 5 stale entries');
  });
});

describe('vdb query --ef', () => {
  let hnsw: string;
  let linear: string;
  beforeAll(() => {
    hnsw = libraryWithChanges(join(tmp.dir, 'ef'));
    ok(['index', 'build', '--lib', 'v'], hnsw);
    mkdirSync(join(tmp.dir, 'ef-linear'));
    linear = join(tmp.dir, 'ef-linear', 'db.json');
    copyFileSync(hnsw, linear);
    ok(['index', 'build', '--lib', 'v', '--type', 'linear'], linear);
  });

  it('answers exactly when ef is at least the library size, from flags and from --stdin lines', () => {
    for (const q of queries) {
      const exact = ok(['query', '--lib', 'v', '--embedding', q, '-k', '10', '--json'], linear);
      expect(ok(['query', '--lib', 'v', '--embedding', q, '-k', '10', '--ef', '395', '--json'], hnsw)).toBe(exact);
    }
    const lines = queries.map((q) => `{"embedding": ${q}, "k": 10, "ef": 10000}`).join('\n');
    const flagged = queries.map((q) => `{"embedding": ${q}, "k": 10}`).join('\n');
    const want = ok(['query', '--lib', 'v', '--stdin'], linear, { input: flagged });
    expect(ok(['query', '--lib', 'v', '--stdin'], hnsw, { input: lines })).toBe(want);
    expect(ok(['query', '--lib', 'v', '--stdin', '--ef', '500'], hnsw, { input: flagged })).toBe(want);
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
