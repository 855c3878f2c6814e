/**
 * Worker pools (index/pool.ts) for the libraries a session or a server
 * queries: one per loaded generation of a library, so a write that changes
 * its index or its rows gets a fresh pool, and the old one closes once the
 * searches already sent to it are answered.
 */
import type { Library } from '../domain/model.js';
import { shareHnswFromStart } from '../index/hnsw.js';
import { shareRowsFromStart } from '../index/kernels.js';
import { SearchPool } from '../index/pool.js';
import { threadCount } from '../index/thread.js';
import type { SearchSpace, VectorIndex } from '../index/types.js';

interface Generation {
  lib: Library;
  index: VectorIndex;
  space: SearchSpace;
  pool: SearchPool | null;
}

/**
 * Queries a generation of a library answers on this thread before it gets a
 * pool when nobody knows how many follow (a pipe, a server). A pool first reads
 * all of level 0 and copies the graph into shared memory, and its workers start
 * and warm up; a library still on disk has its rows paged in by the workers as
 * they search (index/row-pages.ts), one in memory has them copied: a few
 * queries, or a library written to between every few, would not earn it back.
 */
export const QUERIES_BEFORE_POOL = 64;

/**
 * Row floats per query a large library answers on this thread before it gets
 * a pool: opening one costs about the bytes of every row and of level 0 (at
 * 1M × 384, 1.5 GB and 2–4 s), about what 1,000 queries at ef 384 take there on
 * one thread; a 100-line `--stdin` would not earn it back.
 */
const ROW_FLOATS_PER_QUERY = 400_000;

/** Queries a generation of `lib` answers on this thread before it gets a pool: QUERIES_BEFORE_POOL, more for a large library. */
export function queriesBeforePool(lib: { size: number; dim: number }): number {
  return Math.max(QUERIES_BEFORE_POOL, Math.ceil((lib.size * lib.dim) / ROW_FLOATS_PER_QUERY));
}

/**
 * One thread's time for an HNSW query per unit of its beam (max(ef, k)), as
 * `query --stdin` on one thread spends it (2026-12-04, AMD EPYC): ~1.0 µs on
 * wordnet-lsa384 (30k × 384, ef 48), ~1.6 on synth100k (100k × 384, ef 64),
 * ~0.9 on glove100 (340k × 100, ef 256).
 */
const SEARCH_SECONDS_PER_BEAM = 1.3e-6;
/** What handing a query to a worker and taking its answer back costs this thread (two threads against one, per line). */
const HANDOFF_SECONDS = 5e-6;
/**
 * The wall time a pool costs before its threads save any: its workers boot,
 * page in their first rows and search slowly until V8 has compiled their code.
 * Fitted where `query --stdin` on one thread and on two take the same time
 * (2026-12-04): ~2,700 lines on wordnet, ~1,000 on synth100k, ~500 on glove100,
 * each about 50 ms of what the second thread saves by then.
 */
const POOL_SECONDS = 0.05;

/**
 * Queries at which a pool of `speedup` searching threads earns its cost on
 * `lib` when they are known to come (a `--stdin` file): the time its threads
 * save at `beam` is at least POOL_SECONDS, and the queries at least
 * queriesBeforePool(lib) more than one thread answers meanwhile. Infinity: never.
 */
export function queriesToEarnPool(lib: { size: number; dim: number }, beam: number, speedup: number): number {
  const share = 1 - 1 / speedup;
  const saved = beam * SEARCH_SECONDS_PER_BEAM * share - HANDOFF_SECONDS;
  if (!(share > 0 && saved > 0)) return Infinity;
  return Math.max(Math.ceil(queriesBeforePool(lib) / share), Math.ceil(POOL_SECONDS / saved));
}

/** The beam of a query on `index`: max(ef, k), its ef being the index's ef_search unless given. */
export function beamOf(index: VectorIndex, ef: number | undefined, k: number): number {
  return Math.max(ef ?? index.params().ef_search ?? 0, k);
}

export class QueryPools {
  private readonly byLib = new Map<string, Generation>();
  /** Queries answered on this thread so far by generations without a pool. */
  private readonly answered = new WeakMap<Library, number>();
  /** Generations whose pool failed and was closed: they earned one already, so the next opens at once. */
  private readonly retired = new WeakSet<Library>();

