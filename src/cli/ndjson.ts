/**
 * NDJSON on stdin, parsed on a worker thread (ndjson-worker.ts) while the
 * main thread works on the lines already parsed.
 */
import { Worker } from 'node:worker_threads';
import { InvalidInput } from '../domain/errors.js';

/** One non-blank line: its parsed value, or the parse error; `embedding` = [offset, length] in the batch's floats. */
export interface NdjsonLine {
  n: number;
  value?: unknown;
  error?: string;
  embedding?: [number, number];
}

export interface NdjsonBatch {
  lines: NdjsonLine[];
  floats: Float64Array | null;
  done: boolean;
  /** Reading stdin failed. */
  error?: string;
}

/**
 * Yields [lineNumber, object] for every non-blank stdin line, in order.
 * An "embedding" of numbers arrives as a Float64Array (the same doubles JSON.parse gives).
 * @throws InvalidInput naming the line when a line is not a JSON object like `example`
 */
export async function* stdinObjects(example: string): AsyncGenerator<[number, Record<string, unknown>]> {
  if (process.stdin.isTTY) throw new InvalidInput('--stdin reads NDJSON from a pipe, e.g. vdb chunk add --lib docs --stdin < chunks.ndjson');
  const worker = new Worker(new URL('./ndjson-worker.js', import.meta.url));
  const queue: NdjsonBatch[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  worker.on('message', (batch: NdjsonBatch) => {
    queue.push(batch);
    notify();
  });
  worker.on('error', (err) => {
    failure = err;
    notify();
  });
  try {
    for (;;) {
      while (queue.length === 0 && failure === null) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure;
      const batch = queue.shift()!;
      if (batch.error) throw new InvalidInput(`cannot read stdin: ${batch.error}`);
      if (batch.done) return;
      worker.postMessage(0);
      for (const line of batch.lines) {
        if (line.error !== undefined) throw new InvalidInput(`line ${line.n}: not valid JSON (${line.error})`);
        const value = line.value;
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          throw new InvalidInput(`line ${line.n}: expected a JSON object such as ${example}`);
        }
        const obj = value as Record<string, unknown>;
        if (line.embedding) obj.embedding = batch.floats!.subarray(line.embedding[0], line.embedding[0] + line.embedding[1]);
        yield [line.n, obj];
      }
    }
  } finally {
    await worker.terminate();
  }
}
