/**
 * Index queries on worker threads that share the index and the rows.
 *
 * `SearchPool.open` moves an HNSW index's block into a shared WebAssembly
 * memory (`HnswIndex.share`: one copy, level 0 read in whole first, a query
 * scratch region per worker) and the prepared rows into another (`shareRows`:
 * adopted where they already are when the block was allocated shared, else
 * copied once), so re-scoring reads the same floats the main thread does. Rows
 * of a library still on disk are paged into that block by whichever thread
 * needs them first, through claims all threads share (row-pages.ts).
 * Each worker (query-worker.ts) binds its own kernel instance and an index
 * view (`HnswIndex.view`) to those memories: the graph and the vectors exist
 * once whatever the thread count; per thread there are only the query
 * scratch, the visit tags and the heaps.
 *
 * A batch of plain vector queries is cut into contiguous parts, one per
 * thread; this thread answers the first (offThread: none, and the parts are
 * sized by each worker's backlog). Every thread runs `nearestUnfiltered`,
 * the computation the one-thread path runs, on identical bytes, so the
 * answers are bit for bit those of one thread, in input order.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorker, threadCount, workerScript } from './thread.js';
import { HnswIndex } from './hnsw.js';
import type { SharedHnsw } from './hnsw.js';
import { shareRows, sharesInPlace, spaceScorer } from './kernels.js';
import { sharedSimdAvailable } from './simd.js';
import type { SharedRows } from './kernels.js';
import type { RowPages, RowPagesShare } from './row-pages.js';
import { TopK } from './topk.js';
import type { SearchSpace, VectorIndex } from './types.js';

/** k nearest rows of one query, nearest first (as `TopK.drain` gives them). */
type Ranked = ReturnType<TopK['drain']>;

/** One plain vector query: prepared with `prepareQuery`; `ef` the index's candidate list size for it (undefined: its ef_search). */
export interface PoolQuery {
  vector: Float32Array;
  k: number;
  ef?: number;
}

/**
 * The k nearest of `space`'s rows to q, nearest first: the rows the index does
 * not cover (`unindexed`) scored exactly, then the index's search (`note`: how
 * it searched, for explain); what every thread of a pool and the one-thread
 * query path (service.ts `nearestRows`) compute.
 */
export function nearestUnfiltered(index: VectorIndex, space: SearchSpace, unindexed: ArrayLike<number>, q: PoolQuery): Ranked & { note: string | void } {
  const top = new TopK(Math.min(q.k, space.rows));
  // Unindexed rows first: a fuller heap lets an exact index prune more.
  if (unindexed.length > 0) {
    const score = spaceScorer(space, q.vector);
    for (let i = 0; i < unindexed.length; i++) top.push(score(unindexed[i]), unindexed[i]);
  }
  const note = index.search(q.vector, space, top, q.ef);
  return { ...top.drain(), note };
}

/**
 * How many of n queries each worker gets when each goes to the one with the
 * fewest queries in hand (`backlog`, plus those given so far), ties to the first.
 */
export function splitByBacklog(backlog: readonly number[], n: number): number[] {
  const counts = backlog.map(() => 0);
  const load = [...backlog];
  for (let i = 0; i < n; i++) {
    let least = 0;
    for (let t = 1; t < load.length; t++) if (load[t] < load[least]) least = t;
    counts[least]++;
    load[least]++;
  }
  return counts;
}

/** What a query worker is started with (posted once). */
export interface PoolSetup {
  hnsw: SharedHnsw;
  rows: SharedRows;
  metric: SearchSpace['metric'];
  /** Rows of the library (space.rows). */
  size: number;
  slotToRow: Int32Array | null;
  unindexed: Int32Array;
  /** The claims and the file for reading rows not yet in `rows` (a library still on disk); null: every row is in. */
  pages: RowPagesShare | null;
  /** This worker's own name on the claims of `pages` (RowPages.newHolder): unique among every pool over them. */
  holder: number;
  thread: number;
}

/** A batch for a worker: `vectors` holds ks.length queries of dim floats; ef 0 means the index's ef_search. */
export interface PoolBatch {
  vectors: Float32Array;
  ks: Int32Array;
  efs: Int32Array;
}

