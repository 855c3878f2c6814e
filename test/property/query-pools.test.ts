/**
 * Worker pools (src/service/pools.ts, src/index/pool.ts) that search every
 * query off the main thread, as a server's do, or with this thread answering
 * its share of each batch, against one thread, in a Node
 * program that queries and writes through one VdbService (its writes change
 * the very library the pools search), under random interleavings of:
 * batches of vector queries left in flight, filtered queries answered on this
 * thread, writes that make a new generation (and a new pool over the same
 * shared block, or over a new index) while batches are in flight: adds,
 * deletes, re-embeds, metadata, index updates and rebuilds; and a worker
 * killed mid-run.
 * Every answer must be, bit for bit, what one thread gave for that query when
 * it was sent, or after a write made while it was in flight (a batch is
 * answered by one pool, over one state); a batch whose worker was killed
 * goes once more to a fresh pool, so only one in flight at two kills may
 * fail instead, and nothing after that may. And the same writes through a
 * service as `vdb serve` runs it (reads while it writes, on a private copy;
 * builds off the main thread; each query a request of its own): every answer
 * is one thread's over a committed state. Runs the compiled modules (a pool
 * needs the compiled worker beside them: `npm test` builds them).
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import type { VdbService } from '../../src/service/service.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { clustered } from '../helpers/oracle.js';

const DIST = `${ROOT}/dist`;
const tmp = tempDir('vdb-pools-prop-');
afterAll(() => tmp.cleanup());

const DIM = 12;
const ROWS = 900;
/** Queries ahead, as a server that has answered many: the pool opens at the first batch. */
const LOTS = 100_000;

type Write = 'add' | 'delete' | 'reembed' | 'metadata' | 'refresh' | 'rebuild';
type Op = { op: 'batch'; size: number; seed: number } | { op: 'filtered'; seed: number } | { op: Write; seed: number } | { op: 'kill' } | { op: 'settle' };

const ops: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 60 }), seed: fc.integer() }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('filtered' as const), seed: fc.integer() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('add' as const), seed: fc.integer() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constantFrom<Write>('delete', 'reembed', 'metadata', 'refresh', 'rebuild'), seed: fc.integer() }), weight: 2 },
  { arbitrary: fc.constant({ op: 'kill' as const }), weight: 1 },
  { arbitrary: fc.constant({ op: 'settle' as const }), weight: 1 },
);

/** A turn of the event loop: a batch sent is posted to its workers before what follows. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

const vector = (rnd: { gaussian(): number }) => Array.from({ length: DIM }, () => rnd.gaussian());

/** The queries of a batch (several k and ef) or of a filtered query (answered on this thread). */
function inputsOf(step: { op: 'batch'; size: number; seed: number } | { op: 'filtered'; seed: number }): object[] {
  const rnd = seededRandom(step.seed);
  if (step.op === 'filtered') return [{ embedding: vector(rnd), k: 4, where: ['i<300'] }];
  return Array.from({ length: step.size }, (_, i) => ({ embedding: vector(rnd), k: 1 + (i % 7), ef: i % 3 === 0 ? 10 + i : undefined }));
}

/** The write `step` through `svc`, on library p. */
async function write(svc: VdbService, step: { op: Write; seed: number }): Promise<void> {
  if (step.op === 'add') return void (await svc.addChunks('p', [{ embedding: vector(seededRandom(step.seed)), metadata: { i: -1 } }]));
  // An update in place folds the rows added and re-embedded since into the graph; a rebuild makes a new one, while
  // the old one goes on answering.
  if (step.op === 'refresh' || step.op === 'rebuild') return void (await svc.buildIndex('p', { type: 'hnsw', full: step.op === 'rebuild' }));
  const { chunks } = svc.listChunks('p', { offset: Math.abs(step.seed) % 800, limit: 1 });
  if (step.op === 'delete') await svc.deleteChunks([chunks[0].id], 'p');
  else if (step.op === 'reembed') await svc.updateChunk(chunks[0].id, { embedding: vector(seededRandom(step.seed)) }, 'p');
  else await svc.setMetadata('p', { ids: [chunks[0].id] }, { i: step.seed }, { mode: 'merge' });
}

