/**
 * `vdb query --stdin` on an HNSW index answers plain vector lines on worker
 * threads sharing the graph and the rows (src/index/pool.ts): its output must
 * be byte for byte what one thread answering one line at a time gives, for
 * any thread count and batch size, with lines the main thread keeps (filters,
 * explain) mixed in; and the threaded answers keep HNSW's recall.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { QUERIES_BEFORE_POOL } from '../../src/service/pools.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdb } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const rnd = seededRandom('query-threads');
const DIM = 24;
const ROWS = 2000;
/** Coarse values (ties in distance) around a few centres (a graph worth walking). */
const vector = (centre: number) => Array.from({ length: DIM }, (_, i) => Math.round(4 * Math.sin(centre * (i + 1)) + 3 * (rnd.next() - 0.5)) || 1);
let live: { row: number; v: number[] }[] = [];

beforeAll(async () => {
  tmp = tempDir();
  db = join(tmp.dir, 'db.json');
  const svc = new VdbService({ path: db, seed: 'query-threads' });
  for (const metric of ['cosine', 'l2'] as const) {
    await svc.createLibrary({ name: metric, dim: DIM, metric, embedder: null });
    const vectors = Array.from({ length: ROWS }, (_, r) => vector(r % 17));
    // Every 11th row repeats row 0: equal distances, so the tie order shows.
    for (let r = 11; r < ROWS; r += 11) vectors[r] = vectors[0];
    const added = await svc.addChunks(metric, vectors.map((embedding, row) => ({ embedding, metadata: { row, even: row % 2 === 0 } })));
    await svc.buildIndex(metric, { type: 'hnsw', m: 8, ef_construction: 64, ef_search: 32 });
    // Dead slots (deleted since the build) and rows the index does not cover (added since).
    const gone = added.filter((_, r) => r % 97 === 5).map((c) => c.id);
    await svc.deleteChunks(gone, metric);
    const extra = Array.from({ length: 40 }, (_, i) => vector(i % 5));
    await svc.addChunks(metric, extra.map((embedding, i) => ({ embedding, metadata: { row: ROWS + i, even: i % 2 === 0 } })));
    if (metric === 'cosine') {
      live = vectors.map((v, row) => ({ row, v })).filter(({ row }) => row % 97 !== 5);
      live.push(...extra.map((v, i) => ({ row: ROWS + i, v })));
    }
  }
}, 60_000);
afterAll(() => tmp.cleanup());

/** Plain lines (several k and ef), a few kept on the main thread (filter, explain). */
function lines(count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const embedding = i % 4 === 0 ? live[(i * 31) % live.length].v : vector(i % 17);
    const line: Record<string, unknown> = { embedding, k: [1, 5, 10, 40][i % 4] };
    if (i % 6 === 1) line.ef = 16 + (i % 5) * 20;
    if (i % 37 === 3) line.filter = { even: true };
    if (i % 53 === 7) line.explain = true;
    out.push(JSON.stringify(line));
  }
  return `${out.join('\n')}\n`;
}

const run = (lib: string, input: string, env: Record<string, string>) => vdb(['query', '--lib', lib, '--stdin'], { db, input, env });

