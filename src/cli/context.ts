import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { InvalidInput } from '../domain/errors.js';
import { parseJson, parseJsonObject } from '../domain/validate.js';
import type { VdbService } from '../service/service.js';
import { outputMode } from './output.js';
import type { OutputMode } from './output.js';

export interface Globals {
  db: string;
  json: boolean;
  seed?: string;
}

/** Global options, wherever they appear on the command line, with their env fallbacks. */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals();
  return {
    db: o.db ?? process.env.VDB_DB ?? 'vdb.json',
    json: o.json === true,
    seed: o.seed ?? process.env.VDB_SEED,
  };
}

export function modeOf(cmd: Command): OutputMode {
  return outputMode(globals(cmd).json);
}

/** The service, loaded on demand so `vdb --help` stays cheap. */
export async function serviceOf(cmd: Command, opts: { concurrentReaders?: boolean } = {}): Promise<VdbService> {
  const g = globals(cmd);
  const { VdbService } = await import('../service/service.js');
  return new VdbService({ path: g.db, seed: g.seed, ...opts });
}

/** commander parser for an integer flag within [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    if (n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be from ${min} to ${max}`);
    return n;
  };
}

/** commander collector for repeatable flags such as --tag. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function jsonFlag(value: string | undefined, flag: string): unknown {
  return value === undefined ? undefined : parseJson(value, flag);
}

export function jsonObjectFlag(value: string | undefined, flag: string): Record<string, unknown> | undefined {
  return value === undefined ? undefined : parseJsonObject(value, flag);
}

/** Reads stdin line by line; yields [lineNumber, text] for non-blank lines. */
export async function* stdinLines(): AsyncGenerator<[number, string]> {
  if (process.stdin.isTTY) throw new InvalidInput('--stdin reads NDJSON from a pipe, e.g. vdb chunk add --lib docs --stdin < chunks.ndjson');
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() !== '') yield [n, line];
  }
}

/** Batches end when stdin has had nothing for this long: a person typing, or a producer that is slower than vdb. */
const STDIN_PAUSE_MS = 2;
const IDLE = Symbol('idle');

/** `p`'s value if it settles within `ms`, else IDLE. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<typeof IDLE>((resolve) => (timer = setTimeout(resolve, ms, IDLE)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `stdinLines` in batches of up to `max` lines. A batch also ends when stdin
 * pauses, so lines typed one by one are answered one by one; `onWait` runs
 * each time the reader is about to wait for input (a place to flush output).
 */
export async function* stdinBatches(max: number, onWait: () => void): AsyncGenerator<[number, string][]> {
  const lines = stdinLines();
  let next = lines.next();
  for (;;) {
    let r = await within(next, STDIN_PAUSE_MS);
    if (r === IDLE) {
      onWait();
      r = await next;
    }
    if (r.done) return;
    const batch = [r.value];
    next = lines.next();
    while (batch.length < max) {
      r = await within(next, STDIN_PAUSE_MS);
      if (r === IDLE || r.done) break;
      batch.push(r.value);
      next = lines.next();
    }
    yield batch;
  }
}

/** A positive integer from the environment; unset or anything else gives undefined (the default applies). */
export function envPositiveInt(name: string): number | undefined {
  const n = Number(process.env[name]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Parses one NDJSON line as an object, naming the line in errors. */
export function ndjsonObject(line: string, n: number, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new InvalidInput(`line ${n}: not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInput(`line ${n}: expected a JSON object such as ${example}`);
  }
  return value as Record<string, unknown>;
}