let base: Promise<string> | undefined;
/** The database every run starts from (once): an hnsw library, its arrays in sidecar files however small, so a library loaded afresh stays on disk and its rows are paged in by whichever thread needs them. */
function baseDb(): Promise<string> {
  base ??= (async () => {
    const { VdbService } = await import(`${DIST}/service/service.js`);
    const path = join(tmp.dir, 'base.json');
    const sidecars = process.env.VDB_SIDECAR_MIN_BYTES;
    process.env.VDB_SIDECAR_MIN_BYTES = '1';
    try {
      const writer = new VdbService({ path, seed: 'pools-prop' });
      await writer.createLibrary({ name: 'p', dim: DIM, metric: 'cosine', embedder: null });
      const raw = clustered(ROWS, DIM, 9, 0.35, 11);
      await writer.addChunks('p', Array.from({ length: ROWS }, (_, i) => ({ embedding: Array.from(raw.subarray(i * DIM, (i + 1) * DIM)), metadata: { i } })));
      await writer.buildIndex('p', { type: 'hnsw', m: 8, ef_construction: 48, ef_search: 24 });
    } finally {
      if (sidecars === undefined) delete process.env.VDB_SIDECAR_MIN_BYTES;
      else process.env.VDB_SIDECAR_MIN_BYTES = sidecars;
    }
    return path;
  })();
  return base;
}

let copies = 0;
/** A copy of the base database (the manifest, its log and its sidecars), for one run. */
async function copyOfBase(): Promise<string> {
  await baseDb();
  const name = `run-${copies++}.json`;
  for (const f of readdirSync(tmp.dir).filter((f) => f.startsWith('base.json'))) cpSync(join(tmp.dir, f), join(tmp.dir, f.replace('base.json', name)), { recursive: true });
  return join(tmp.dir, name);
}

