/**
 * The database on disk: a snapshot file at `path`, and for large databases its
 * sidecar directory `path.d/` (generation-numbered arrays and the log).
 *
 * - Small databases (arrays under VDB_SIDECAR_MIN_BYTES) stay one version 1
 *   JSON file, rewritten whole on every change.
 * - Larger ones are a version 2 manifest naming immutable sidecar files of its
 *   generation G, plus `g<G>.log`. A chunk change appends one record to the
 *   log; other changes, and a log past its budget, write generation G + 1.
 *
 * Readers take no lock: the manifest's rename is the commit point, sidecars
 * never change, and a reader that finds a file of its generation gone re-reads
 * the manifest. Writers serialize on the lock and re-read under it, so no
 * update is lost to a concurrent writer.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Conflict, CorruptSnapshot, Locked, StorageError, VdbError } from '../domain/errors.js';
import { Database } from '../domain/model.js';
import type { Replication } from '../domain/model.js';
import type { AppendedRows, ByteSource, Library } from '../domain/model.js';
import { codeStride, makeRowCodes, rowCodeSource, SLICE_ROWS } from '../index/rowcodes.js';
import type { CompactView } from '../domain/types.js';
import { atomicWriteFile, atomicWriteFileSync, fsyncDir, removeOrphanTemps } from './atomic-write.js';
import { dtypeOf, encodeArray } from './codec.js';
import { failpoint } from './failpoint.js';
import { describeIoError, fileKind, NotRegularFile, openRegularForRead } from './io.js';
import { lockOptionsFromEnv, withLock } from './lock.js';
import type { LockOptions } from './lock.js';
import { captureBefore, deltaFrame, LOG_HEADER_BYTES, logHeader, replayLog } from './log.js';
import { arrayFileName, arraySidecarFiles, ensureSidecarDir, logFileName, openSidecar, readSidecar, removeOtherGenerations, sidecarDir, sidecarFiles, SidecarMissing, writeSidecarParts } from './sidecar.js';
import type { SidecarFile, SidecarPart } from './sidecar.js';
import { appendToIdTable, buildIdTable } from './id-table.js';
import { decodeDocument, encodeManifest, encodeRecords, encodeSnapshot, hasManifestChecksum, MANIFEST_VERSION, parseSnapshot } from './snapshot.js';
import type { IndexArray } from '../index/types.js';

/** The log is folded into a new generation once it would exceed this fraction of the manifest and sidecar bytes (within logMinBytes..logMaxBytes). */
export const LOG_FRACTION = 1 / 8;

export interface StoreTuning {
  /** Databases whose arrays reach this many bytes are written as a v2 manifest with sidecars. */
  sidecarMinBytes: number;
  /** A log may always grow to this many bytes before it is folded, however small the database. */
  logMinBytes: number;
  /** ... and never past this many: every write reads the whole log. */
  logMaxBytes: number;
  /**
   * After writing a new generation, read it back (lazily) at the next use
   * instead of keeping every record in memory: for bulk loads, whose next
   * writes only append.
   */
  reopenAfterRewrite?: boolean;
}

export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): StoreTuning {
  return {
    sidecarMinBytes: count(env.VDB_SIDECAR_MIN_BYTES) ?? 1 << 20,
    logMinBytes: count(env.VDB_LOG_MIN_BYTES) ?? 1 << 20,
    logMaxBytes: count(env.VDB_LOG_MAX_BYTES) ?? 8 << 20,
  };
}

function count(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}


/** A loaded database and where on disk it came from. */
interface State {
  db: Database;
  /** 0: no file yet. */
  version: 0 | 1 | 2;
  generation: number;
  manifestKey: string | null;
  manifestBytes: number;
  sidecarBytes: number;
  /** Identity of the log file when it was read; null when there was none. */
  logKey: string | null;
  /** End of the last whole record; 0 when there is no usable log. */
  logEnd: number;
  logRecords: number;
  /**
   * Rows were copied from the previous generation: the next use loads this one
   * (without its records) rather than keep this state, which holds every row
   * appended since it was read.
   */
  reload?: boolean;
}

