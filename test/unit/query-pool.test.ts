/**
 * SearchPool (src/index/pool.ts): worker threads over one shared HNSW block
 * answer as this thread does, bit for bit; a failing worker becomes one error,
 * not a hang; an idle pool never keeps the process alive. Runs the compiled
 * worker (dist/index/query-worker.js, built by `npm test`; `npm run build` first when running this file alone).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { allocRows, shareRowsFromStart } from '../../src/index/kernels.js';
import { SearchPool, nearestUnfiltered, splitByBacklog } from '../../src/index/pool.js';
import { RowPages } from '../../src/index/row-pages.js';
import { PAGE_BYTES } from '../../src/store/sidecar.js';
import type { PageSource } from '../../src/store/sidecar.js';
import type { SearchSpace } from '../../src/index/types.js';
import { ROOT, tempDir } from '../helpers/cli.js';
import { clustered, makeSpace, prepareQuery } from '../helpers/oracle.js';

const WORKER = new URL(`file://${ROOT}/dist/index/query-worker.js`);
const tmp = tempDir('vdb-pool-');
afterAll(() => tmp.cleanup());

const DIM = 20;
function setup(n = 1500) {
  const space = makeSpace('cosine', clustered(n, DIM, 12, 0.3, 7), DIM);
  const index = HnswIndex.build(space, { m: 8, ef_construction: 48, ef_search: 24 }, { random: seededRandom('pool') });
  const rnd = seededRandom('pool-queries');
  const queries = Array.from({ length: 60 }, (_, i) => ({
    vector: prepareQuery('cosine', Float32Array.from({ length: DIM }, () => rnd.gaussian())),
    k: 1 + (i % 12),
    ef: i % 3 === 0 ? 10 + i : undefined,
  }));
  return { space, index, queries };
}

describe.runIf(existsSync(WORKER))('SearchPool', () => {
  it('answers as this thread does, with dead slots and unindexed rows, then closes', async () => {
    const { space, index, queries } = setup();
    // Slot 3 dead, row 3 not covered by the index (as after a re-embed).
    const slotToRow = Int32Array.from({ length: space.rows }, (_, s) => (s === 3 ? -1 : s));
    const mapped: SearchSpace = { ...space, slotToRow };
    const expected = queries.map((q) => nearestUnfiltered(index, mapped, [3], q));
    const pool = SearchPool.open(index, mapped, [3], { threads: 3, workerUrl: WORKER });
    expect(pool?.threads).toBe(3);
    try {
      const got = await pool!.search(queries);
      expect(got.map((r) => [Array.from(r.keys), Array.from(r.dists)])).toEqual(expected.map((r) => [Array.from(r.keys), Array.from(r.dists)]));
      // This thread's own searches on the now shared block are unchanged too.
      expect(Array.from(nearestUnfiltered(index, mapped, [3], queries[5]).dists)).toEqual(Array.from(expected[5].dists));
    } finally {
      await pool!.close();
    }
    await expect(pool!.search(queries)).rejects.toThrow('search pool is closed');
  });

  it('gives each query of a batch to the worker with the fewest in hand, so one that fell behind gets less', () => {
    expect(splitByBacklog([0, 0], 96)).toEqual([48, 48]);
    expect(splitByBacklog([40, 0], 96)).toEqual([28, 68]);
    expect(splitByBacklog([200, 0], 96)).toEqual([0, 96]);
    expect(splitByBacklog([0, 0], 1)).toEqual([1, 0]);
    expect(splitByBacklog([3, 0, 1], 1)).toEqual([0, 1, 0]);
    expect(splitByBacklog([5, 2, 2], 4)).toEqual([0, 2, 2]);
  });

  it('answers concurrent batches of any size in order, whichever worker takes which part', async () => {
    const { space, index, queries } = setup();
    const keysOf = (rs: { keys: Int32Array; dists: Float64Array }[]) => rs.map((r) => [Array.from(r.keys), Array.from(r.dists)]);
    const pool = SearchPool.open(index, space, [], { threads: 3, offThread: true, workerUrl: WORKER })!;
    try {
      const sizes = [1, 7, queries.length, 2, 1, queries.length - 3, 5];
      const batches = sizes.map((n, b) => Array.from({ length: n }, (_, i) => queries[(b * 3 + i) % queries.length]));
      const answers = await Promise.all(batches.map((batch) => pool.search(batch)));
      answers.forEach((a, b) => expect(keysOf(a), `batch ${b}`).toEqual(keysOf(batches[b].map((q) => nearestUnfiltered(index, space, [], q)))));
    } finally {
      await pool.close();
    }
  });

  it('answers the same from a second pool over the same shared block, whose workers reuse the first ones\' regions', async () => {
    const { space, index, queries } = setup();
    const expected = queries.map((q) => nearestUnfiltered(index, space, [], q));
    const keysOf = (rs: { keys: Int32Array; dists: Float64Array }[]) => rs.map((r) => [Array.from(r.keys), Array.from(r.dists)]);
    for (let round = 0; round < 3; round++) {
      const pool = SearchPool.open(index, space, [], { threads: 3, offThread: true, workerUrl: WORKER })!;
      try {
        expect(keysOf(await pool.search(queries)), `pool ${round + 1}`).toEqual(keysOf(expected));
      } finally {
        await pool.close();
      }
    }
  });

  it('lets one pool at a time search in a block\'s worker regions: another open pool is refused, one that is closing is waited for', async () => {
    const { space, index, queries } = setup();
    const many = Array.from({ length: 20 }, () => queries).flat();
    const keysOf = (rs: { keys: Int32Array; dists: Float64Array }[]) => rs.map((r) => [Array.from(r.keys), Array.from(r.dists)]);
    const expected = keysOf(many.map((q) => nearestUnfiltered(index, space, [], q)));
    const open = () => SearchPool.open(index, space, [], { threads: 3, offThread: true, workerUrl: WORKER });
    const first = open()!;
    // Its workers would search in the same regions as this one's: the caller answers on its own thread instead.
    expect(open()).toBeNull();
    const busy = first.search(many);
    const closing = first.close();
    // Opened while the first still answers what it was sent: its workers wait until the first's have stopped.
    const second = open()!;
    expect(second).not.toBeNull();
    try {
      const [a, b] = await Promise.all([busy, second.search(many)]);
      expect(keysOf(a)).toEqual(expected);
      expect(keysOf(b)).toEqual(expected);
      await closing;
    } finally {
      await second.close();
    }
    const third = open()!;
    expect(keysOf(await third.search(queries))).toEqual(expected.slice(0, queries.length));
    await third.close();
  });

  it('takes the workers prestart started, and answers the same', async () => {
    const { space, index, queries } = setup(600);
    const expected = queries.map((q) => nearestUnfiltered(index, space, [], q));
    SearchPool.prestart(3, { workerUrl: WORKER });
    expect(SearchPool.spares).toBe(2);
    // Asked again (a second pool's decision), it starts no more than a pool needs.
    SearchPool.prestart(3, { workerUrl: WORKER });
    expect(SearchPool.spares).toBe(2);
    const pool = SearchPool.open(index, space, [], { threads: 3, workerUrl: WORKER })!;
    expect(SearchPool.spares).toBe(0);
    try {
      const got = await pool.search(queries);
      expect(got.map((r) => Array.from(r.keys))).toEqual(expected.map((r) => Array.from(r.keys)));
    } finally {
      await pool.close();
    }
  });

  it('is not opened for one thread', () => {
    const { space, index } = setup(200);
    expect(SearchPool.open(index, space, [], { threads: 1, workerUrl: WORKER })).toBeNull();
  });

  it('pages rows still on disk from the workers, through the claims every thread shares: the same answers; damage as this thread reports it', async () => {
    const { space, index, queries } = setup(1200);
    const raw = clustered(1200, DIM, 12, 0.3, 7);
    // The raw rows as a vectors sidecar with its page table; a second copy with one page damaged.
    const source = (name: string, damage: boolean | number): PageSource => {
      const bytes = new Uint8Array(raw.buffer.slice(0));
      const table = Uint32Array.from({ length: Math.ceil(bytes.byteLength / PAGE_BYTES) }, (_, p) => crc32(bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES)));
      for (let p = 0; p < table.length; p++) if (damage === true || damage === p) bytes[p * PAGE_BYTES + 5] ^= 1;
      writeFileSync(join(tmp.dir, name), bytes);
      return { fd: openSync(join(tmp.dir, name), 'r'), file: name, bytes: bytes.byteLength, table };
    };
    const refuse = (what: string): never => {
      throw new Error(`rows damaged: ${what}`);
    };
    shareRowsFromStart(2);
    const paged = (src: PageSource) => {
      const data = allocRows(space.rows * DIM, DIM);
      const pages = RowPages.open(src, space.rows, DIM, 'cosine', data, refuse, () => () => undefined);
      return { ...space, data, fill: pages.fill, pages };
    };
    const expected = queries.map((q) => nearestUnfiltered(index, space, [], q));
    const good = paged(source('rows.f32', false));
    expect(SearchPool.pagesRows(good)).toBe(true);
    const pool = SearchPool.open(index, good, [], { threads: 3, workerUrl: WORKER, offThread: true })!;
    try {
      const got = await pool.search(queries);
      expect(got.map((r) => [Array.from(r.keys), Array.from(r.dists)])).toEqual(expected.map((r) => [Array.from(r.keys), Array.from(r.dists)]));
      // The workers read what they re-scored, and only that: this thread searched nothing.
      const ready = good.pages.share.rowStates.filter((s) => s === 2).length;
      expect(ready).toBeGreaterThan(0);
      expect(ready).toBeLessThan(space.rows);
    } finally {
      await pool.close();
    }
    const bad = SearchPool.open(index, paged(source('damaged.f32', true)), [], { threads: 2, workerUrl: WORKER, offThread: true })!;
    try {
      await expect(bad.search(queries)).rejects.toThrow(/^rows damaged: sidecar damaged\.f32 fails its checksum \(damaged\)$/);
    } finally {
      await bad.close();
    }
    // One damaged page: the queries that re-score a row on it fail, every time, as on this thread; the others are
    // answered as before (damage is not a failed worker: the pool goes on, it is not replaced).
    const onePage = SearchPool.open(index, paged(source('one-damaged.f32', 4)), [], { threads: 2, workerUrl: WORKER, offThread: true })!;
    try {
      const failedIn: number[][] = [[], []];
      for (const round of [0, 1]) {
        for (const [i, q] of queries.entries()) {
          const got = await onePage.search([q]).catch((err: Error) => err);
          if (got instanceof Error) {
            expect(got.message).toBe('rows damaged: sidecar one-damaged.f32 fails its checksum (damaged)');
            failedIn[round].push(i);
          } else {
            expect([Array.from(got[0].keys), Array.from(got[0].dists)]).toEqual([Array.from(expected[i].keys), Array.from(expected[i].dists)]);
          }
          expect(onePage.broken).toBe(false);
        }
      }
      expect(failedIn[0].length).toBeGreaterThan(0);
      expect(failedIn[0].length).toBeLessThan(queries.length);
      expect(failedIn[1]).toEqual(failedIn[0]);
    } finally {
      await onePage.close();
    }
  });

  it('gives back the claims of a worker that stopped in the middle of a page: this thread then reads that page itself, at once', async () => {
    // Enough rows for a block of their own (allocRows), which the worker pages into.
    const { space, index, queries } = setup(1200);
    const raw = clustered(1200, DIM, 12, 0.3, 7);
    const bytes = new Uint8Array(raw.buffer.slice(0));
    const table = Uint32Array.from({ length: Math.ceil(bytes.byteLength / PAGE_BYTES) }, (_, p) => crc32(bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES)));
    writeFileSync(join(tmp.dir, 'stop.f32'), bytes);
    const src: PageSource = { fd: openSync(join(tmp.dir, 'stop.f32'), 'r'), file: 'stop.f32', bytes: bytes.byteLength, table };
    shareRowsFromStart(1);
    const data = allocRows(space.rows * DIM, DIM);
    const pages = RowPages.open(src, space.rows, DIM, 'cosine', data, () => {
      throw new Error('unexpected damage');
    }, () => () => undefined);
    const paged: SearchSpace = { ...space, data, fill: pages.fill, pages };
    // The real worker, except that its first page read ends the thread where it stands, its claim still held
    // (process.exit in a worker stops it at once: no finally runs).
    const dying = join(tmp.dir, 'dying-worker.mjs');
    writeFileSync(dying, [`import { RowPages } from '${ROOT}/dist/index/row-pages.js';`, "RowPages.prototype.readPages = function () { process.exit(7); };", `await import('${ROOT}/dist/index/query-worker.js');`].join('\n'));
    const pool = SearchPool.open(index, paged, [], { threads: 2, offThread: true, workerUrl: new URL(`file://${dying}`) })!;
    try {
      await expect(pool.search(queries)).rejects.toThrow('query worker 1 failed: it exited with code 7');
      expect(pages.share.pageStates.some((s) => s < 0)).toBe(false);
      // Without the claim given back, this would wait 30 s on it and then fail.
      const expected = queries.map((q) => nearestUnfiltered(index, space, [], q));
      expect(queries.map((q) => Array.from(nearestUnfiltered(index, paged, [], q).keys))).toEqual(expected.map((r) => Array.from(r.keys)));
    } finally {
      await pool.close();
    }
  });

  it('turns a worker that fails into one error naming it, for every pending and later search', async () => {
    const { space, index, queries } = setup(300);
    const broken = join(tmp.dir, 'broken-worker.mjs');
    writeFileSync(broken, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (m) => { if (!('hnsw' in m)) throw new Error('disk on fire'); });\n");
    const pool = SearchPool.open(index, space, [], { threads: 2, workerUrl: new URL(`file://${broken}`) })!;
    try {
      await expect(pool.search(queries)).rejects.toThrow('query worker 1 failed: disk on fire');
      await expect(pool.search(queries)).rejects.toThrow('query worker 1 failed: disk on fire');
    } finally {
      await pool.close();
    }
  });

  it('replaces a pool whose worker died: the queries after it are answered by a fresh pool, as before', async () => {
    // The compiled modules: a pool needs the compiled worker beside them.
    const { VdbService, QuerySession } = await import(`${ROOT}/dist/service/service.js`);
    const { QueryPools } = await import(`${ROOT}/dist/service/pools.js`);
    const path = join(tmp.dir, 'revive.json');
    const writer = new VdbService({ path, seed: 'revive' });
    await writer.createLibrary({ name: 'p', dim: DIM, metric: 'cosine', embedder: null });
    const raw = clustered(1500, DIM, 12, 0.3, 7);
    await writer.addChunks('p', Array.from({ length: 1500 }, (_, i) => ({ embedding: Array.from(raw.subarray(i * DIM, (i + 1) * DIM)), metadata: { i } })));
    await writer.buildIndex('p', { type: 'hnsw' });
    // Loaded afresh, as a server does: rows stay on disk, paged in by the workers.
    const lib = new VdbService({ path }).store.read().library('p');
    // A server's pools: every search on one of two workers.
    const pools = new QueryPools(3, true);
    const session = new QuerySession(lib, {}, pools);
    const rnd = seededRandom('revive-queries');
    const queries = await Promise.all(Array.from({ length: 40 }, () => session.prepare({ embedding: Array.from({ length: DIM }, () => rnd.gaussian()), k: 5 })));
    const lots = 100_000;
    try {
      const expected = await session.queryBatch(queries, lots);
      const pool = pools.get(lib, queries.length, lots) as { workers: { worker: { terminate(): Promise<number> } }[]; broken: boolean };
      // One worker dies (killed, or crashed): that pool would err on every search from now on.
      await pool.workers[0].worker.terminate();
      expect(await session.queryBatch(queries, lots)).toEqual(expected);
      const fresh = pools.get(lib, queries.length, lots) as typeof pool;
      expect(fresh).not.toBe(pool);
      expect(fresh.broken).toBe(false);
      // A filtered query, answered on this thread, reads the rows as before.
      const filtered = await session.prepare({ embedding: Array.from({ length: DIM }, () => rnd.gaussian()), k: 3, where: ['i<10'] });
      expect((await session.queryBatch([filtered])).map((r: { hits: unknown[] }) => r.hits.length)).toEqual([3]);
    } finally {
      await session.close();
      await pools.close();
    }
  });

  it('lets the process exit with an idle pool left open, and with prestarted workers no pool took', () => {
    const script = [
      `import { HnswIndex } from '${ROOT}/dist/index/hnsw.js';`,
      `import { SearchPool } from '${ROOT}/dist/index/pool.js';`,
      `import { prepareData } from '${ROOT}/dist/index/kernels.js';`,
      `import { seededRandom } from '${ROOT}/dist/domain/random.js';`,
      'const r = seededRandom(1); const dim = 8, n = 400;',
      'const raw = Float32Array.from({ length: n * dim }, () => r.gaussian());',
      "const space = { metric: 'cosine', dim, data: prepareData('cosine', raw, dim), rows: n, slotToRow: null };",
      "const index = HnswIndex.build(space, { m: 8, ef_construction: 32 }, { random: r });",
      'const pool = SearchPool.open(index, space, [], { threads: 2 });',
      'const got = await pool.search([{ vector: space.data.slice(0, dim), k: 3 }, { vector: space.data.slice(dim, 2 * dim), k: 3 }]);',
      "console.log(pool.threads, got.map((g) => g.keys[0]).join(','));",
      // Workers started for a pool that never opens do not keep it alive either.
      'SearchPool.prestart(3);',
    ].join('\n');
    const file = join(tmp.dir, 'idle-pool.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('2 0,1\n');
  });
});

/** A loaded 50-row library with an hnsw index, and how many times its rows were preloaded (what opening a pool does). */
async function countingPreloads(name: string) {
  const { VdbService } = await import('../../src/service/service.js');
  const svc = new VdbService({ path: join(tmp.dir, `${name}.json`), seed: name });
  await svc.createLibrary({ name: 'p', dim: 4, metric: 'cosine', embedder: null });
  await svc.addChunks('p', Array.from({ length: 50 }, (_, i) => ({ embedding: [1, i, i % 3, 1] })));
  await svc.buildIndex('p', { type: 'hnsw' });
  const lib = svc.store.read().library('p');
  let count = 0;
  const preload = lib.preload.bind(lib);
  lib.preload = (rows?: boolean) => (count++, preload(rows));
  return { lib, preloads: () => count };
}