describe('query --stdin on hnsw, on worker threads', () => {
  it.each([
    { lib: 'cosine', envs: [{ VDB_THREADS: '2' }, { VDB_THREADS: '3', VDB_STDIN_BATCH: '7' }] },
    { lib: 'l2', envs: [{ VDB_THREADS: '2', VDB_STDIN_BATCH: '200' }] },
  ])('$lib: the same bytes as one thread, line by line, whatever the threads and batch size', ({ lib, envs }) => {
    const input = lines(240);
    const one = run(lib, input, { VDB_THREADS: '1', VDB_STDIN_BATCH: '1' });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.split('\n')).toHaveLength(241);
    for (const env of envs) {
      const many = run(lib, input, env);
      expect(many.code, many.stderr).toBe(0);
      expect(many.stderr).toBe('');
      expect(many.stdout, JSON.stringify(env)).toBe(one.stdout);
    }
    // From a file, whose size tells how many lines follow: 240 narrow searches do not earn a pool, so they stay on
    // this thread; told to (VDB_POOL_LINES), the pool opens at the first batch. The same bytes either way.
    const file = join(tmp.dir, `${lib}-lines.ndjson`);
    writeFileSync(file, input);
    for (const env of [{ VDB_THREADS: '2' }, { VDB_THREADS: '2', VDB_POOL_LINES: '1' }]) {
      const fromFile = vdb(['query', '--lib', lib, '--stdin'], { db, stdinFile: file, env });
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromFile.stdout, JSON.stringify(env)).toBe(one.stdout);
    }
  });

  it('stops at a bad line with batches in flight as one thread does: the answers before it, its message, its exit code', () => {
    const good = lines(230).trimEnd().split('\n');
    const input = `${[...good.slice(0, 211), '{"embedding": [1, 2', ...good.slice(211)].join('\n')}\n`;
    const one = run('cosine', input, { VDB_THREADS: '1', VDB_STDIN_BATCH: '1' });
    expect([one.code, one.stderr]).toEqual([3, expect.stringContaining('line 212: not valid JSON')]);
    expect(one.stdout.trimEnd().split('\n')).toHaveLength(211);
    const many = run('cosine', input, { VDB_THREADS: '2', VDB_STDIN_BATCH: '5' });
    expect([many.code, many.stderr]).toEqual([one.code, one.stderr]);
    expect(many.stdout).toBe(one.stdout);
    // From a file, whose reader's waits do not hold the answers back.
    const file = join(tmp.dir, 'bad-line.ndjson');
    writeFileSync(file, input);
    const fromFile = vdb(['query', '--lib', 'cosine', '--stdin'], { db, stdinFile: file, env: { VDB_THREADS: '2', VDB_STDIN_BATCH: '5', VDB_POOL_LINES: '1' } });
    expect([fromFile.code, fromFile.stderr, fromFile.stdout]).toEqual([one.code, one.stderr, one.stdout]);
  });

  it('a damaged page of the rows, paged in by the workers, fails as on one thread: same message, same exit code, data untouched', () => {
    const copy = join(tmp.dir, 'damaged.json');
    cpSync(db, copy);
    cpSync(`${db}.d`, `${copy}.d`, { recursive: true });
    const manifest = JSON.parse(readFileSync(copy, 'utf8'));
    const file = join(`${copy}.d`, manifest.libraries.find((l: { name: string }) => l.name === 'cosine').vectors.file);
    const bytes = readFileSync(file);
    for (let p = 0; p < bytes.length; p += 4096) bytes[p + 9] ^= 0x10;
    writeFileSync(file, bytes);
    const input = join(tmp.dir, 'damaged-lines.ndjson');
    writeFileSync(input, lines(200));
    const ask = (env: Record<string, string>) => vdb(['query', '--lib', 'cosine', '--stdin'], { db: copy, stdinFile: input, env });
    const one = ask({ VDB_THREADS: '1' });
    expect(one.code).toBe(6);
    expect(one.stderr).toMatch(/is corrupt: libraries\[0\]\.vectors: sidecar g\d+-\d+\.f32 fails its checksum \(damaged\)/);
    // Several times: a worker that posted after its pool began to close once let the process end with 0, silently.
    for (let i = 0; i < 4; i++) {
      const many = ask({ VDB_THREADS: '2', VDB_POOL_LINES: '1' });
      expect([many.code, many.stderr]).toEqual([one.code, one.stderr]);
    }
    expect(readFileSync(file)).toEqual(bytes);
  });

  it('keeps the recall of the index (recall@10 against the exact order ≥ 0.9)', () => {
    const queries = Array.from({ length: 150 }, (_, i) => vector(i % 17));
    const r = run('cosine', `${queries.map((embedding) => JSON.stringify({ embedding, k: 10 })).join('\n')}\n`, { VDB_THREADS: '3' });
    expect(r.code, r.stderr).toBe(0);
    const cos = (a: number[], b: number[]) => {
      let d = 0, na = 0, nb = 0;
      for (let i = 0; i < DIM; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
      return d / Math.sqrt(na * nb);
    };
    let found = 0;
    r.stdout.trim().split('\n').forEach((line, i) => {
      const got = JSON.parse(line).hits as { metadata: { row: number }; score: number }[];
      // The exact 10th similarity: a hit at least that similar counts (ties make the set of 10 ambiguous).
      const tenth = live.map(({ v }) => cos(queries[i], v)).sort((a, b) => b - a)[9];
      found += got.filter((h) => h.score >= tenth - 1e-6).length;
    });
    expect(found / (10 * queries.length)).toBeGreaterThanOrEqual(0.9);
  });

  it('REST: a write while queries are in flight on the pool: every answer is one thread\'s, from before the write or after it', async () => {
    // A copy: the write stays out of the other tests' database.
    const copy = join(tmp.dir, 'in-flight.json');
    cpSync(db, copy);
    cpSync(`${db}.d`, `${copy}.d`, { recursive: true });
    const input = lines(60);
    const bodies = input.trim().split('\n');
    const oneThread = () => {
      const r = vdb(['query', '--lib', 'cosine', '--stdin'], { db: copy, input, env: { VDB_THREADS: '1', VDB_STDIN_BATCH: '1' } });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    };
    const before = oneThread();
    const server = await serve({ db: copy, env: { VDB_THREADS: '2' } });
    try {
      const ask = () => Promise.all(bodies.map((body) => fetch(`${server.url}/api/v1/libraries/cosine/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => [r.status, await r.json()])));
      for (let round = 0; round * bodies.length <= QUERIES_BEFORE_POOL; round++) expect(await ask()).toEqual(before.map((b) => [200, b]));
      // Rounds in flight on the pool when the write lands, and rounds sent after it, while the first are answered.
      const flying = [ask(), ask(), ask()];
      const add = await fetch(`${server.url}/api/v1/libraries/cosine/chunks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chunks: [{ embedding: JSON.parse(bodies[1]).embedding, metadata: { row: -1, even: true } }] }) });
      expect(add.status).toBe(201);
      const rounds = await Promise.all([...flying, ask(), ask(), ask()]);
      expect(await server.stop()).toBe(0);
      const after = oneThread();
      expect(after[1].hits[0].metadata.row).toBe(-1);
      for (const round of rounds) {
        round.forEach(([status, body], i) => {
          expect(status).toBe(200);
          expect([before[i], after[i]], `line ${i + 1}`).toContainEqual(body);
        });
      }
    } finally {
      await server.stop();
    }
  });

  it('REST: concurrent queries on the pool answer as one thread, also after a write made a new generation, and the server stops cleanly', async () => {
    const input = lines(60);
    const bodies = input.trim().split('\n');
    const expected = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));
    const before = expected(run('cosine', input, { VDB_THREADS: '1', VDB_STDIN_BATCH: '1' }).stdout);
    const server = await serve({ db, env: { VDB_THREADS: '2' } });
    try {
      const ask = () => Promise.all(bodies.map((body) => fetch(`${server.url}/api/v1/libraries/cosine/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => [r.status, await r.json()])));
      // The first QUERIES_BEFORE_POOL queries of a generation run on the main thread, the rest on the pool.
      for (let round = 0; round * bodies.length <= QUERIES_BEFORE_POOL; round++) expect(await ask()).toEqual(before.map((b) => [200, b]));
      const add = await fetch(`${server.url}/api/v1/libraries/cosine/chunks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chunks: [{ embedding: JSON.parse(bodies[1]).embedding, metadata: { row: -1, even: true } }] }) });
      expect(add.status).toBe(201);
      for (let round = 0; round * bodies.length < QUERIES_BEFORE_POOL; round++) await ask();
      const after = await ask();
      expect(after.map(([status]) => status)).toEqual(bodies.map(() => 200));
      // The new chunk is line 1's query itself: its nearest hit now.
      expect((after[1][1] as { hits: { metadata: { row: number } }[] }).hits[0].metadata.row).toBe(-1);
      expect(await server.stop()).toBe(0);
      expect(after.map(([, b]) => b)).toEqual(expected(run('cosine', input, { VDB_THREADS: '1', VDB_STDIN_BATCH: '1' }).stdout));
    } finally {
      await server.stop();
    }
  });
});