export interface PoolOptions {
  /** Threads, this one included; default: the machine's. */
  threads?: number;
  /**
   * Every query goes to a worker, the one with the fewest queries in hand
   * (splitByBacklog), and this thread answers none (a server: it goes on
   * parsing requests meanwhile).
   */
  offThread?: boolean;
  /** The worker script's file URL (a URL, or anything with its href); default query-worker.js next to this module. */
  workerUrl?: { readonly href: string };
}

/** Worker threads answering plain vector queries over one index and one set of rows. */
export class SearchPool {
  private readonly workers: QueryWorker[];
  /** Set once `close` is called: no search is taken after it. */
  private closing: Promise<void> | null = null;
  /** The memories whose worker regions this pool's workers search in (see `open`). */
  private regions: object[] = [];
  /** Until this settles, the workers wait: an earlier pool's workers were still searching in the same regions. */
  private after: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly index: VectorIndex,
    readonly space: SearchSpace,
    private readonly unindexed: Int32Array,
    setups: PoolSetup[],
    url: URL,
    private readonly offThread: boolean,
    private readonly release: () => void,
    paging: RowPages | null,
  ) {
    // A worker's failure to read a page is damage to the snapshot, reported as this thread would.
    const damaged = (what: string): Error => {
      try {
        return space.pages!.damaged(what);
      } catch (err) {
        return err as Error;
      }
    };
    // A worker that stopped in the middle of a page (terminated, or crashed) never settled its claims.
    this.workers = setups.map((s) => new QueryWorker(url, s, damaged, () => paging?.releaseClaimsOf(s.holder)));
  }

  /** Whether a worker failed (it errs on every search now); close it then, and open another for what follows. */
  get broken(): boolean {
    return this.workers.some((w) => w.broken);
  }

  /** Threads answering, this one included. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** Whether `open` could give a pool for this index and thread count (so the caller may prepare for it). */
  static shareable(index: VectorIndex, threads?: number): boolean {
    return threadCount(threads) >= 2 && index instanceof HnswIndex && sharedSimdAvailable();
  }

  /** Whether a pool's workers can read the rows of `space` not yet in memory themselves (see `open`). */
  static pagesRows(space: SearchSpace): boolean {
    return space.fill != null && space.pages?.shared === true;
  }

  /**
   * A pool over `index` and `space`: every row in memory (`fill` null or
   * every row filled), or rows the workers page in themselves (`pagesRows`);
   * null when one thread is asked for, or the index cannot be shared (not
   * HNSW, or no shared WebAssembly memory), so the caller answers on this thread.
   * @param unindexed rows the index does not cover, scored exactly for every query
   */
  static open(index: VectorIndex, space: SearchSpace, unindexed: readonly number[], opts: PoolOptions = {}): SearchPool | null {
    const threads = threadCount(opts.threads);
    if (!SearchPool.shareable(index, threads) || !(index instanceof HnswIndex) || space.rows === 0) return null;
    const url = workerUrl(opts);
    if (url === null) return null;
    const hnsw = index.share(threads);
    if (hnsw === null) return null;
    const data = space.data.subarray(0, space.rows * space.dim);
    const pages = SearchPool.pagesRows(space) ? space.pages! : null;
    // Workers page into the block itself; a copy (a block without room for this many workers) must hold every row.
    const paging = pages && sharesInPlace(data, space.dim, threads - 1) ? pages : null;
    if (pages && !paging) pages.fillAll();
    const rows = shareRows(data, space.dim, threads - 1);
    if (rows === undefined) return null;
    // Worker t of any pool over these memories searches in their region t (query scratch, visit tags, heaps):
    // one pool's workers at a time. A pool that is closing is waited for; another still open leaves this caller
    // on its own thread.
    const regions = [hnsw.memory, rows.memory];
    const earlier = [...new Set(regions.map((m) => regionHolders.get(m)).filter((p) => p !== undefined))];
    if (earlier.some((p) => p.closing === null)) return null;
    const release = paging ? paging.hold() : () => undefined;
    const slotToRow = space.slotToRow === null ? null : shared(space.slotToRow);
    const rest = shared(Int32Array.from(unindexed));
    const setups = Array.from({ length: threads - 1 }, (_, i) => ({ hnsw, rows, metric: space.metric, size: space.rows, slotToRow, unindexed: rest, pages: paging?.share ?? null, holder: paging?.newHolder() ?? 0, thread: i + 1 }));
    const pool = new SearchPool(index, space, rest, setups, url, opts.offThread === true, release, paging);
    pool.regions = regions;
    if (earlier.length > 0) pool.after = Promise.allSettled(earlier.map((p) => p.closing));
    for (const m of regions) regionHolders.set(m, pool);
    return pool;
  }

  /**
   * Starts the workers a pool of `threads` will need, so they boot while this
   * thread reads what the pool shares (the next `open` takes them); the caller
   * has decided to open one. Unused ones stop with the process.
   */
  static prestart(threads?: number, opts: Pick<PoolOptions, 'workerUrl'> = {}): void {
    const url = workerUrl(opts);
    if (url === null) return;
    const want = threadCount(threads) - 1;
    const ready = spares.filter((w) => w.url === url.href).length;
    for (let i = ready; i < want; i++) {
      const worker = startWorker(url);
      worker.unref();
      const spare = { url: url.href, worker };
      // One that fails before a pool takes it is dropped (a pool would wait on it); a taken one is the pool's to watch.
      const drop = () => {
        const at = spares.indexOf(spare);
        if (at !== -1) spares.splice(at, 1);
      };
      worker.once('error', drop);
      worker.once('exit', drop);
      spares.push(spare);
    }
  }

  /** Workers prestarted and not yet taken by a pool. */
  static get spares(): number {
    return spares.length;
  }

  /**
   * The answers to `queries`, in order, each as `nearestUnfiltered` gives it.
   * @throws Error when a worker fails (it names the worker's error); the pool is unusable then
   */
  async search(queries: PoolQuery[]): Promise<Ranked[]> {
    if (this.closing !== null) throw new Error('search pool is closed');
    await this.after;
    // The index's ef_search now, for every thread alike.
    const efSearch = (this.index as HnswIndex).efSearch;
    queries = queries.map((q) => (q.ef === undefined ? { ...q, ef: efSearch } : q));
    const dim = this.space.dim;
    if (this.offThread) {
      // Each query to the worker with the fewest queries sent and not yet answered (on ties the first): a worker
      // that fell behind (its core shared with the parsing, or with another process) gets less of the next batch,
      // so the workers run out of work together. Even halves left the slower one searching alone at the end.
      const counts = splitByBacklog(this.workers.map((w) => w.pendingQueries), queries.length);
      const parts: Promise<Ranked[]>[] = [];
      let from = 0;
      this.workers.forEach((w, t) => {
        if (counts[t] === 0) return;
        parts.push(w.search(queries.slice(from, from + counts[t]), dim));
        from += counts[t];
      });
      return (await Promise.all(parts)).flat();
    }
    const parts = this.threads;
    const bounds = Array.from({ length: parts + 1 }, (_, t) => Math.round((t * queries.length) / parts));
    const pending = this.workers.map((w, i) => (bounds[i + 2] > bounds[i + 1] ? w.search(queries.slice(bounds[i + 1], bounds[i + 2]), dim) : Promise.resolve([])));
    // Failures are awaited below; until then they must not count as unhandled.
    for (const p of pending) p.catch(() => undefined);
    const out: Ranked[] = [];
    for (let i = bounds[0]; i < bounds[1]; i++) out.push(nearestUnfiltered(this.index, this.space, this.unindexed, queries[i]));
    for (const part of await Promise.all(pending)) out.push(...part);
    return out;
  }

  /** Stops the workers once the searches already sent to them are answered (idle ones never keep the process alive). */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    // After a failure, a worker stopped in the middle of a page would leave its claim held, and one still answering
    // a batch would wait on it: a failed pool's workers stop at once, without finishing what they were sent.
    const now = this.broken;
    try {
      await this.after;
      await Promise.all(this.workers.map((w) => w.close(now)));
    } finally {
      this.release();
      for (const m of this.regions) if (regionHolders.get(m) === this) regionHolders.delete(m);
    }
  }
}