describe('QueryPools', () => {
  it('answers a generation on this thread for its first QUERIES_BEFORE_POOL queries, without reading it all in', async () => {
    const { QueryPools, QUERIES_BEFORE_POOL } = await import('../../src/service/pools.js');
    const { lib, preloads } = await countingPreloads('pools');
    const pools = new QueryPools(2);
    for (let i = 0; i < QUERIES_BEFORE_POOL / 8; i++) expect(pools.get(lib, 8)).toBeNull();
    expect(preloads()).toBe(0);
    // The next query earns the generation its pool: everything is read in for the workers.
    pools.get(lib, 1);
    expect(preloads()).toBe(1);
    await pools.close();
  });

  it('with the number of queries ahead known, opens a pool at once when they earn it, and otherwise never', async () => {
    const { QueryPools, beamOf, queriesToEarnPool } = await import('../../src/service/pools.js');
    const { lib, preloads } = await countingPreloads('ahead');
    const index = lib.indexState!.index;
    // At the index's ef_search, on two searching threads.
    const need = queriesToEarnPool(lib, beamOf(index, undefined, 0), 2);
    const pools = new QueryPools(2);
    expect(pools.get(lib, 8, need - 9)).toBeNull();
    // A short input never gets one, however many of its queries were answered.
    for (let left = need - 17; left >= 0; left -= 8) expect(pools.get(lib, 8, Math.max(0, left))).toBeNull();
    expect(preloads()).toBe(0);
    pools.get(lib, 8, need - 8);
    expect(preloads()).toBe(1);
    await pools.close();
    // A pool whose workers do all the searching (offThread) saves less per thread: 3 threads, 2 of them searching.
    const offThread = new QueryPools(3, true);
    expect(offThread.get(lib, 8, need - 9)).toBeNull();
    expect(preloads()).toBe(1);
    offThread.get(lib, 8, need - 8);
    expect(preloads()).toBe(2);
    await offThread.close();
    // Wider searches save more each, so fewer of them earn a pool.
    const wide = queriesToEarnPool(lib, 4 * beamOf(index, undefined, 0), 2);
    expect(wide).toBeLessThan(need);
    const wider = new QueryPools(2);
    expect(wider.get(lib, 8, wide - 9, 4 * beamOf(index, undefined, 0))).toBeNull();
    wider.get(lib, 8, wide - 8, 4 * beamOf(index, undefined, 0));
    expect(preloads()).toBe(3);
    await wider.close();
    // VDB_POOL_LINES: a pool from that many queries on, whatever they would save.
    const told = new QueryPools(2, false, undefined, 20);
    expect(told.get(lib, 8, 11)).toBeNull();
    told.get(lib, 8, 12);
    expect(preloads()).toBe(4);
    await told.close();
  });

  it('prices a pool in time: twice its cost in queries at least, more for narrow searches, never for searches that save nothing', async () => {
    const { beamOf, queriesBeforePool, queriesToEarnPool } = await import('../../src/service/pools.js');
    const small = { size: 30_000, dim: 384 };
    const large = { size: 1_000_000, dim: 384 };
    // Narrower beams cost more queries to earn the same time back; each count is at least twice queriesBeforePool on two threads.
    let last = Infinity;
    for (const beam of [32, 48, 64, 128, 256, 512, 4096]) {
      const need = queriesToEarnPool(small, beam, 2);
      expect(need).toBeLessThanOrEqual(last);
      expect(need).toBeGreaterThanOrEqual(2 * queriesBeforePool(small));
      last = need;
    }
    expect(queriesToEarnPool(small, 4096, 2)).toBe(2 * queriesBeforePool(small));
    expect(queriesToEarnPool(large, 4096, 2)).toBe(2 * queriesBeforePool(large));
    // More threads save more of each query.
    expect(queriesToEarnPool(small, 48, 4)).toBeLessThan(queriesToEarnPool(small, 48, 2));
    // A query too cheap to hand over, or one searching thread: never.
    expect(queriesToEarnPool(small, 1, 2)).toBe(Infinity);
    expect(queriesToEarnPool(small, 256, 1)).toBe(Infinity);
    // The beam is max(ef, k), ef being the index's ef_search unless given.
    const index = { params: () => ({ m: 16, ef_construction: 200, ef_search: 48 }) } as unknown as Parameters<typeof beamOf>[0];
    expect([beamOf(index, undefined, 10), beamOf(index, 100, 10), beamOf(index, 20, 64)]).toEqual([48, 100, 64]);
  });

  it('warms a stdin session before its first line: reads the index, and boots workers only for input that earns a pool', async () => {
    const { QuerySession } = await import('../../src/service/service.js');
    const { QueryPools, beamOf, queriesToEarnPool } = await import('../../src/service/pools.js');
    const { SearchPool } = await import('../../src/index/pool.js');
    const { lib, preloads } = await countingPreloads('warm');
    const index = lib.indexState!.index;
    // Lines without an ef of their own search at the index's ef_search (or the session's k, if wider).
    const need = queriesToEarnPool(lib, beamOf(index, undefined, 10), 2);
    const prestart = vi.spyOn(SearchPool, 'prestart').mockImplementation(() => undefined);
    try {
      const pools = new QueryPools(2);
      const session = new QuerySession(lib, {}, pools);
      // Bytes per line at the longest an embedding of 4 numbers could be written: 4 × 25 + 64.
      const line = 4 * 25 + 64;
      session.warm(2 * line - 1);
      expect(preloads()).toBe(0);
      session.warm(2 * line);
      expect(preloads()).toBe(1);
      expect(prestart).not.toHaveBeenCalled();
      // A pool pays from as many lines as for get with the lines ahead known.
      session.warm((need - 1) * line);
      expect(prestart).not.toHaveBeenCalled();
      session.warm(need * line);
      expect(prestart).toHaveBeenCalledTimes(1);
      expect(pools.get(lib, 8, need - 9)).toBeNull();
      // Lines answered one by one unless they say otherwise (text or hybrid by default, explained, or all
      // filtered by the session) never use a pool: the index is read, no worker boots.
      for (const defaults of [{ mode: 'text' as const }, { mode: 'hybrid' as const }, { explain: true }]) session.warm(4 * need * line, defaults);
      const filtered = new QuerySession(lib, { filter: { where: ['row>=0'] } }, pools);
      filtered.warm(4 * need * line);
      expect(prestart).toHaveBeenCalledTimes(1);
      session.warm(4 * need * line, { mode: 'vector', explain: false });
      expect(prestart).toHaveBeenCalledTimes(2);
      await pools.close();
    } finally {
      prestart.mockRestore();
    }
  });

  it('waits longer before a pool for a large library, whose pool reads more', async () => {
    const { queriesBeforePool, QUERIES_BEFORE_POOL } = await import('../../src/service/pools.js');
    expect(queriesBeforePool({ size: 30_000, dim: 384 })).toBe(QUERIES_BEFORE_POOL);
    expect(queriesBeforePool({ size: 1_000_000, dim: 384 })).toBe(960);
    expect(queriesBeforePool({ size: 2_000_000, dim: 384 })).toBe(1920);
  });
});
