/**
 * A worker thread of `SearchPool`: first a `PoolSetup` (shared memories of
 * the index and the rows, bound here without a copy), then one `PoolBatch`
 * per request, answered in order with `nearestUnfiltered` for each query.
 * An exception is reported as `{ error }`, so the pool turns it into one error.
 */
import { parentPort } from 'node:worker_threads';
import { HnswIndex } from './hnsw.js';
import { adoptSharedRows } from './kernels.js';
import { nearestUnfiltered } from './pool.js';
import type { PoolBatch, PoolSetup, WorkerFailure } from './pool.js';
import { PageFailure, RowPages } from './row-pages.js';
import type { SearchSpace } from './types.js';

const port = parentPort;
if (port === null) throw new Error('query-worker.js runs as a worker thread of SearchPool');
let state: { index: HnswIndex; space: SearchSpace; unindexed: Int32Array } | undefined;

port.on('message', (m: PoolSetup | PoolBatch) => {
  try {
    if ('hnsw' in m) {
      const data = adoptSharedRows(m.rows, m.thread);
      // Rows not yet in the shared block are read here, through the claims every thread shares.
      const fill = m.pages ? RowPages.adopt(m.pages, data, m.holder).fill : null;
      const space: SearchSpace = { metric: m.metric, dim: m.rows.dim, data, rows: m.size, slotToRow: m.slotToRow, fill };
      state = { index: HnswIndex.view(m.hnsw, m.thread), space, unindexed: m.unindexed };
      return;
    }
    if (state === undefined) throw new Error('a batch came before the setup');
    const { index, space, unindexed } = state;
    const dim = space.dim;
    const ranked = Array.from(m.ks, (k, i) => {
      const { keys, dists } = nearestUnfiltered(index, space, unindexed, { vector: m.vectors.subarray(i * dim, (i + 1) * dim), k, ef: m.efs[i] === 0 ? undefined : m.efs[i] });
      return { keys, dists };
    });
    port.postMessage({ ranked });
  } catch (err) {
    port.postMessage({ error: (err as Error)?.message ?? String(err), pageFailure: err instanceof PageFailure } satisfies WorkerFailure);
  }
});