const MAX_RETRIES = 50;

/** update: a change; compact: storage only; detach: drops the replication, the one change a replica's database takes from outside its cluster. */
type CommitMode = 'update' | 'compact' | 'detach';

/**
 * Tail of the in-process write queue per snapshot path. Writers in one process
 * (the server's concurrent requests) wait here in order instead of all
 * polling the lock file with backoff; the lock still orders them against
 * other processes.
 */
const writeQueues = new Map<string, Promise<unknown>>();

export class SnapshotStore {
  private cached: State | null = null;
  private readonly dir: string;
  /** What every commit records as the database's replication (a cluster node); null: a standalone writer. */
  private stamp: Replication | null = null;

  /**
   * @param concurrentReaders readers run while a write is in progress (a
   *   server): each write then changes a private copy, never objects that
   *   read() handed out, so nothing uncommitted is ever served.
   */
  constructor(
    readonly path: string,
    private readonly lockOptions: LockOptions = lockOptionsFromEnv(),
    private readonly tuning: StoreTuning = tuningFromEnv(),
    private readonly concurrentReaders = false,
  ) {
    this.dir = sidecarDir(path);
  }

  /** The current database; an empty one if the file does not exist yet. */
  read(): Database {
    const key = this.fileKey();
    if (key === null) return new Database();
    const c = this.cached;
    if (c && c.manifestKey === key && (c.version !== 2 || this.logKey(c.generation) === c.logKey)) return c.db;
    const state = this.load();
    this.cached = state;
    return state.db;
  }

  /**
   * Locks, loads the current database (or takes the one read() cached, if no
   * file changed since), runs `fn` on it and commits the change: one fsynced
   * log record for a chunk change to a v2 database, else a whole new snapshot.
   * If `fn` throws, nothing is written and the next read() loads from disk.
   * `fn` must validate before it mutates: objects handed out by an earlier
   * read() may be the ones it changes.
   */
  async update<T>(fn: (db: Database) => T | Promise<T>): Promise<T> {
    return this.commit(fn, 'update');
  }

  /**
   * Makes every later commit record `replication` in the same atomic write:
   * a cluster node applying its log sets it before each entry, so the entry's
   * change and its sequence are durable together (or neither is). Only a
   * store with a stamp may change a database that has a replication: a
   * replica's data changes through its cluster's log, never beside it.
   */
  stampCommits(replication: Replication): void {
    this.stamp = { ...replication };
  }

  /**
   * Replaces the whole database with `next` (a cluster node copying the
   * cluster's snapshot) as one commit: a new snapshot, never a log record.
   */
  async replaceAll(next: Database): Promise<void> {
    await this.update((db) => {
      db.libraries = next.libraries;
      db.nextId = next.nextId;
      db.replication = next.replication;
      db.changed();
    });
  }

  /**
   * Makes a cluster node's database standalone: drops its replication, so
   * any writer may change it again. Returns what it was (null: it was standalone).
   */
  async detach(): Promise<Replication | null> {
    return this.commit((db) => {
      const was = db.replication;
      db.replication = null;
      return was;
    }, 'detach');
  }

  /** Folds the log into a new generation (or rewrites a v1 file as it is). */
  async compact(): Promise<CompactView> {
    let folded: CompactView | null = null;
    await this.commit(() => undefined, 'compact', (before, after) => {
      folded = {
        format_version: after.version,
        generation: after.generation,
        log_records_folded: before.logRecords,
        log_bytes_folded: before.logEnd,
        snapshot_bytes: after.manifestBytes + after.sidecarBytes,
      };
    });
    return folded as unknown as CompactView;
  }

  /** Runs one commit at a time per snapshot path in this process, in call order. */
  private async commit<T>(fn: (db: Database) => T | Promise<T>, mode: CommitMode, done?: (before: State, after: State) => void): Promise<T> {
    const key = resolve(this.path);
    const previous = writeQueues.get(key) ?? Promise.resolve();
    const mine = previous.then(() => this.lockedCommit(fn, mode, done));
    // The queue must go on after a failed write, so its tail never rejects.
    const tail = mine.catch(() => undefined);
    writeQueues.set(key, tail);
    try {
      return await mine;
    } finally {
      if (writeQueues.get(key) === tail) writeQueues.delete(key);
    }
  }

