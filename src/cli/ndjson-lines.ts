/**
 * Splits NDJSON bytes into lines and parses them into batches (NdjsonBatch),
 * wherever the bytes are read: on the reader's thread for a pipe or a terminal
 * (ndjson-worker.ts), on the main thread for a regular file (ndjson.ts).
 *
 * An "embedding" made only of numbers travels as a slice of one Float64Array
 * per batch: read straight from the bytes as the float32 values every consumer
 * rounds them to (embedding-line.ts), or the doubles JSON.parse gives where
 * that path declines; anything else stays as parsed, so the consumer's checks
 * and messages do not change. Blank lines are counted and skipped, lines end
 * at \n, \r\n or a lone \r (as node:readline does).
 */
import { LIMITS, metadataProblem, nestingDepth } from '../domain/validate.js';
import { parseEmbeddingLine } from './embedding-line.js';
import type { NdjsonBatch, NdjsonLine } from './ndjson.js';

/** A line is an object holding metadata: one level more than metadata may have. */
const MAX_LINE_DEPTH = LIMITS.metadataDepth + 1;
const MAX_BATCH_LINES = 512;
/** Bytes of one read. */
export const READ_BYTES = 1 << 20;

export class NdjsonLines {
  /**
   * Input read and not yet parsed: bytes [0, pending) of `buf`, reused from read
   * to read (the unfinished last line moves to its front). Each line is decoded
   * on its own: a string of each whole read, joined to the last one's tail, took
   * fresh memory twice its size per read, and fresh pages are slow to touch.
   * Lines end at the bytes \n and \r, which no UTF-8 sequence contains.
   */
  private buf = Buffer.allocUnsafe(READ_BYTES);
  private pending = 0;
  private lineNo = 0;
  private lines: NdjsonLine[] = [];
  private floats = new Float64Array(1 << 16);
  private used = 0;
  /** The bytes of the lines sent, and of those in this batch: for bytesLeft and bytes. */
  private bytesParsed = 0;
  private bytesInBatch = 0;

  /**
   * @param fileBytes a regular file's size (null: a pipe or a terminal)
   * @param emit takes each batch; its floats are its own
   */
  constructor(
    private readonly fileBytes: number | null,
    private readonly emit: (batch: NdjsonBatch) => void,
  ) {}

  /** Where the next read goes: `buf` from `at` to its end (grown when a line fills it). */
  room(): { buf: Buffer; at: number } {
    // A line longer than the buffer: a larger one, holding what came so far.
    if (this.pending === this.buf.length) {
      const grown = Buffer.allocUnsafe(2 * this.buf.length);
      this.buf.copy(grown, 0, 0, this.pending);
      this.buf = grown;
    }
    return { buf: this.buf, at: this.pending };
  }

  /** `n` bytes were read into room(); 0 is the end of input. Emits the lines they complete, then (at the end) done. */
  read(n: number): void {
    this.pending += n;
    this.take(n === 0);
    this.flush();
    // A file's end leaves nothing ahead (0, not unknown): the last lines must not look like the start of a pipe.
    if (n === 0) this.emit({ lines: [], floats: null, done: true, bytesLeft: this.fileBytes === null ? null : 0 });
  }

  /** Reading failed: the last batch says why. */
  failed(message: string): void {
    this.emit({ lines: [], floats: null, done: true, error: message });
  }

  /** Parses every whole line of the pending bytes; keeps the unfinished tail (all of it at the end). */
  private take(atEnd: boolean): void {
    const pending = this.pending;
    const data = this.buf.subarray(0, pending);
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
      this.line(data, start, end);
      const next = end === cr && data[cr + 1] === 10 ? cr + 2 : end + 1;
      this.bytesInBatch += next - start;
      start = next;
      if (this.lines.length >= MAX_BATCH_LINES) this.flush();
    }
    if (atEnd && start < pending) {
      this.bytesInBatch += pending - start;
      this.line(data, start, pending);
      start = pending;
    }
    this.buf.copyWithin(0, start, pending);
    this.pending = pending - start;
  }

  /** Parses bytes [start, end) of `data`, one line. */
  private line(data: Buffer, start: number, end: number): void {
    this.lineNo++;
    const fast = parseEmbeddingLine(data, start, end, this.used, this.reserve);
    if (fast !== null) return this.queue(fast.value, fast.count);
    const text = data.toString('utf8', start, end);
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.lines.push({ n: this.lineNo, error: (err as Error).message });
      return;
    }
    // An embedding of numbers is one level below the line, within the limit: set aside first, so the depth
    // walk in queue does not visit its hundreds of numbers.
    const emb = (value as { embedding?: unknown } | null)?.embedding;
    if (!(Array.isArray(emb) && emb.every((x) => typeof x === 'number'))) return this.queue(value, null);
    (value as { embedding?: unknown }).embedding = undefined;
    this.reserve(emb.length).set(emb as number[], this.used);
    this.queue(value, emb.length);
  }

  /** Queues a parsed line; `count`: its embedding's numbers, at floats[used…], set aside from `value` (null: none). */
  private queue(value: unknown, count: number | null): void {
    // Posting a value nested thousands deep to the main thread would overflow the stack.
    if (nestingDepth(value, MAX_LINE_DEPTH) > MAX_LINE_DEPTH) {
      const metadata = (value as { metadata?: unknown }).metadata;
      const problem = metadata !== null && typeof metadata === 'object' ? metadataProblem(metadata) : null;
      this.lines.push({ n: this.lineNo, invalid: problem ?? `the line is nested more than ${MAX_LINE_DEPTH} levels deep` });
      return;
    }
    if (count === null) {
      this.lines.push({ n: this.lineNo, value });
      return;
    }
    this.lines.push({ n: this.lineNo, value, embedding: [this.used, count] });
    this.used += count;
  }

  /** `floats`, with room for `more` numbers after the used ones. */
  private readonly reserve = (more: number): Float64Array => {
    if (this.used + more > this.floats.length) {
      const grown = new Float64Array(Math.max(2 * this.floats.length, this.used + more));
      grown.set(this.floats.subarray(0, this.used));
      this.floats = grown;
    }
    return this.floats;
  };

  private flush(): void {
    if (this.lines.length === 0) return;
    const packed = this.floats.slice(0, this.used);
    this.bytesParsed += this.bytesInBatch;
    const bytesLeft = this.fileBytes === null ? null : Math.max(0, this.fileBytes - this.bytesParsed);
    const lines = this.lines;
    const bytes = this.bytesInBatch;
    this.lines = [];
    this.used = 0;
    this.bytesInBatch = 0;
    this.emit({ lines, floats: packed, done: false, bytes, bytesLeft });
  }
}
