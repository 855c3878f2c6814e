/**
 * Cross-process exclusive lock around a snapshot's read-modify-write: a kernel
 * lock on the file `<db>.lock` (Linux: an open file description lock,
 * F_OFD_SETLK; macOS: flock; Windows: LockFileEx), through the prebuilt addon
 * of fs-native-extensions. The kernel keeps it for as long as the holder's
 * descriptor is open, however long the holder computes or stays stopped
 * (SIGSTOP, a frozen VM), and drops it the moment the process dies. So there
 * is no staleness rule: a lock is never taken from a live holder, and a dead
 * one leaves nothing behind to clean up.
 *
 * `<db>.lock` is an empty file (the holder's pid, for messages) that stays in
 * place: removing it would let two writers lock two different files.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, rmdirSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Locked, StorageError } from '../domain/errors.js';
import { describeIoError } from './io.js';

export interface LockOptions {
  /** Give up after this long, with a Locked error. */
  timeoutMs: number;
}

export function lockOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LockOptions {
  const n = Number(env.VDB_LOCK_TIMEOUT_MS);
  return { timeoutMs: env.VDB_LOCK_TIMEOUT_MS !== undefined && Number.isInteger(n) && n >= 0 ? n : 30_000 };
}

/** The lock file of the snapshot at `path`. */
export function lockPath(path: string): string {
  return `${path}.lock`;
}

interface NativeLocks {
  tryLock(fd: number, offset: number, length: number, exclusive: boolean): void;
  unlock(fd: number, offset: number, length: number): void;
}

let native: NativeLocks | null = null;

function locks(): NativeLocks {
  if (native) return native;
  const require = createRequire(import.meta.url);
  try {
    // The addon itself: the package's loader (require-addon) costs about 15 ms, a tenth of a cold CLI write.
    native = require(`fs-native-extensions/prebuilds/${process.platform}-${process.arch}/fs-native-extensions.node`) as NativeLocks;
  } catch {
    try {
      native = require('fs-native-extensions/binding.js') as NativeLocks;
    } catch (err) {
      throw new StorageError(`cannot load the file-lock addon (fs-native-extensions) for ${process.platform}-${process.arch}: ${(err as Error).message}`, {
        hint: 'reinstall vdb (npm ci); writers need kernel file locks',
      });
    }
  }
  return native;
}

/**
 * Holders of the lock directory that proper-lockfile (vdb before kernel
 * locks) created refresh its mtime every 5 s (every VDB_LOCK_STALE_MS / 2):
 * one untouched for longer than this was left by a dead writer.
 */
const LEGACY_LOCK_ABANDONED_MS = 30_000;

/** Polling bounds while another process holds the lock: a try is one syscall. */
const POLL_MIN_MS = 1;
const POLL_MAX_MS = 10;

/**
 * Runs `fn` holding the exclusive lock on `path`, waiting up to
 * `opts.timeoutMs` for it.
 * @throws Locked when another writer holds it past the timeout; StorageError when it cannot be opened
 */
export async function withLock<T>(path: string, opts: LockOptions, fn: () => Promise<T> | T): Promise<T> {
  const fd = await acquire(path, opts);
  try {
    return await fn();
  } finally {
    try {
      locks().unlock(fd, 0, 0);
    } finally {
      // Closing the descriptor would drop the lock anyway; the unlock makes it explicit.
      closeSync(fd);
    }
  }
}

async function acquire(path: string, opts: LockOptions): Promise<number> {
  const file = lockPath(path);
  const deadline = Date.now() + opts.timeoutMs;
  let delay = POLL_MIN_MS;
  let fd: number | null = null;
  try {
    for (;;) {
      fd ??= openLockFile(file);
      if (fd !== null && tryLock(fd, file)) {
        recordHolder(fd);
        const locked = fd;
        fd = null;
        return locked;
      }
      if (Date.now() >= deadline) throw lockedError(path, opts.timeoutMs, fd === null ? 'legacy' : holderOf(file));
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      delay = Math.min(POLL_MAX_MS, delay * 2);
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Opens (creating) the lock file; null while an older vdb's lock directory is in the way and still in use. */
function openLockFile(file: string): number | null {
  try {
    // Read-write (an exclusive kernel lock needs write access), created if missing, never truncated.
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new StorageError(`cannot lock: ${file} is not a regular file`, { hint: 'remove it; vdb recreates it' });
    }
    return fd;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') return clearLegacyLock(file);
    throw new StorageError(`cannot lock ${file}: ${describeIoError(err)}`, { hint: 'check that the directory exists and is writable', cause: err });
  }
}

/** Removes an older vdb's lock directory once its holder is gone; returns null (not yet openable). */
function clearLegacyLock(file: string): null {
  try {
    if (Date.now() - statSync(file).mtimeMs > LEGACY_LOCK_ABANDONED_MS) rmdirSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      throw new StorageError(`cannot remove ${file}, a lock directory left by an older vdb: ${describeIoError(err)}`, { hint: `remove it by hand if no older vdb is running` });
    }
  }
  return null;
}

function tryLock(fd: number, file: string): boolean {
  try {
    locks().tryLock(fd, 0, 0, true);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EACCES' || code === 'EWOULDBLOCK' || code === 'EBUSY') return false;
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot lock ${file}: ${describeIoError(err)}`, { hint: 'the file system must support file locks (local disks do; some network mounts do not)', cause: err });
  }
}

/**
 * Writes our pid into the lock file, for the message of a writer that waits in
 * vain: in place, at a fixed width. (Truncating first would make ext4 flush the
 * file on close, auto_da_alloc, a disk wait on every write.)
 */
function recordHolder(fd: number): void {
  try {
    writeSync(fd, `${String(process.pid).padEnd(PID_WIDTH - 1)}\n`, 0);
  } catch {
    // Only messages use it.
  }
}

const PID_WIDTH = 16;

function holderOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').slice(0, PID_WIDTH).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function lockedError(path: string, waitedMs: number, holder: number | null | 'legacy'): Locked {
  if (holder === 'legacy') {
    return new Locked(`${path} is locked by an older vdb writer (${lockPath(path)} is a lock directory; waited ${waitedMs} ms)`, {
      hint: `retry once it is done; if no older vdb is running, remove the directory ${lockPath(path)}`,
    });
  }
  const by = holder === null ? 'another vdb writer' : `another vdb writer (pid ${holder})`;
  return new Locked(`${path} is locked by ${by} (waited ${waitedMs} ms)`, {
    hint: 'retry, or raise VDB_LOCK_TIMEOUT_MS; a stopped writer (e.g. Ctrl-Z) keeps the lock until it goes on or exits',
  });
}