/**
 * A search a pool's worker did not answer: the worker failed (crashed, was
 * killed, threw), or was stopped at once after another one of its pool failed.
 * Not damage to the snapshot (that is reported as this thread reports it).
 */
export class PoolWorkerFailed extends Error {}

/** What a worker posts when a batch fails; `pageFailure`: it could not read or check a page of the rows (row-pages.ts). */
export interface WorkerFailure {
  error: string;
  pageFailure: boolean;
}

/** The pool whose workers search in the worker regions of a shared memory (an index's block, a rows block). */
const regionHolders = new WeakMap<object, SearchPool>();

/** Workers started by `prestart`, not yet taken by a pool. */
const spares: { url: string; worker: Worker }[] = [];

/** The query worker's script; null run from the TypeScript sources (tests in process), with no compiled worker beside this module. */
function workerUrl(opts: Pick<PoolOptions, 'workerUrl'>): URL | null {
  const url = opts.workerUrl ? new URL(opts.workerUrl.href) : workerScript('query-worker', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : null;
}

/** A prestarted worker of `url`, or a new one. */
function takeWorker(url: URL): Worker {
  const i = spares.findIndex((w) => w.url === url.href);
  return i === -1 ? startWorker(url) : spares.splice(i, 1)[0].worker;
}

function shared(a: Int32Array): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(Math.max(4, a.byteLength)), 0, a.length);
  out.set(a);
  return out;
}

