/**
 * Reads NDJSON from stdin (fd 0) on a thread of its own when stdin is a pipe
 * or a terminal, so lines arrive while the main thread answers the ones
 * before (ndjson.ts parses a regular file itself). Lines go out in order, in
 * batches (after each chunk read from the pipe, so a slow interactive writer
 * still gets each answer at once), split and parsed by NdjsonLines; each
 * batch's floats are transferred.
 */
import { read } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { regularFileBytes } from '../store/io.js';
import { NdjsonLines } from './ndjson-lines.js';
import type { NdjsonBatch } from './ndjson.js';

/** Batches in flight before reading pauses: bounds memory when the main thread is slower. */
const MAX_IN_FLIGHT = 4;

const port = parentPort!;
let inFlight = 0;
let waiting = false;
const parser = new NdjsonLines(regularFileBytes(0), (batch: NdjsonBatch) => {
  if (batch.done) return port.postMessage(batch);
  port.postMessage(batch, [batch.floats!.buffer as ArrayBuffer]);
  inFlight++;
});

port.on('message', () => {
  if (--inFlight < MAX_IN_FLIGHT && waiting) {
    waiting = false;
    pump();
  }
});
pump();

/** Reads the next chunk of fd 0, unless enough batches are in flight. */
function pump(): void {
  if (inFlight >= MAX_IN_FLIGHT) {
    waiting = true;
    return;
  }
  const { buf, at } = parser.room();
  read(0, buf, at, buf.length - at, null, (err, n) => {
    if (err) {
      // A non-blocking stdin (inherited so) has no data yet: try again shortly.
      if (err.code === 'EAGAIN') return void setTimeout(pump, 2);
      return parser.failed(err.message);
    }
    parser.read(n);
    if (n > 0) pump();
  });
}
