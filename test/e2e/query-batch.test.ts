/**
 * `vdb query --stdin` answers batches of lines together (and, on a large
 * enough library, on worker threads): its output must be byte for byte what
 * answering one line at a time (VDB_STDIN_BATCH=1) gives, errors included.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { VdbService } from '../../src/service/service.js';
import { VDB, childEnv, tempDir, vdb } from '../helpers/cli.js';

let tmp: ReturnType<typeof tempDir>;
let db: string;
const rnd = seededRandom('query-batch');
/** Small integers: duplicate rows and equal distances, so the tie order shows. */
const vector = (dim: number) => Array.from({ length: dim }, () => Math.floor(rnd.next() * 5) - 2 || 1);
const libs = [
  // 8192 × 64 floats: enough for two threads (2^18 floats each).
  { name: 'cos', metric: 'cosine', dim: 64, rows: 8192 },
  { name: 'l2', metric: 'l2', dim: 17, rows: 3000 },
  { name: 'dot', metric: 'dot', dim: 3, rows: 500 },
] as const;
const rowsOf = new Map<string, number[][]>();

beforeAll(async () => {
  tmp = tempDir();
  db = join(tmp.dir, 'db.json');
  // Built in process (chunk add --stdin has tests of its own); only the queries go through bin/vdb.
  const svc = new VdbService({ path: db });
  for (const { name, metric, dim, rows } of libs) {
    await svc.createLibrary({ name, dim, metric, embedder: null });
    const vectors = Array.from({ length: rows }, () => vector(dim));
    // Every 7th row is a copy of row 0.
    for (let r = 7; r < rows; r += 7) vectors[r] = vectors[0];
    rowsOf.set(name, vectors);
    await svc.addChunks(name, vectors.map((embedding, row) => ({ embedding, metadata: { row } })));
  }
}, 60_000);
afterAll(() => tmp.cleanup());

/** NDJSON queries: rows of the library itself (exact hits, ties), fresh vectors, k from 1 to more than a batch's worth of rows. */
function queryLines(name: string, dim: number, count: number): string[] {
  const rows = rowsOf.get(name)!;
  return Array.from({ length: count }, (_, i) => {
    const embedding = i % 3 === 0 ? rows[(i * 37) % rows.length] : vector(dim);
    return JSON.stringify(i % 5 === 4 ? { embedding } : { embedding, k: [1, 3, 10, 64, 250][i % 5] });
  });
}

const run = (name: string, input: string, env: Record<string, string> = {}) => vdb(['query', '--lib', name, '--stdin', '-k', '7'], { db, input, env });

/** The oracle: the service answering the lines one at a time, printed as query --stdin prints (-k 7). */
async function oneAtATime(name: string, lines: string[]): Promise<string> {
  const session = await new VdbService({ path: db }).querySession(name, { threads: 1 });
  try {
    let out = '';
    for (const line of lines) {
      const q = JSON.parse(line) as { embedding: number[]; k?: number };
      out += `${JSON.stringify(await session.query({ embedding: q.embedding, k: q.k ?? 7 }))}\n`;
    }
    return out;
  } finally {
    await session.close();
  }
}

describe('query --stdin in batches', () => {
  it.each(libs)('prints what one-at-a-time prints: $metric, dim $dim, $rows rows', async ({ name, dim }) => {
    const lines = queryLines(name, dim, 300);
    const input = `${lines.join('\n')}\n`;
    const single = { stdout: await oneAtATime(name, lines) };
    // The default is a thread per core (2 on the project's machines); 1 and 3 threads around it.
    for (const env of [{}, { VDB_THREADS: '1' }, { VDB_STDIN_BATCH: '7', VDB_THREADS: '3' }]) {
      const batched = run(name, input, env);
      expect(batched.code, batched.stderr).toBe(0);
      expect(batched.stderr).toBe('');
      expect(batched.stdout, JSON.stringify(env)).toBe(single.stdout);
    }
  });

  it('after an index build (linear) too, and the first hit of a stored row is that row at distance 0', async () => {
    await new VdbService({ path: db }).buildIndex('l2', { type: 'linear' });
    const rows = rowsOf.get('l2')!;
    const lines = [5, 6, 14].map((r) => JSON.stringify({ embedding: rows[r], k: 3 }));
    const input = `${lines.join('\n')}\n`;
    const r = run('l2', input);
    expect(r.code, r.stderr).toBe(0);
    const hits = r.stdout.trim().split('\n').map((l) => JSON.parse(l).hits);
    expect(hits.map((h) => h[0].distance)).toEqual([0, 0, 0]);
    // Rows 0, 7 and 14 are copies of one vector: ties go to the lower row.
    expect(hits[2].map((h: { metadata: { row: number }; distance: number }) => [h.metadata.row, h.distance])).toEqual([[0, 0], [7, 0], [14, 0]]);
    expect(r.stdout).toBe(await oneAtATime('l2', lines));
  });

  it('stops at a bad line exactly as one-at-a-time does: same stdout (flushed at 64 KiB), message and exit code', () => {
    const lines = queryLines('cos', 64, 200).map((l, i) => (i % 5 === 4 ? l : JSON.stringify({ ...JSON.parse(l), k: 250 })));
    lines[150] = '{"embedding": [1, 2], "k": 3}';
    const input = `${lines.join('\n')}\n`;
    const single = run('cos', input, { VDB_STDIN_BATCH: '1' });
    expect(single.code).toBe(3);
    expect(single.stderr).toBe('vdb: error: line 151: embedding has 2 dims, expected 64\n');
    expect(single.stdout.length).toBeGreaterThan(1 << 16);
    for (const env of [{ VDB_THREADS: '2' }]) {
      const batched = run('cos', input, env);
      expect(batched.code).toBe(3);
      expect(batched.stderr).toBe(single.stderr);
      expect(batched.stdout).toBe(single.stdout);
    }
  });

  it('answers a line as soon as stdin pauses, before stdin ends', async () => {
    const [first, second] = queryLines('dot', 3, 2);
    const child = spawn(process.execPath, [VDB, '--db', db, 'query', '--lib', 'dot', '--stdin', '-k', '7'], { env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const firstAnswer = new Promise<void>((resolve) => child.stdout.on('data', (d) => ((stdout += d), stdout.includes('\n') && resolve())));
    child.stdin.write(`${first}\n`);
    await firstAnswer;
    expect(stdout.trim().split('\n')).toHaveLength(1);
    child.stdin.end(`${second}\n`);
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(await oneAtATime('dot', [first, second]));
  });
});
