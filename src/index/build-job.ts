/**
 * An index build as a job that runs the same on any thread: what to build
 * (a full build, or an in-place update that may turn into one), over which
 * rows, with which seeded stream. `runBuildJob` does the work where it is
 * called; `runBuildJobOffThread` runs it on a worker thread (build-worker.ts)
 * and hands back the index reopened from its serialized arrays, so the
 * calling thread stays free: `vdb serve` keeps answering /healthz and reads
 * through a 20-second HNSW build.
 *
 * The worker gets copies of the rows (and of the current index for an
 * update), transferred, not shared; the result comes back transferred too.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, workerScript } from './thread.js';
import { seededRandom } from '../domain/random.js';
import { INDEX_KINDS } from './registry.js';
import type { IndexArray, IndexType, SearchSpace, SerializedIndex, VectorIndex } from './types.js';

export interface BuildJob {
  type: IndexType;
  params: Record<string, number>;
  /** Key of the seeded stream (see seededRandom): the same key gives the same index on any thread. */
  randomKey: string | number;
  /** Every row in memory (`fill` is ignored). */
  space: SearchSpace;
  /** Update this index in place (rows not covered are `added`) instead of building afresh. */
  update?: { index: VectorIndex; added: readonly number[] };
  /** Why a full build, for the report. */
  reason: string;
}

export interface BuildOutcome {
  index: VectorIndex;
  mode: 'full' | 'incremental';
  reason: string | null;
  inserted: number;
  removed: number;
}

export type Progress = (done: number, total: number) => void;

/**
 * Runs the job on this thread. An update the index kind declines (too many
 * stale entries, ...) becomes a full build over the same rows.
 */
export function runBuildJob(job: BuildJob, onProgress?: Progress): BuildOutcome {
  const kind = INDEX_KINDS[job.type];
  const ctx = { random: seededRandom(job.randomKey), onProgress };
  const space: SearchSpace = { ...job.space, fill: null };
  let reason = job.reason;
  if (job.update && kind.update) {
    const result = kind.update(job.update.index, space, job.update.added, job.params, ctx);
    if (!('rebuild' in result)) return { index: result.index, mode: 'incremental', reason: null, inserted: result.inserted, removed: result.removed };
    reason = result.rebuild;
  }
  // A full build numbers slots as rows: no slot map.
  return { index: kind.build({ ...space, slotToRow: null }, job.params, ctx), mode: 'full', reason, inserted: space.rows, removed: 0 };
}

/** What crosses to the worker: arrays as copies of their own, so they can be transferred. */
export interface JobMessage {
  type: IndexType;
  params: Record<string, number>;
  randomKey: string | number;
  reason: string;
  space: { metric: SearchSpace['metric']; dim: number; rows: number; data: Float32Array; slotToRow: Int32Array | null };
  update: { index: { params: Record<string, number>; arrays: Record<string, IndexArray> }; added: number[] } | null;
}

/** What comes back: progress, then the result or the failure. */
export type WorkerReply =
  | { progress: [number, number] }
  | { done: { serialized: { params: Record<string, number>; arrays: Record<string, IndexArray> }; mode: 'full' | 'incremental'; reason: string | null; inserted: number; removed: number } }
  | { failed: { message: string; stack?: string } };

/**
 * Runs the job on a worker thread and reopens its index here.
 * @param workerUrl the worker script; default build-worker.js beside this module
 * @throws Error with the worker's message when the build fails there
 */
export async function runBuildJobOffThread(job: BuildJob, onProgress?: Progress, workerUrl?: URL): Promise<BuildOutcome> {
  const { message, transfer } = toMessage(job);
  const worker = startWorker(workerUrl ?? workerScript('build-worker', import.meta.url));
  try {
    const done = await new Promise<Extract<WorkerReply, { done: unknown }>['done']>((resolve, reject) => {
      worker.on('message', (m: WorkerReply) => {
        if ('progress' in m) onProgress?.(m.progress[0], m.progress[1]);
        else if ('done' in m) resolve(m.done);
        else reject(Object.assign(new Error(m.failed.message), { stack: m.failed.stack }));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the index build worker exited with code ${code}`)));
      worker.postMessage(message, transfer);
    });
    const index = INDEX_KINDS[job.type].from(done.serialized, job.space.dim);
    return { index, mode: done.mode, reason: done.reason, inserted: done.inserted, removed: done.removed };
  } finally {
    await worker.terminate();
  }
}

function toMessage(job: BuildJob): { message: JobMessage; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  // slice(): a view may sit in a larger buffer (WebAssembly memory) that must neither be cloned whole nor detached.
  const own = <A extends IndexArray>(a: A): A => {
    const copy = a.slice() as A;
    transfer.push(copy.buffer as ArrayBuffer);
    return copy;
  };
  const s = job.space;
  const space = { metric: s.metric, dim: s.dim, rows: s.rows, data: own(s.data.subarray(0, s.rows * s.dim)), slotToRow: s.slotToRow && own(s.slotToRow) };
  let update: JobMessage['update'] = null;
  if (job.update) {
    const serialized = job.update.index.serialize();
    update = {
      index: { params: serialized.params, arrays: Object.fromEntries(Object.entries(serialized.arrays).map(([name, a]) => [name, own(a)])) },
      added: [...job.update.added],
    };
  }
  return { message: { type: job.type, params: job.params, randomKey: job.randomKey, reason: job.reason, space, update }, transfer };
}

/** The arrays of a serialized index with the buffers to transfer them by (copies where a view shares its buffer). */
export function transferable(s: SerializedIndex): { serialized: { params: Record<string, number>; arrays: Record<string, IndexArray> }; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const arrays: Record<string, IndexArray> = {};
  for (const [name, a] of Object.entries(s.arrays)) {
    const own = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && !(a.buffer instanceof SharedArrayBuffer) && !transfer.includes(a.buffer as ArrayBuffer) ? a : (a.slice() as IndexArray);
    arrays[name] = own;
    transfer.push(own.buffer as ArrayBuffer);
  }
  return { serialized: { params: s.params, arrays }, transfer };
}