describe.runIf(existsSync(`${DIST}/index/query-worker.js`))('query pools under writes', () => {
  it('answer every query as one thread did when it was sent, across writes, batches in flight and a killed worker', async () => {
    const { VdbService, QuerySession, answerPrepared } = await import(`${DIST}/service/service.js`);
    const { QueryPools } = await import(`${DIST}/service/pools.js`);
    await fc.assert(
      fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 14 }), fc.boolean(), async (plan, offThread) => {
        const path = await copyOfBase();
        // As a server does: pools first (rows read from then on go into shared memory), then the library.
        // Every search on a worker (a server's pools), or this thread answering its share of each batch too.
        const pools = offThread ? new QueryPools(3, true) : new QueryPools(2);
        const source = new VdbService({ path, seed: 'pools-prop' });
        const lib = source.store.read().library('p');
        const session = new QuerySession(lib, {}, pools);
        /** Each batch sent: its answers, and what one thread answered when it was sent, after each write while it was in flight, and when it settled. */
        const sent: { answers: Promise<unknown>; queries: unknown[]; expected: unknown[]; settled: boolean; kills: number }[] = [];
        const wrote = () => {
          for (const s of sent) if (!s.settled) s.expected.push(s.queries.map((q) => answerPrepared(lib, q)));
        };
        try {
          for (const step of plan) {
            if (step.op === 'batch' || step.op === 'filtered') {
              const queries = await Promise.all(inputsOf(step).map((q) => session.prepare(q)));
              const answers = session.queryBatch(queries, LOTS);
              const batch = { answers, queries, expected: [queries.map((q: unknown) => answerPrepared(lib, q))], settled: false, kills: 0 };
              // As of when it settles, too: a write may have landed in between and not returned yet.
              answers.then(
                () => ((batch.settled = true), batch.expected.push(queries.map((q: unknown) => answerPrepared(lib, q)))),
                () => (batch.settled = true),
              );
              sent.push(batch);
              await turn();
            } else if (step.op !== 'kill' && step.op !== 'settle') {
              await write(source, step);
              wrote();
            } else if (step.op === 'kill') {
              const pool = pools.get(lib, 1, LOTS) as { workers: { worker: { terminate(): Promise<number> } }[] } | null;
              if (pool === null) continue;
              for (const s of sent) if (!s.settled) s.kills++;
              await pool.workers[0].worker.terminate();
            } else {
              await Promise.allSettled(sent.map((s) => s.answers));
            }
          }
          for (const [i, s] of sent.entries()) {
            const outcome = await s.answers.then(
              (value) => ({ value }),
              (error: Error) => ({ error: error.message }),
            );
            // A batch whose worker failed goes once more to a fresh pool: only a second failure reaches the caller.
            if ('error' in outcome) expect(s.kills, `batch ${i + 1}: ${outcome.error}`).toBeGreaterThanOrEqual(2);
            else expect(s.expected, `batch ${i + 1}`).toContainEqual(outcome.value);
          }
          // And after all of it, the pool answers as one thread.
          const last = await Promise.all(Array.from({ length: 30 }, (_, i) => session.prepare({ embedding: vector(seededRandom(i)), k: 5 })));
          expect(await session.queryBatch(last, LOTS)).toEqual(last.map((q: unknown) => answerPrepared(lib, q)));
        } finally {
          await session.close();
          await pools.close();
        }
      }),
      { numRuns: 12, seed: 20261203 },
    );
  }, 120_000);

  it('as vdb serve runs them (reads while it writes, builds off the main thread): every answer is one thread\'s over a committed state', async () => {
    const { VdbService, QuerySession, answerPrepared } = await import(`${DIST}/service/service.js`);
    const { QUERIES_BEFORE_POOL } = await import(`${DIST}/service/pools.js`);
    const writes = ops.filter((o) => o.op !== 'kill');
    await fc.assert(
      fc.asyncProperty(fc.array(writes, { minLength: 1, maxLength: 12 }), async (plan) => {
        const path = await copyOfBase();
        const svc = new VdbService({ path, seed: 'pools-prop', concurrentReaders: true, buildsOffThread: true, queryThreads: 3 });
        /** One thread's answer over the database as committed now. */
        const oneThread = async (input: object) => {
          const lib = svc.store.read().library('p');
          return answerPrepared(lib, await new QuerySession(lib).prepare(input));
        };
        const sent: { answer: Promise<unknown>; input: object; expected: unknown[]; settled: boolean }[] = [];
        const wrote = async () => {
          for (const s of sent) if (!s.settled) s.expected.push(await oneThread(s.input));
        };
        try {
          // First a batch past the queries a generation answers on this thread: every plan starts with a pool open.
          const warm = { op: 'batch' as const, size: QUERIES_BEFORE_POOL + 6, seed: 7 };
          for (const step of [warm, ...plan]) {
            if (step.op === 'batch' || step.op === 'filtered') {
              // Each query a request of its own, all at once: past the first QUERIES_BEFORE_POOL of a generation, on the pool.
              for (const input of inputsOf(step)) {
                const query = { answer: svc.query('p', input), input, expected: [await oneThread(input)], settled: false };
                query.answer.then(
                  async () => {
                    query.settled = true;
                    query.expected.push(await oneThread(input));
                  },
                  () => (query.settled = true),
                );
                sent.push(query);
              }
              await turn();
              if (step === warm) {
                await Promise.allSettled(sent.map((q) => q.answer));
                const generations = [...(svc as unknown as { pools: { byLib: Map<string, { pool: unknown }> } }).pools.byLib.values()];
                expect(generations.some((g) => g.pool !== null)).toBe(true);
              }
            } else if (step.op !== 'settle') {
              await write(svc, step);
              await wrote();
            } else {
              await Promise.allSettled(sent.map((s) => s.answer));
            }
          }
          for (const [i, s] of sent.entries()) {
            const got = await s.answer;
            // The alternative recorded at settle time may still be on its way.
            await turn();
            expect(s.expected, `query ${i + 1}`).toContainEqual(got);
          }
        } finally {
          await svc.closeQueryThreads();
        }
      }),
      { numRuns: 10, seed: 20261203 },
    );
  }, 120_000);
});
