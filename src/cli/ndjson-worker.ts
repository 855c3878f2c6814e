/**
 * Reads NDJSON from stdin (fd 0) and parses it on a thread of its own, so the
 * main thread only answers: `vdb query --stdin` and `vdb chunk add --stdin`
 * spend as long parsing 384 numbers a line as searching with them.
 *
 * Lines go out in order, in batches (after each chunk read from the pipe, so a
 * slow interactive writer still gets each answer at once). An "embedding" made
 * only of numbers travels as a slice of one Float64Array per batch
 * (transferred): read straight from the bytes as the float32 values every
 * consumer rounds them to (embedding-line.ts), or the doubles JSON.parse gives
 * where that path declines; anything else stays as parsed, so the main
 * thread's checks and messages do not change. Blank lines are counted and
 * skipped, lines end at \n, \r\n or a lone \r (as node:readline does).
 */
import { read } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { LIMITS, metadataProblem, nestingDepth } from '../domain/validate.js';
import { regularFileBytes } from '../store/io.js';
import { parseEmbeddingLine } from './embedding-line.js';
import type { NdjsonBatch, NdjsonLine } from './ndjson.js';

/** A line is an object holding metadata: one level more than metadata may have. */
const MAX_LINE_DEPTH = LIMITS.metadataDepth + 1;

/** Batches in flight before reading pauses: bounds memory when the main thread is slower. */
const MAX_IN_FLIGHT = 4;
const MAX_BATCH_LINES = 512;

const port = parentPort!;
/**
 * Input read and not yet parsed: bytes [0, pending) of `buf`, reused from read
 * to read (the unfinished last line moves to its front). Each line is decoded
 * on its own: a string of each whole read, joined to the last one's tail, took
 * fresh memory twice its size per read, and fresh pages are slow to touch.
 * Lines end at the bytes \n and \r, which no UTF-8 sequence contains.
 */
let buf = Buffer.allocUnsafe(1 << 20);
let pending = 0;
let lineNo = 0;
let inFlight = 0;
let waiting = false;
let lines: NdjsonLine[] = [];
let floats = new Float64Array(1 << 16);
let used = 0;
/** A regular file's size (null: a pipe or a terminal), the bytes of the lines sent, and of those in this batch: for bytesLeft and bytes. */
const fileBytes = regularFileBytes(0);
let bytesParsed = 0;
let bytesInBatch = 0;

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
  // A line longer than the buffer: a larger one, holding what came so far.
  if (pending === buf.length) {
    const grown = Buffer.allocUnsafe(2 * buf.length);
    buf.copy(grown, 0, 0, pending);
    buf = grown;
  }
  read(0, buf, pending, buf.length - pending, null, (err, n) => {
    if (err) {
      // A non-blocking stdin (inherited so) has no data yet: try again shortly.
      if (err.code === 'EAGAIN') return void setTimeout(pump, 2);
      port.postMessage({ lines: [], floats: null, done: true, error: err.message } satisfies NdjsonBatch);
      return;
    }
    pending += n;
    take(n === 0);
    flush();
    if (n === 0) {
      port.postMessage({ lines: [], floats: null, done: true } satisfies NdjsonBatch);
      return;
    }
    pump();
  });
}

/** Parses every whole line of the pending bytes; keeps the unfinished tail (all of it at the end). */
function take(atEnd: boolean): void {
  const data = buf.subarray(0, pending);
  let start = 0;
  // indexOf is native; a \r is rare, so its next position is looked up once and reused.
  let cr = data.indexOf(13);
  for (;;) {
    const lf = data.indexOf(10, start);
    if (cr !== -1 && cr < start) cr = data.indexOf(13, start);
    const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
    if (end === -1) break;
    // A \r at the very end may be the first half of \r\n: decide with the next read.
    if (end === cr && cr + 1 === pending && !atEnd) break;
    line(data, start, end);
    const next = end === cr && data[cr + 1] === 10 ? cr + 2 : end + 1;
    bytesInBatch += next - start;
    start = next;
    if (lines.length >= MAX_BATCH_LINES) flush();
  }
  if (atEnd && start < pending) {
    bytesInBatch += pending - start;
    line(data, start, pending);
    start = pending;
  }
  buf.copyWithin(0, start, pending);
  pending -= start;
}

/** Parses bytes [start, end) of `data`, one line. */
function line(data: Buffer, start: number, end: number): void {
  lineNo++;
  const fast = parseEmbeddingLine(data, start, end, used, reserve);
  if (fast !== null) return queue(fast.value, fast.count);
  const text = data.toString('utf8', start, end);
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    lines.push({ n: lineNo, error: (err as Error).message });
    return;
  }
  // An embedding of numbers is one level below the line, within the limit: set aside first, so the depth
  // walk in queue does not visit its hundreds of numbers.
  const emb = (value as { embedding?: unknown } | null)?.embedding;
  if (!(Array.isArray(emb) && emb.every((x) => typeof x === 'number'))) return queue(value, null);
  (value as { embedding?: unknown }).embedding = undefined;
  reserve(emb.length).set(emb as number[], used);
  queue(value, emb.length);
}

/** Queues a parsed line; `count`: its embedding's numbers, at floats[used…], set aside from `value` (null: none). */
function queue(value: unknown, count: number | null): void {
  // Posting a value nested thousands deep to the main thread would overflow the stack.
  if (nestingDepth(value, MAX_LINE_DEPTH) > MAX_LINE_DEPTH) {
    const metadata = (value as { metadata?: unknown }).metadata;
    const problem = metadata !== null && typeof metadata === 'object' ? metadataProblem(metadata) : null;
    lines.push({ n: lineNo, invalid: problem ?? `the line is nested more than ${MAX_LINE_DEPTH} levels deep` });
    return;
  }
  if (count === null) {
    lines.push({ n: lineNo, value });
    return;
  }
  lines.push({ n: lineNo, value, embedding: [used, count] });
  used += count;
}

/** `floats`, with room for `more` numbers after the used ones. */
function reserve(more: number): Float64Array {
  if (used + more > floats.length) {
    const grown = new Float64Array(Math.max(2 * floats.length, used + more));
    grown.set(floats.subarray(0, used));
    floats = grown;
  }
  return floats;
}

function flush(): void {
  if (lines.length === 0) return;
  const packed = floats.slice(0, used);
  bytesParsed += bytesInBatch;
  const bytesLeft = fileBytes === null ? null : Math.max(0, fileBytes - bytesParsed);
  port.postMessage({ lines, floats: packed, done: false, bytes: bytesInBatch, bytesLeft } satisfies NdjsonBatch, [packed.buffer]);
  lines = [];
  used = 0;
  bytesInBatch = 0;
  inFlight++;
}
