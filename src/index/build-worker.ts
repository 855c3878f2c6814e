/**
 * The worker thread of `runBuildJobOffThread` (build-job.ts): one job in,
 * progress out, then the serialized index (its arrays transferred) or the
 * failure, and the thread ends.
 */
import { parentPort } from 'node:worker_threads';
import { INDEX_KINDS } from './registry.js';
import { runBuildJob, transferable } from './build-job.js';
import type { JobMessage, WorkerReply } from './build-job.js';

const port = parentPort;
if (port === null) throw new Error('build-worker.js runs as a worker thread of runBuildJobOffThread');
port.once('message', (m: JobMessage) => {
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  try {
    const space = { ...m.space, fill: null };
    const update = m.update && { index: INDEX_KINDS[m.type].from(m.update.index, m.space.dim), added: m.update.added };
    const outcome = runBuildJob(
      { type: m.type, params: m.params, randomKey: m.randomKey, reason: m.reason, space, update: update ?? undefined },
      (done, total) => post({ progress: [done, total] }),
    );
    const { serialized, transfer } = transferable(outcome.index.serialize());
    post({ done: { serialized, mode: outcome.mode, reason: outcome.reason, inserted: outcome.inserted, removed: outcome.removed } }, transfer);
  } catch (err) {
    const e = err as Error;
    post({ failed: { message: e?.message ?? String(err), stack: e?.stack } });
  }
});