  private async lockedCommit<T>(fn: (db: Database) => T | Promise<T>, mode: CommitMode, done?: (before: State, after: State) => void): Promise<T> {
    const compact = mode === 'compact';
    this.checkDirectory();
    return withLock(this.path, this.lockOptions, async () => {
      failpoint('locked');
      // The state read() cached is reused if no file changed since: a CLI write then
      // loads the database once, not twice. It leaves the cache until the commit
      // succeeds, so a failed or refused change is never served afterwards.
      const cached = this.cached;
      this.cached = null;
      const state = !this.concurrentReaders && cached && this.isCurrent(cached) ? cached : this.load();
      if (mode === 'update') this.checkReplica(state.db);
      const before = captureBefore(state.db);
      let result: T;
      try {
        result = await fn(state.db);
      } catch (err) {
        for (const lib of state.db.libraries) lib.takeChanges();
        throw err;
      }
      if (this.stamp && mode === 'update') state.db.replication = { ...this.stamp };
      let delta: Buffer | 'unchanged' | null = null;
      if (!compact && state.version === 2) delta = deltaFrame(before, state.db, this.logRoom(state));
      else for (const lib of state.db.libraries) lib.takeChanges();
      // Nothing is written, not even a leftover removed, unless what `fn` changed is still what is on disk.
      this.fence(state);
      let next: State;
      try {
        removeOrphanTemps(this.path);
        // Compacting a database that does not exist yet creates nothing.
        if ((state.version === 2 && delta === 'unchanged') || (compact && state.version === 0)) next = state;
        else if (state.version === 2 && delta instanceof Buffer) next = this.append(state, delta);
        else next = await this.rewrite(state);
      } catch (err) {
        if (err instanceof VdbError) throw err;
        throw this.ioError('write', err);
      }
      done?.(state, next);
      this.cached = next.reload ? null : next;
      return result;
    });
  }

  /**
   * The commit point's guard: the manifest and the log must be the very files
   * this writer loaded. Under the kernel lock nothing else can change them;
   * this catches what does not take it (a vdb from before kernel locks, a
   * copy or restore while a writer runs) before it could overwrite or remove
   * a newer generation.
   * @throws Locked, with nothing written
   */
  private fence(state: State): void {
    const manifestNow = this.fileKey();
    const logNow = state.version === 2 ? this.logKey(state.generation) : null;
    if (manifestNow !== state.manifestKey || logNow !== state.logKey) throw this.changedUnderLock();
  }

  /** A replica's database changes only through its cluster's log (see stampCommits). */
  private checkReplica(db: Database): void {
    const r = db.replication;
    if (!r || (this.stamp && this.stamp.cluster_id === r.cluster_id)) return;
    if (this.stamp) {
      throw new Conflict(`${this.path} belongs to cluster ${r.cluster_id}, not ${this.stamp.cluster_id}; nothing was written`, { hint: 'give this node another --db' });
    }
    throw new Conflict(`${this.path} is a replica in cluster ${r.cluster_id} (applied up to ${r.applied_seq}): its data changes only through the cluster; nothing was written`, {
      hint: 'write through a node of the cluster (vdb --remote URL …), or make a standalone copy with vdb cluster detach',
    });
  }

  private changedUnderLock(): Locked {
    return new Locked(`${this.path} changed while this writer held its lock (a program that does not take vdb's lock wrote it); nothing was written`, {
      hint: 'retry; if an older vdb is running, stop it',
    });
  }

  private isCurrent(state: State): boolean {
    return state.manifestKey === this.fileKey() && (state.version !== 2 || this.logKey(state.generation) === state.logKey);
  }

