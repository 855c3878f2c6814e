/**
 * Starts a worker thread. node:worker_threads is loaded here, on first use,
 * not when a module that may start one is imported: most vdb processes (a
 * cold query, one add) start none, and loading it cost them ~3 ms.
 */
import type { Worker } from 'node:worker_threads';

export function startWorker(url: URL): Worker {
  const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads');
  return new WorkerThread(url);
}
