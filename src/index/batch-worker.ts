/**
 * A worker thread of `BatchSearch`: first a message with its rows (a copy it
 * owns), then one message per batch of queries, answered in order with the
 * exact top k of each over those rows.
 */
import { parentPort } from 'node:worker_threads';
import { residentPart, searchPart } from './batch.js';
import type { Part } from './batch.js';
import type { Metric } from './kernels.js';

/** The rows, once; then batches: `queries` holds ks.length queries of dim floats, one after another. */
type Message = { metric: Metric; dim: number; rows: Float32Array; firstRow: number } | { queries: Float32Array; ks: number[] };

let part: Part | undefined;
const port = parentPort;
if (port === null) throw new Error('batch-worker.js runs as a worker thread of BatchSearch');
port.on('message', (m: Message) => {
  if ('rows' in m) part = residentPart(m.metric, m.rows, m.dim, 0, m.rows.length / m.dim, m.firstRow);
  else {
    const { dim } = part as Part;
    const queries = m.ks.map((_, i) => m.queries.subarray(i * dim, (i + 1) * dim));
    port.postMessage(searchPart(part as Part, queries, m.ks));
  }
});
