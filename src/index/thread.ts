/** Worker threads: how many to use, and starting one. */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';

/** Threads of a job asked for `threads` (this one included): the machine's cores by default, at least 1. */
export function threadCount(threads?: number): number {
  return Math.max(1, Math.floor(threads ?? availableParallelism()));
}

/**
 * Worker scripts end in .js (ES modules, dist/) except in the CLI's bundle,
 * where scripts/bundle.mjs makes them CommonJS ('.cjs'): an ES module entry
 * boots Node's ES module loader in every worker, ~10 ms of CPU each.
 */
declare const __VDB_WORKER_EXT__: string | undefined;
const WORKER_EXT = typeof __VDB_WORKER_EXT__ === 'undefined' ? '.js' : __VDB_WORKER_EXT__;

/** The worker script `name` (say 'query-worker') beside the module whose URL is `base` (its import.meta.url). */
export function workerScript(name: string, base: string): URL {
  return new URL(`./${name}${WORKER_EXT}`, base);
}

/**
 * Starts a worker thread. node:worker_threads is loaded here, on first use,
 * not when a module that may start one is imported: most vdb processes (a
 * cold query, one add) start none, and loading it cost them ~3 ms.
 */
export function startWorker(url: URL): Worker {
  const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads');
  return new WorkerThread(url);
}