/** One worker thread; requests are answered in order. */
class QueryWorker {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (r: Ranked[]) => void; reject: (e: unknown) => void; queries: number }[] = [];
  private failure: Error | null = null;
  /** The last search sent: answers come in order, so once it settles every one has. */
  private last: Promise<unknown> = Promise.resolve();

  /**
   * @param damaged the error for a page of the rows the worker could not read or check
   * @param stopped gives back the claims the worker held, once it has stopped
   */
  constructor(url: URL, setup: PoolSetup, damaged: (what: string) => Error, stopped: () => void) {
    this.worker = takeWorker(url);
    this.worker.unref();
    this.worker.on('message', (m: { ranked: Ranked[] } | WorkerFailure) => {
      if ('error' in m && !m.pageFailure) return fail(new Error(m.error));
      // A damaged page fails only the batch that met it, as it fails a query on this thread each time: the worker
      // gave its claims back and goes on (replacing the pool would not mend the page, and cost a pool a query).
      const next = this.waiting.shift();
      if ('error' in m) next?.reject(damaged(m.error));
      else next?.resolve(m.ranked);
      if (this.waiting.length === 0) this.idle();
    });
    const fail = (err: Error) => {
      if (!this.closing) this.broken = true;
      this.failure ??= new PoolWorkerFailed(`query worker ${setup.thread} failed: ${err.message}`);
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
      this.idle();
    };
    // An uncaught error ends the worker: its searches fail once it has stopped and its claims are back, so a
    // caller that goes on on its own thread never waits on a claim nobody holds any more.
    let uncaught: Error | null = null;
    this.worker.on('error', (err) => (uncaught ??= err));
    this.worker.on('exit', (code) => {
      stopped();
      fail(uncaught ?? new Error(`it exited with code ${code}`));
    });
    this.worker.postMessage(setup);
  }

  search(queries: PoolQuery[], dim: number): Promise<Ranked[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    // A pending answer must keep the process alive; an idle worker must not.
    this.worker.ref();
    const batch: PoolBatch = { vectors: new Float32Array(queries.length * dim), ks: new Int32Array(queries.length), efs: new Int32Array(queries.length) };
    queries.forEach((q, i) => {
      batch.vectors.set(q.vector, i * dim);
      batch.ks[i] = q.k;
      batch.efs[i] = q.ef ?? 0;
    });
    const answer = new Promise<Ranked[]>((resolve, reject) => {
      this.waiting.push({ resolve, reject, queries: queries.length });
      this.worker.postMessage(batch, [batch.vectors.buffer as ArrayBuffer, batch.ks.buffer as ArrayBuffer, batch.efs.buffer as ArrayBuffer]);
    });
    this.last = answer.catch(() => undefined);
    return answer;
  }

  /** Queries sent and not yet answered. */
  get pendingQueries(): number {
    let n = 0;
    for (const w of this.waiting) n += w.queries;
    return n;
  }

  /** An idle worker must not keep the process alive, unless it is stopping (see close). */
  private idle(): void {
    if (!this.closing) this.worker.unref();
  }

  private closing = false;
  /** It failed (before it was closed). */
  broken = false;

  /** Stops it once the searches sent are answered, or at once (`now`). */
  async close(now = false): Promise<void> {
    this.failure ??= new PoolWorkerFailed('query worker closed');
    if (!now) await this.last;
    // Referenced until it has stopped, whatever it still posts: otherwise the process could end during the
    // caller's await (exit code 0, nothing after it run, a failure never reported).
    this.closing = true;
    this.worker.ref();
    await this.worker.terminate();
  }
}
