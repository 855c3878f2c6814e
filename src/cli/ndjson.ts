/**
 * NDJSON on stdin, split and parsed by NdjsonLines: for a pipe or a terminal
 * on a worker thread (ndjson-worker.ts), so lines are read while the main
 * thread works on the ones before; a regular file on this thread, a read at a
 * time as its lines are taken (it never waits, and a thread of its own cost
 * more CPU to start and to pass lines through than parsing here).
 */
import { readSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Worker } from 'node:worker_threads';
import { startWorker, workerScript } from '../index/thread.js';
import { InvalidInput } from '../domain/errors.js';
import { regularFileBytes } from '../store/io.js';
import { NdjsonLines } from './ndjson-lines.js';

/** One non-blank line: its parsed value, or the parse error; `embedding` = [offset, length] in the batch's floats. */
export interface NdjsonLine {
  n: number;
  value?: unknown;
  error?: string;
  /** Why the parsed line is refused before it crosses to the main thread (too deeply nested). */
  invalid?: string;
  embedding?: [number, number];
}

export interface NdjsonBatch {
  lines: NdjsonLine[];
  floats: Float64Array | null;
  done: boolean;
  /** Bytes of input these lines (and the blank ones among them) were, line ends included. */
  bytes?: number;
  /** Bytes of a regular file in no batch yet (unread, or read and not yet parsed); null for a pipe or a terminal. */
  bytesLeft?: number | null;
  /** Reading stdin failed. */
  error?: string;
}

/** Parsed stdin lines, in order. */
export class StdinParser {
  /** The size of stdin when it is a regular file, else null. */
  readonly fileBytes = regularFileBytes(0);
  /** The reader of a pipe or a terminal; null for a regular file, parsed here by `file`. */
  private readonly worker: Worker | null = null;
  private readonly file: NdjsonLines | null = null;
  private readonly queue: NdjsonBatch[] = [];
  private at = 0;
  private done = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  /** Lines and bytes received so far, and the bytes of a regular file still unread (null: not a file). */
  private linesIn = 0;
  private bytesIn = 0;
  private bytesLeft: number | null = null;

  constructor(private readonly example: string) {
    if (this.fileBytes !== null) {
      this.file = new NdjsonLines(this.fileBytes, (batch) => this.receive(batch));
      return;
    }
    this.worker = startWorker(workerScript('ndjson-worker', import.meta.url));
    this.worker.on('message', (batch: NdjsonBatch) => {
      this.receive(batch);
      this.notify();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.notify();
    });
  }

  private receive(batch: NdjsonBatch): void {
    this.linesIn += batch.lines.length;
    this.bytesIn += batch.bytes ?? 0;
    this.bytesLeft = batch.bytesLeft ?? null;
    this.queue.push(batch);
  }

  /** Reads and parses a regular file until a batch is queued (or the end, or a read error, is). */
  private readFile(file: NdjsonLines): void {
    while (this.queue.length === 0) {
      const { buf, at } = file.room();
      let n: number;
      try {
        n = readSync(0, buf, at, buf.length - at, null);
      } catch (err) {
        file.failed((err as Error).message);
        return;
      }
      file.read(n);
    }
  }

  private notify(): void {
    this.wake?.();
    this.wake = null;
  }

  /**
   * About how many lines follow the ones taken so far: those received and not
   * taken, plus, when stdin is a regular file, its unread bytes at the bytes per
   * line seen so far (blank lines included). null when stdin is a pipe or a terminal.
   */
  linesAhead(): number | null {
    if (this.bytesLeft === null) return null;
    let queued = 0;
    for (const b of this.queue) queued += b.lines.length;
    queued -= this.at;
    const perLine = this.linesIn > 0 ? this.bytesIn / this.linesIn : Infinity;
    return queued + Math.round(this.bytesLeft / perLine);
  }

  /** Whether next() can answer without waiting for input (a regular file never waits). */
  ready(): boolean {
    return this.file !== null || this.done || this.failure !== null || this.queue.length > 0;
  }

  /**
   * The next line, or null at the end of input.
   * @throws InvalidInput naming the line when it is not a JSON object like `example`
   */
  async next(): Promise<[number, Record<string, unknown>] | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.done) return null;
      if (this.file !== null && this.queue.length === 0) this.readFile(this.file);
      const batch = this.queue[0];
      if (batch === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      if (batch.error) throw new InvalidInput(`cannot read stdin: ${batch.error}`);
      if (batch.done) {
        this.done = true;
        return null;
      }
      const line = batch.lines[this.at++];
      if (this.at === batch.lines.length) {
        // Consumed (so the queue's head always has a line left): the worker may read on.
        this.queue.shift();
        this.at = 0;
        this.worker?.postMessage(0);
      }
      if (line.error !== undefined) throw new InvalidInput(`line ${line.n}: not valid JSON (${line.error})`);
      if (line.invalid !== undefined) throw new InvalidInput(`line ${line.n}: ${line.invalid}`);
      const value = line.value;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new InvalidInput(`line ${line.n}: expected a JSON object such as ${this.example}`);
      }
      const obj = value as Record<string, unknown>;
      if (line.embedding) obj.embedding = batch.floats!.subarray(line.embedding[0], line.embedding[0] + line.embedding[1]);
      return [line.n, obj];
    }
  }

  private closing: Promise<unknown> | null = null;

  async close(): Promise<void> {
    this.closing ??= this.worker?.terminate() ?? Promise.resolve();
    await this.closing;
  }
}

/**
 * Starts reading and parsing stdin; a command opens it before it loads the
 * database, so the first lines of a pipe are parsed meanwhile (pass it to
 * stdinBatches, which closes it; close it yourself if that never runs).
 * @param typed whether lines typed on a terminal are welcome (else a terminal is refused)
 */
export function openStdin(example: string, typed: boolean): StdinParser {
  // isatty, not process.stdin: opening stdin here would make fd 0 non-blocking under the worker's reads.
  if (!typed && isatty(0)) throw new InvalidInput(`--stdin reads NDJSON lines such as ${example} from a pipe or a file (… --stdin < lines.ndjson)`);
  return new StdinParser(example);
}

/**
 * Yields [lineNumber, object] for every non-blank stdin line, in order.
 * An "embedding" of numbers arrives as a Float64Array (the same doubles JSON.parse gives).
 * @throws InvalidInput naming the line when a line is not a JSON object like `example`
 */
export async function* stdinObjects(example: string): AsyncGenerator<[number, Record<string, unknown>]> {
  const parser = openStdin(example, false);
  try {
    for (let line = await parser.next(); line !== null; line = await parser.next()) yield line;
  } finally {
    await parser.close();
  }
}

/**
 * The lines of a reader openStdin started, in batches of up to `max`: a batch ends when no more
 * lines are parsed yet, so lines typed one by one are answered one by one;
 * `onWait` runs (and is awaited) each time the reader is about to wait for
 * input: the place to finish and flush the answers so far. A bad line ends the batch before it, then throws.
 */
export async function* stdinBatches(parser: StdinParser, max: number, onWait: () => void | Promise<void>): AsyncGenerator<[number, Record<string, unknown>][]> {
  try {
    for (;;) {
      if (!parser.ready()) await onWait();
      const first = await parser.next();
      if (first === null) return;
      const batch = [first];
      while (batch.length < max && parser.ready()) {
        let line: [number, Record<string, unknown>] | null;
        try {
          line = await parser.next();
        } catch (err) {
          yield batch;
          throw err;
        }
        if (line === null) break;
        batch.push(line);
      }
      yield batch;
    }
  } finally {
    await parser.close();
  }
}
