import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { NotFound, UsageError } from '../domain/errors.js';
import { parseJson, parseJsonObject } from '../domain/validate.js';
import type { VdbApi } from '../service/api.js';
import type { StoreTuning } from '../store/store.js';
import { outputMode } from './output.js';
import type { OutputMode } from './output.js';

export interface Globals {
  db: string;
  json: boolean;
  wide: boolean;
  seed?: string;
  /** A server's URL (--remote, VDB_REMOTE): commands run against it instead of --db. */
  remote?: string;
  consistency?: 'strong' | 'local';
}

/** Global options, wherever they appear on the command line, with their env fallbacks. */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals();
  return {
    db: o.db ?? process.env.VDB_DB ?? 'vdb.json',
    json: o.json === true,
    wide: o.wide === true,
    seed: o.seed ?? process.env.VDB_SEED,
    remote: o.remote ?? (process.env.VDB_REMOTE || undefined),
    consistency: o.consistency,
  };
}

export function modeOf(cmd: Command): OutputMode {
  const g = globals(cmd);
  return outputMode(g.json, g.wide);
}

/**
 * What the command runs on: the snapshot at --db, or with --remote the server
 * at that URL (VDB_API_KEY its key). Loaded on demand so `vdb --help` stays
 * cheap. With `read`, a command that only reads refuses a --db path where
 * nothing is (a typo would otherwise look like an empty database); writes
 * create the database.
 */
export async function serviceOf(cmd: Command, opts: { concurrentReaders?: boolean; buildsOffThread?: boolean; queryThreads?: number; read?: boolean; storage?: StoreTuning } = {}): Promise<VdbApi> {
  const g = globals(cmd);
  if (g.remote !== undefined) {
    const { RemoteService } = await import('../client/remote.js');
    return new RemoteService(checkRemote(g.remote), { apiKey: process.env.VDB_API_KEY || undefined, consistency: g.consistency });
  }
  if (g.consistency !== undefined) throw new UsageError('--consistency applies to reads from a server: give --remote URL too');
  const { read, ...rest } = opts;
  if (read && !existsSync(g.db)) {
    throw new NotFound(`no database at ${g.db}`, { hint: `check --db${process.env.VDB_DB === undefined ? '' : ' and VDB_DB'}; vdb lib create NAME starts one` });
  }
  const { VdbService } = await import('../service/service.js');
  return new VdbService({ path: g.db, seed: g.seed, ...rest });
}

/** For commands that work on this machine only (serve, demo, model, embed, compact). */
export function refuseRemote(cmd: Command, what: string): void {
  if (globals(cmd).remote === undefined) return;
  const env = cmd.optsWithGlobals().remote === undefined ? ' (it comes from VDB_REMOTE: unset it)' : '';
  throw new UsageError(`${what} runs on this machine, not against a server; drop --remote${env}`);
}

function checkRemote(url: string): string {
  if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) throw new UsageError(`--remote must be a server's URL such as http://127.0.0.1:8000, got "${url}"`);
  return url;
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

/** A positive integer from the environment; unset or anything else gives undefined (the default applies). */
export function envPositiveInt(name: string): number | undefined {
  const n = Number(process.env[name]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
