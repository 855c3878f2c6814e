/**
 * Cross-process exclusive lock around a snapshot's read-modify-write, with
 * proper-lockfile (a `<db>.lock` directory whose mtime the holder refreshes).
 * A holder killed with SIGKILL leaves the directory behind; once its mtime is
 * older than `staleMs` the next writer takes it over.
 */
import lockfile from 'proper-lockfile';
import { Locked, StorageError } from '../domain/errors.js';

export interface LockOptions {
  /** Give up after this long, with a Locked error. */
  timeoutMs: number;
  /** A lock not refreshed for this long is taken over (proper-lockfile's minimum is 2000). */
  staleMs: number;
}

export function lockOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LockOptions {
  return {
    timeoutMs: positiveInt(env.VDB_LOCK_TIMEOUT_MS) ?? 30_000,
    staleMs: Math.max(2000, positiveInt(env.VDB_LOCK_STALE_MS) ?? 10_000),
  };
}

function positiveInt(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Runs `fn` holding the lock on `path`. `fn` gets `assertHeld`, to call right
 * before committing: it throws if the lock was lost (e.g. the process stalled
 * past staleMs and another writer took over), so no write races another.
 */
export async function withLock<T>(path: string, opts: LockOptions, fn: (assertHeld: () => void) => Promise<T> | T): Promise<T> {
  let compromised: Error | null = null;
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 5;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: `${path}.lock`,
        stale: opts.staleMs,
        retries: 0,
        onCompromised: (err) => {
          compromised = err;
        },
      });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED') {
        throw new StorageError(`cannot lock ${path}: ${(err as Error).message}`, { hint: 'check that the directory exists and is writable' });
      }
      if (Date.now() >= deadline) {
        throw new Locked(`${path} is locked by another vdb writer (waited ${opts.timeoutMs} ms)`, {
          hint: 'retry, raise VDB_LOCK_TIMEOUT_MS, or remove a stale ' + `${path}.lock if no vdb is running`,
        });
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay = Math.min(15, delay * 1.5);
    }
  }
  try {
    return await fn(() => {
      if (compromised) throw new Locked(`lost the lock on ${path}: ${(compromised as Error).message}`, { hint: 'nothing was written; retry' });
    });
  } finally {
    await release().catch(() => undefined);
  }
}