  /**
   * @param threads threads per pool, this one included (default: the machine's)
   * @param offThread every query to a worker (a server), see PoolOptions
   * @param libraries the ids of the libraries there are now: a new pool closes those of deleted ones
   * @param poolAt queries known to come (`ahead`) from which a pool opens, instead of queriesToEarnPool (VDB_POOL_LINES)
   */
  constructor(
    private readonly threads: number | undefined,
    readonly offThread = false,
    private readonly libraries?: () => readonly string[],
    private readonly poolAt?: number,
  ) {
    // Rows and graphs read from now on can be shared with the workers as they are, rather than copied once more.
    shareRowsFromStart(threadCount(threads) - 1);
    shareHnswFromStart(threadCount(threads));
  }

  /**
   * The pool for `lib`'s index as it is now; null when these `queries` run on
   * this thread: one thread, an index that cannot be shared, or a generation
   * without a pool yet that should not get one. Without `ahead` that is one
   * that has answered fewer than queriesBeforePool(lib) queries (opening a pool
   * then costs at most what was spent without one). With `ahead`, about how many
   * queries follow, a pool opens at once when the time its threads save on
   * these and those at `beam` (theirs on average; default the index's ef_search)
   * is at least its cost, and otherwise never.
   */
  get(lib: Library, queries = 1, ahead?: number, beam?: number): SearchPool | null {
    const index = lib.indexState?.index;
    if (!index || !SearchPool.shareable(index, this.threads)) return null;
    const now = this.byLib.get(lib.id);
    const fresh = now?.lib !== lib || now.index !== index;
    if (fresh) {
      const answered = (this.answered.get(lib) ?? 0) + queries;
      const worth = this.retired.has(lib) || (ahead === undefined ? answered > queriesBeforePool(lib) : this.earns(lib, index, queries + ahead, beam));
      if (!worth) {
        this.answered.set(lib, answered);
        return null;
      }
    }
    // Booting while this thread reads what they will share.
    if (fresh) SearchPool.prestart(this.threads);
    // Level 0 in memory first; rows too unless the workers can page them in themselves.
    lib.preload(!SearchPool.pagesRows(lib.searchSpace()));
    const space = lib.searchSpace();
    if (now?.lib === lib && now.index === index && now.space === space) return now.pool;
    void now?.pool?.close();
    if (this.libraries) this.retain(new Set(this.libraries()));
    const pool = SearchPool.open(index, space, lib.unindexedRows(), { threads: this.threads, offThread: this.offThread });
    this.byLib.set(lib.id, { lib, index, space, pool });
    return pool;
  }

  /**
   * Closes `lib`'s pool if one of its workers failed, and resolves once its
   * workers have stopped and given back the pages they held: a pool errs on
   * every search after a failure, so without this one failed worker (a crash,
   * a killed thread) would fail every later query of that library in a
   * server, and a query on this thread could wait on a page a stopping worker
   * still held. The next `get` opens a fresh pool.
   */
  async recover(lib: Library): Promise<void> {
    const g = this.byLib.get(lib.id);
    if (!g?.pool?.broken) return;
    this.byLib.delete(lib.id);
    this.retired.add(g.lib);
    await g.pool.close();
  }

  /** Boots the workers of a pool for `lib` now if `queries` coming at `beam` would earn it (see get). */
  prestartFor(lib: Library, queries: number, beam?: number): void {
    const index = lib.indexState?.index;
    if (index && SearchPool.shareable(index, this.threads) && this.earns(lib, index, queries, beam)) SearchPool.prestart(this.threads);
  }

  /** Whether a pool for `lib` saves at least its cost over `queries` queries at `beam` (default: the index's ef_search). */
  private earns(lib: Library, index: VectorIndex, queries: number, beam = beamOf(index, undefined, 0)): boolean {
    return queries >= (this.poolAt ?? queriesToEarnPool(lib, beam, this.speedup()));
  }

  /** How many times faster a pool answers than this thread alone: its workers, and this thread unless offThread. */
  private speedup(): number {
    const threads = threadCount(this.threads);
    return this.offThread ? threads - 1 : threads;
  }

  /** Closes the pools of libraries not in `ids` (deleted ones). */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, g] of this.byLib) {
      if (ids.has(id)) continue;
      void g.pool?.close();
      this.byLib.delete(id);
    }
  }

  async close(): Promise<void> {
    const all = [...this.byLib.values()];
    this.byLib.clear();
    await Promise.all(all.map((g) => g.pool?.close()));
  }
}