  /** Bytes the log may still grow by before it must be folded into a new generation. */
  private logRoom(state: State): number {
    const budget = Math.min(this.tuning.logMaxBytes, Math.max(this.tuning.logMinBytes, (state.manifestBytes + state.sidecarBytes) * LOG_FRACTION));
    return budget - Math.max(state.logEnd, LOG_HEADER_BYTES);
  }

  /** Appends one record to the log of the current generation, fsynced before it returns. */
  private append(state: State, frame: Buffer): State {
    // Files a writer killed before its commit left behind (temps, a next generation's arrays).
    removeOtherGenerations(this.dir, [state.generation - 1, state.generation]);
    const path = this.logPath(state.generation);
    let fd: number;
    let end = state.logEnd;
    // Only a manifest of an older vdb may lack its log (created here, exclusively) or its log's header.
    const fresh = state.logKey === null;
    const needsHeader = end < LOG_HEADER_BYTES;
    try {
      fd = openSync(path, fresh ? 'wx' : 'r+', 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Created or removed since the fence: someone else is writing.
      if (code === 'EEXIST' || code === 'ENOENT') throw this.changedUnderLock();
      throw err;
    }
    try {
      if (needsHeader) {
        writeAll(fd, logHeader(state.generation), 0);
        end = LOG_HEADER_BYTES;
      }
      // A torn tail left by a killed writer goes before anything is appended.
      if (fstatSync(fd).size > end) ftruncateSync(fd, end);
      failpoint('append');
      writeAll(fd, frame, end);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (fresh) fsyncDir(this.dir);
    failpoint('appended');
    return { ...state, logKey: this.logKey(state.generation), logEnd: end + frame.length, logRecords: state.logRecords + 1 };
  }

  /** Writes the whole database: v1 while it is small and was never v2, else generation + 1. */
  private async rewrite(state: State): Promise<State> {
    const db = state.db;
    if (state.version !== 2 && arrayBytes(db) < this.tuning.sidecarMinBytes) {
      const text = encodeSnapshot(db);
      failpoint('manifest');
      atomicWriteFileSync(this.path, text);
      return { ...state, version: 1, generation: 0, manifestKey: this.fileKey(), manifestBytes: Buffer.byteLength(text), logKey: null, logEnd: 0, logRecords: 0 };
    }
    const generation = state.generation + 1;
    ensureSidecarDir(this.dir);
    // Leftovers of a writer killed before its commit (temps, files of `generation`) go first.
    removeOtherGenerations(this.dir, [state.generation - 1, state.generation]);
    let k = 0;
    let sidecarBytes = 0;
    const files: SidecarFile[] = [];
    const put = (a: IndexArray): object => {
      if (a.byteLength === 0) return encodeArray(a);
      sidecarBytes += a.byteLength;
      const { ref, files: more } = arraySidecarFiles(arrayFileName(generation, k++, dtypeOf(a)), a);
      files.push(...more);
      return ref;
    };
    // Records as a JSON sidecar with their id table and offsets, so one record can be found and read alone.
    const putRecords = (records: object[], ids: readonly { id: string }[]) => {
      const { json, offsets } = encodeRecords(records);
      sidecarBytes += json.length;
      const { ref, files: more } = sidecarFiles(arrayFileName(generation, k++, 'json'), 'json', json);
      files.push(...more);
      const table = buildIdTable(ids.length, (r) => ids[r].id);
      return { ...ref, count: records.length, id_hashes: put(table), offsets: offsets && put(offsets) };
    };
    // A library only appended to since it was read is written by copying its rows' bytes
    // and adding the new ones': no record parsed, nothing of its size held in memory.
    let copied = false;
    const putAppended = (a: AppendedRows, records: object[]) => {
      const { json, offsets: added } = encodeRecords(records);
      const old = a.copy.records.ref.bytes;
      if (added === null || old + json.length > 0xffffffff) return null;
      const m = records.length;
      // `[old records]` + `[new records]` → `[old records,new records]`.
      const recordParts: SidecarPart[] = m > 0 ? [{ source: a.copy.records, from: 0, length: old - 1 }, Buffer.concat([Buffer.from(','), json.subarray(1)])] : [{ source: a.copy.records, from: 0, length: old }];
      const recordFile = writeSidecarParts(this.dir, arrayFileName(generation, k++, 'json'), 'json', recordParts);
      files.push(...recordFile.files);
      sidecarBytes += recordFile.ref.bytes;
      const offsets = new Uint32Array(a.count + m + 1);
      offsets.set(a.copy.offsets.subarray(0, a.count));
      if (m === 0) offsets[a.count] = old;
      for (let i = 0; i < m + (m > 0 ? 1 : 0); i++) offsets[a.count + i] = old - 1 + added[i];
      const idTable = appendToIdTable(a.copy.idTable, a.count, m, (i) => a.chunks[i].id);
      const seqs = new Uint32Array(a.count + m);
      seqs.set(a.copy.seqs);
      a.chunks.forEach((c, i) => (seqs[a.count + i] = c.seq));
      const chunks = { ...recordFile.ref, count: a.count + m, id_hashes: put(idTable), offsets: put(offsets), seqs: put(seqs) };
      const vectorFile = writeSidecarParts(this.dir, arrayFileName(generation, k++, 'f32'), 'f32', [
        { source: a.copy.vectors, from: 0, length: a.copy.vectors.ref.bytes },
        new Uint8Array(a.vectors.buffer, a.vectors.byteOffset, a.vectors.byteLength),
      ]);
      files.push(...vectorFile.files);
      sidecarBytes += vectorFile.ref.bytes;
      copied = true;
      return { chunks, vectors: vectorFile.ref };
    };
    // Row codes (index/rowcodes.ts) go with every library's vectors: copied with them when its rows were,
    // else made from its rows. Either way the same bytes.
    const putCodes = (lib: Library, a: AppendedRows | null): object => {
      const { metric, dim } = lib;
      const shape = { rows: lib.size, stride: codeStride(dim) };
      const write = (dtype: string, parts: SidecarPart[]) => {
        const written = writeSidecarParts(this.dir, arrayFileName(generation, k++, dtype), dtype, parts);
        files.push(...written.files);
        sidecarBytes += written.ref.bytes;
        return written.ref;
      };
      const bytesOf = (a: IndexArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      if (a?.copy.codes) {
        const fresh = makeRowCodes(metric, a.vectors, dim, a.chunks.length);
        const { codes: oldCodes, params: oldParams } = a.copy.codes;
        const codes = write('u32', [{ source: oldCodes, from: 0, length: oldCodes.ref.bytes }, bytesOf(fresh.codes)]);
        return { ...codes, ...shape, params: write('f32', [{ source: oldParams, from: 0, length: oldParams.ref.bytes }, bytesOf(fresh.params)]) };
      }
      // Made a slice at a time as the file is written: rows in memory, or read back from the previous generation.
      const inMemory = a ? null : lib.vectors();
      const slice = a ? new Float32Array(SLICE_ROWS * dim) : null;
      const rowsAt = (from: number, to: number): Float32Array => {
        if (inMemory) return inMemory.subarray(from * dim, to * dim);
        const out = slice!.subarray(0, (to - from) * dim);
        const onDisk = Math.max(0, Math.min(to, a!.count) - from);
        if (onDisk > 0) a!.copy.vectors.readRange(new Uint8Array(out.buffer, 0, onDisk * dim * 4), from * dim * 4);
        const rest = Math.max(from, a!.count);
        if (to > rest) out.set(a!.vectors.subarray((rest - a!.count) * dim, (to - a!.count) * dim), (rest - from) * dim);
        return out;
      };
      const { source, params } = rowCodeSource(metric, dim, lib.size, rowsAt);
      const codes = write('u32', [{ source, from: 0, length: source.ref.bytes }]);
      return { ...codes, ...shape, params: write('f32', [bytesOf(params)]) };
    };
    const text = encodeManifest(
      db,
      generation,
      put,
      (records, chunks) => (records.length === 0 ? records : { ...putRecords(records, chunks), seqs: put(Uint32Array.from(chunks, (c) => c.seq)) }),
      (records, docs) => putRecords(records, docs),
      (bytes) => {
        sidecarBytes += bytes.byteLength;
        const { ref, files: more } = sidecarFiles(arrayFileName(generation, k++, 'u32'), 'u32', bytes);
        files.push(...more);
        return ref;
      },
      putAppended,
      putCodes,
    );
    // The arrays are the database's own and nothing changes them meanwhile (this process
    // commits one write at a time); written off this thread, so a server goes on answering.
    // The directory is fsynced once, with the log below.
    for (const f of files) await atomicWriteFile(join(this.dir, f.name), f.bytes, { syncDir: false });
    failpoint('sidecars');
    // The generation's log, header only, made before the manifest that commits it: from then
    // on a missing log is damage. O_EXCL: a writer that finds it made already is not alone.
    const logPath = this.logPath(generation);
    let fd: number;
    try {
      fd = openSync(logPath, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw this.changedUnderLock();
      throw err;
    }
    try {
      writeAll(fd, logHeader(generation), 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(this.dir);
    failpoint('manifest');
    await atomicWriteFile(this.path, text);
    failpoint('committed');
    // Readers may still be opening the previous generation: keep it, drop older ones.
    removeOtherGenerations(this.dir, [state.generation, generation]);
    return {
      db,
      reload: copied || this.tuning.reopenAfterRewrite === true,
      version: 2,
      generation,
      manifestKey: this.fileKey(),
      manifestBytes: Buffer.byteLength(text),
      sidecarBytes,
      logKey: this.logKey(generation),
      logEnd: LOG_HEADER_BYTES,
      logRecords: 0,
    };
  }

  /** Reads manifest, sidecars and log as one consistent state, retrying when a writer moved on meanwhile. */
  private load(): State {
    for (let attempt = 0; ; attempt++) {
      const key = this.fileKey();
      if (key === null) return emptyState();
      let text: string;
      try {
        text = readFileText(this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < MAX_RETRIES) continue;
        throw this.ioError('read', err);
      }
      const doc = parseSnapshot(text, this.path);
      const manifestBytes = Buffer.byteLength(text);
      if (doc.version !== MANIFEST_VERSION) {
        return { ...emptyState(), db: decodeDocument(doc, this.path), version: 1, manifestKey: key, manifestBytes };
      }
      const generation = doc.generation as number;
      // Manifests with a checksum have had their log since their commit: for them a missing log is damage.
      const logCreatedAtCommit = hasManifestChecksum(doc);
      const logPath = this.logPath(generation);
      try {
        const log = readLog(logPath, this.path);
        let sidecarBytes = 0;
        const corrupt = (at: string, err: unknown): never => {
          if (err instanceof SidecarMissing || err instanceof CorruptSnapshot) throw err;
          throw new CorruptSnapshot(`snapshot ${this.path} is corrupt: ${at}: ${(err as Error).message}`, {
            hint: 'restore it from a backup; vdb will not overwrite it',
          });
        };
        const db = decodeDocument(doc, this.path, {
          read: (ref, at) => {
            try {
              const a = readSidecar(this.dir, ref, 0);
              sidecarBytes += ref.bytes;
              return a;
            } catch (err) {
              return corrupt(at, err);
            }
          },
          open: (ref, at) => {
            try {
              const f = openSidecar(this.dir, ref);
              sidecarBytes += ref.bytes;
              return f;
            } catch (err) {
              return corrupt(at, err);
            }
          },
        });
        // No log: cleaned up after two newer commits (the manifest moved on), or else damage;
        // for an older vdb's manifest, also "no record yet".
        if (!log && this.fileKey() !== key && attempt < MAX_RETRIES) continue;
        if (logCreatedAtCommit && (!log || log.data.length < LOG_HEADER_BYTES)) {
          throw new CorruptSnapshot(`snapshot ${this.path} is corrupt: its log ${logPath} is ${log ? 'shorter than its header' : 'missing'} (any writes acknowledged since generation ${generation} was made are lost)`, {
            hint: 'restore the snapshot and its .d directory from a backup; vdb will not overwrite it',
          });
        }
        const replay = log ? replayLog(log.data, generation, db, logPath) : { validEnd: 0, records: 0 };
        return {
          db,
          version: 2,
          generation,
          manifestKey: key,
          manifestBytes,
          sidecarBytes,
          logKey: log?.key ?? null,
          logEnd: replay.validEnd,
          logRecords: replay.records,
        };
      } catch (err) {
        if (!(err instanceof SidecarMissing)) throw err;
        if (this.fileKey() !== key && attempt < MAX_RETRIES) continue;
        throw new CorruptSnapshot(`snapshot ${this.path} is corrupt: its sidecar ${join(this.dir, err.file)} is missing`, {
          hint: 'restore the snapshot and its .d directory from a backup; vdb will not overwrite it',
        });
      }
    }
  }

  private logPath(generation: number): string {
    return join(this.dir, logFileName(generation));
  }

  private logKey(generation: number): string | null {
    try {
      return statKey(statSync(this.logPath(generation), { bigint: true }));
    } catch {
      return null;
    }
  }

  /** Identity of the file's current version, or null when it does not exist. */
  private fileKey(): string | null {
    try {
      const st = statSync(this.path, { bigint: true });
      // Opening a FIFO or a device could block forever: only regular files are opened.
      if (!st.isFile()) throw new StorageError(`--db ${this.path} is ${fileKind(st)}, not a snapshot file`, { hint: 'give a file path such as ./vdb.json' });
      return statKey(st);
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
    if (err instanceof NotRegularFile) return new StorageError(`cannot ${action} ${this.path}: ${err.message}`, { hint: 'remove it or restore the database from a backup', cause: err });
    return new StorageError(`cannot ${action} ${this.path}: ${describeIoError(err)}`, { cause: err });
  }

  /**
   * Checks that `--db` is a regular file or absent, and its directory exists:
   * `vdb serve` calls it before it starts.
   * @throws StorageError
   */
  checkPath(): void {
    this.fileKey();
    this.checkDirectory();
  }
}

function emptyState(): State {
  return { db: new Database(), version: 0, generation: 0, manifestKey: null, manifestBytes: 0, sidecarBytes: 0, logKey: null, logEnd: 0, logRecords: 0 };
}

function statKey(st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}

/** Bytes of every array a snapshot would hold (vectors, slot seqs, index arrays, the full-text index). */
function arrayBytes(db: Database): number {
  let n = 0;
  for (const lib of db.libraries) {
    n += lib.vectors().byteLength + (lib.text.stored?.bytes ?? 0);
    const s = lib.indexState;
    if (s) {
      n += s.slotSeqs.byteLength;
      for (const a of Object.values(s.index.serialize().arrays)) n += a.byteLength;
    }
  }
  return n;
}

function readFileText(path: string): string {
  const fd = openRegularForRead(path);
  try {
    return readAll(fd).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The log file as readOptional gives it; anything but a regular file in its place is damage. */
function readLog(logPath: string, dbPath: string): { data: Buffer; key: string } | null {
  try {
    return readOptional(logPath);
  } catch (err) {
    if (!(err instanceof NotRegularFile)) throw err;
    throw new CorruptSnapshot(`snapshot ${dbPath} is corrupt: its log ${err.message}`, { hint: 'restore the snapshot and its .d directory from a backup; vdb will not overwrite it' });
  }
}

/** The whole file in a buffer of its own (4-aligned), with the identity it had; null if it does not exist. */
function readOptional(path: string): { data: Buffer; key: string } | null {
  let fd: number;
  try {
    fd = openRegularForRead(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const key = statKey(fstatSync(fd, { bigint: true }));
    return { data: readAll(fd), key };
  } finally {
    closeSync(fd);
  }
}

function readAll(fd: number): Buffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.allocUnsafeSlow(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, Math.min(size - off, 1 << 30), off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.byteLength) off += writeSync(fd, data, off, Math.min(data.byteLength - off, 1 << 30), position + off);
}
