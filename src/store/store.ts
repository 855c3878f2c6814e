import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StorageError } from '../domain/errors.js';
import { Database } from '../domain/model.js';
import { atomicWriteFileSync, removeOrphanTemps } from './atomic-write.js';
import { lockOptionsFromEnv, withLock } from './lock.js';
import type { LockOptions } from './lock.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

/**
 * Tail of the in-process write queue per snapshot path. Writers in one process
 * (the server's concurrent requests) wait here in order instead of all
 * polling the lock file with backoff; the lock still orders them against
 * other processes.
 */
const writeQueues = new Map<string, Promise<unknown>>();

/**
 * One snapshot file. Readers take no lock: writes are atomic renames, so a
 * read sees a whole snapshot. Writers serialize on the lock and always re-read
 * under it, so no update is lost to a concurrent writer.
 */
export class SnapshotStore {
  private cached: { key: string; db: Database } | null = null;

  constructor(
    readonly path: string,
    private readonly lockOptions: LockOptions = lockOptionsFromEnv(),
  ) {}

  /** The current snapshot; an empty database if the file does not exist yet. */
  read(): Database {
    const key = this.fileKey();
    if (key === null) return new Database();
    if (this.cached?.key === key) return this.cached.db;
    const db = this.load();
    this.cached = { key, db };
    return db;
  }

  /**
   * Locks, loads a private copy, runs `fn` on it and commits it atomically.
   * If `fn` throws, nothing is written and the file stays byte-identical.
   * Updates of one path in one process run one at a time, in call order, so
   * `fn` must not itself call `update` on the same path (it would wait on itself).
   */
  async update<T>(fn: (db: Database) => T | Promise<T>): Promise<T> {
    const key = resolve(this.path);
    const previous = writeQueues.get(key) ?? Promise.resolve();
    const mine = previous.then(() => this.lockedUpdate(fn));
    // The queue must go on after a failed write, so its tail never rejects.
    const tail = mine.catch(() => undefined);
    writeQueues.set(key, tail);
    try {
      return await mine;
    } finally {
      if (writeQueues.get(key) === tail) writeQueues.delete(key);
    }
  }

  private async lockedUpdate<T>(fn: (db: Database) => T | Promise<T>): Promise<T> {
    this.checkDirectory();
    return withLock(this.path, this.lockOptions, async (assertHeld) => {
      this.cached = null;
      const db = this.fileKey() === null ? new Database() : this.load();
      const result = await fn(db);
      const text = encodeSnapshot(db);
      assertHeld();
      try {
        removeOrphanTemps(this.path);
        atomicWriteFileSync(this.path, text);
      } catch (err) {
        throw this.ioError('write', err);
      }
      const key = this.fileKey();
      if (key) this.cached = { key, db };
      return result;
    });
  }

  private load(): Database {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw this.ioError('read', err);
    }
    return decodeSnapshot(text, this.path);
  }

  /** Identity of the file's current version, or null when it does not exist. */
  private fileKey(): string | null {
    try {
      const st = statSync(this.path, { bigint: true });
      if (st.isDirectory()) throw new StorageError(`--db ${this.path} is a directory`, { hint: 'give a file path such as ./vdb.json' });
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      if (err instanceof StorageError) throw err;
      throw this.ioError('read', err);
    }
  }

  private checkDirectory(): void {
    const dir = dirname(this.path);
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new StorageError(`directory ${dir} does not exist`, { hint: 'create it first or choose another --db' });
    }
  }

  private ioError(action: string, err: unknown): StorageError {
    const e = err as NodeJS.ErrnoException;
    return new StorageError(`cannot ${action} ${this.path}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' '), { cause: err });
  }
}
