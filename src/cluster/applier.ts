/**
 * Every node's side of the log: applies `log/<seq>` entries to the local
 * replica in order, one at a time, each change committed together with its
 * sequence (SnapshotStore.stampCommits), so a node that restarts resumes
 * after the last entry it applied and no entry is applied twice.
 *
 * New entries are found by reading the log from the next sequence; a watch on
 * the log's prefix wakes the reader (and a one-second poll covers a watch that
 * was reconnecting). The leader hands its own entries over directly (offer).
 * A node whose next entry was trimmed copies the latest snapshot first.
 *
 * An entry that fails the way bad input fails (invalid, not found, conflict)
 * fails identically on every node and changes nothing: that failure is its
 * result. Any other failure (disk full, a damaged file, a bug) stops this
 * node's applying, never skipping the entry: it retries with backoff and
 * reports itself stalled.
 */
import { EventEmitter } from 'node:events';
import { Range } from 'etcd3';
import type { ErrorCode } from '../domain/errors.js';
import { VdbError } from '../domain/errors.js';
import type { VdbService } from '../service/service.js';
import { importDatabase } from '../store/portable.js';
import type { Namespace } from './etcd.js';
import { getParts, KEYS, logKey, seqOfLogKey } from './etcd.js';
import { checkParts, decodeOp, pointerOf } from './codec.js';
import type { Op } from './codec.js';
import { isOpKind, OPS } from './ops.js';
import { fetchSnapshot, readPointer } from './snapshots.js';
import type { SnapshotPointer } from './snapshots.js';

export type Outcome = { ok: true; value: unknown } | { ok: false; error: { code: ErrorCode; message: string } };

/** Failures an entry gives the same way on every node, from the same state, changing nothing. */
const DETERMINISTIC = new Set<ErrorCode>(['usage', 'invalid_input', 'not_found', 'conflict', 'bad_request']);

/** Results kept for answering a write (and its retries); older ones are dropped. */
const KEEP_RESULTS = 1024;
const PAGE = 64;
const POLL_MS = 1000;

export type ApplierState = 'catching_up' | 'bootstrapping' | 'ready' | 'stalled';

/** The time an entry is applied with: the service's clock reads it (ServiceOptions.now). */
export interface OpClock {
  at: string;
}

export interface ApplierOptions {
  clusterId: string;
  /** The last sequence applied to the replica (from its replication stamp). */
  applied: number;
  /** Runs between two entries, after `seq` was applied (the leader publishes snapshots there). */
  afterApply?: (seq: number) => Promise<void>;
  log?: (line: string) => void;
}

/** Events: `applied` (seq), `state` (ApplierState). */
export class Applier extends EventEmitter {
  applied: number;
  state: ApplierState = 'catching_up';
  lastError: string | null = null;
  /** When the last entry was applied (ms since the epoch). */
  appliedAt = 0;
  /** Bytes of the entries applied since this node started. */
  appliedBytes = 0;
  private readonly local = new Map<number, { op: Op; bytes: number }>();
  private readonly results = new Map<number, Outcome>();
  private readonly waiters = new Map<number, (() => void)[]>();
  private running = false;
  private dirty = true;
  private wake: (() => void) | null = null;
  private watcher: import('etcd3').Watcher | null = null;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly ns: Namespace,
    private readonly svc: VdbService,
    private readonly clock: OpClock,
    private readonly opts: ApplierOptions,
  ) {
    super();
    this.applied = opts.applied;
  }

  async start(): Promise<void> {
    this.running = true;
    // The watch only wakes the loop early (it polls too): a watch slow to be created (its etcd member down or
    // just restarted) must not hold up the node's start.
    this.ns
      .watch()
      .prefix(KEYS.log)
      .create()
      .then(
        (w) => {
          if (!this.running) return void w.cancel().catch(() => undefined);
          this.watcher = w;
          w.on('put', () => this.notify());
          w.on('error', () => this.notify());
        },
        () => undefined,
      );
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await this.watcher?.cancel().catch(() => undefined);
    await this.done;
  }

  /** The leader's own entries, committed: applied without reading them back. */
  offer(seq: number, op: Op, bytes: number): void {
    if (seq > this.applied) this.local.set(seq, { op, bytes });
    this.notify();
  }

  /** Resolves true once `seq` is applied here, false after `ms` (default: never gives up). */
  waitFor(seq: number, ms?: number): Promise<boolean> {
    if (this.applied >= seq) return Promise.resolve(true);
    return new Promise((done) => {
      let timer: NodeJS.Timeout | undefined;
      const list = this.waiters.get(seq) ?? [];
      const ready = () => {
        if (timer) clearTimeout(timer);
        done(true);
      };
      list.push(ready);
      this.waiters.set(seq, list);
      if (ms !== undefined) {
        timer = setTimeout(() => {
          const l = this.waiters.get(seq);
          if (l) l.splice(l.indexOf(ready), 1);
          done(false);
        }, ms);
      }
    });
  }

  /** What applying `seq` gave, while it is kept. */
  result(seq: number): Outcome | undefined {
    return this.results.get(seq);
  }

  private notify(): void {
    this.dirty = true;
    this.wake?.();
  }

  private setState(state: ApplierState, error: string | null = null): void {
    this.lastError = error;
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }

  private async loop(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      try {
        if (await this.applyOffered()) continue;
        this.dirty = false;
        // The log's end first, then the entries: an entry appended in between is read, not mistaken for a gap.
        const committed = Number((await this.ns.get(KEYS.seq).string()) ?? '0');
        const res = await this.ns.getAll().inRange(new Range(logKey(this.applied + 1), `${KEYS.log}\xff`)).limit(PAGE).exec();
        if (res.kvs.length === 0) {
          // Entries exist past this node's, yet none is left to read: they were trimmed.
          if (committed > this.applied) await this.bootstrap(committed + 1);
          else await this.idle();
          continue;
        }
        const first = seqOfLogKey(res.kvs[0].key);
        if (first > this.applied + 1) {
          await this.bootstrap(first);
          continue;
        }
        for (const kv of res.kvs) {
          const seq = seqOfLogKey(kv.key);
          if (seq !== this.applied + 1 || !this.running) break;
          const op = await this.entry(kv.value, seq);
          if (op === null) break;
          await this.applyOne(seq, op, pointerOf(kv.value, `entry ${seq}`)?.bytes ?? kv.value.length);
        }
        backoff = 250;
      } catch (err) {
        if (!this.running) break;
        const why = err instanceof VdbError ? err.display : (err as Error).message;
        this.setState('stalled', why);
        this.opts.log?.(`vdb: cluster: cannot apply entry ${this.applied + 1} (retrying in ${(backoff / 1000).toFixed(1)} s): ${why}`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** Applies the leader's own entries that are next in line; true if it applied any. */
  private async applyOffered(): Promise<boolean> {
    let any = false;
    for (let e = this.local.get(this.applied + 1); e && this.running; e = this.local.get(this.applied + 1)) {
      this.local.delete(this.applied + 1);
      await this.applyOne(this.applied + 1, e.op, e.bytes);
      any = true;
    }
    for (const seq of this.local.keys()) if (seq <= this.applied) this.local.delete(seq);
    return any;
  }

  /** The entry's op (reassembled from its parts); null when its parts were trimmed meanwhile. */
  private async entry(value: Buffer, seq: number): Promise<Op | null> {
    const where = `entry ${seq}`;
    const p = pointerOf(value, where);
    if (!p) return decodeOp(value, where);
    const bytes = await getParts(this.ns, p.prefix, p.parts);
    return bytes && decodeOp(checkParts(bytes, p, where), where);
  }

  private async applyOne(seq: number, op: Op, bytes: number): Promise<void> {
    if (!isOpKind(op.kind)) {
      throw new VdbError('internal', `entry ${seq} is a "${op.kind}" write, which this vdb does not know`, { hint: 'upgrade vdb on this node' });
    }
    this.clock.at = op.at;
    this.svc.store.stampCommits({ cluster_id: this.opts.clusterId, applied_seq: seq });
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await OPS[op.kind].apply(this.svc, op.payload, op.vectors) };
    } catch (err) {
      if (!(err instanceof VdbError) || !DETERMINISTIC.has(err.code)) throw err;
      outcome = { ok: false, error: { code: err.code, message: err.display } };
    }
    this.appliedBytes += bytes;
    this.advance(seq, outcome);
    await this.opts.afterApply?.(seq);
  }

  private advance(seq: number, outcome: Outcome | null): void {
    this.applied = seq;
    this.appliedAt = Date.now();
    if (outcome) {
      this.results.set(seq, outcome);
      if (this.results.size > KEEP_RESULTS) this.results.delete(this.results.keys().next().value as number);
    }
    for (const [s, list] of this.waiters) {
      if (s > seq) continue;
      this.waiters.delete(s);
      for (const w of list) w();
    }
    if (this.state !== 'ready' && this.state !== 'catching_up') this.setState('catching_up');
    this.emit('applied', seq);
  }

  /** Copies the latest snapshot into the replica; it must reach at least `need` - 1. */
  private async bootstrap(need: number): Promise<void> {
    const found = await readPointer(this.ns);
    if (!found || found.pointer.seq < need - 1) {
      throw new VdbError('internal', `entries ${this.applied + 1} to ${need - 1} are neither in the log nor in a snapshot`, { hint: 'the cluster\'s data in etcd is incomplete; restore etcd from a backup' });
    }
    if (found.pointer.seq > this.applied) await this.install(found.pointer);
  }

  /** A new node's first step: the latest snapshot, if the cluster has one, whatever its sequence. */
  async copyLatest(): Promise<void> {
    const found = await readPointer(this.ns);
    if (found) await this.install(found.pointer);
  }

  private async install(p: SnapshotPointer): Promise<void> {
    this.setState('bootstrapping');
    this.opts.log?.(`vdb: cluster: copying the snapshot at entry ${p.seq} (${(p.bytes / 1048576).toFixed(1)} MiB; this node had applied ${this.applied})`);
    const bytes = await fetchSnapshot(this.ns, p);
    // Replaced by a newer one meanwhile: the next read finds it.
    if (!bytes) return;
    const db = await importDatabase(bytes, `the cluster's snapshot at entry ${p.seq}`);
    this.svc.store.stampCommits({ cluster_id: this.opts.clusterId, applied_seq: p.seq });
    await this.svc.store.replaceAll(db);
    this.advance(p.seq, null);
  }

  /** Waits for a watch event, an offered entry, or the poll interval. */
  private async idle(): Promise<void> {
    if (this.dirty) return;
    this.setReadyIfIdle();
    await this.sleep(POLL_MS);
  }

  private setReadyIfIdle(): void {
    if (this.state !== 'ready') this.setState('ready');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((done) => {
      const t = setTimeout(finish, ms);
      const self = this;
      function finish() {
        clearTimeout(t);
        self.wake = null;
        done();
      }
      this.wake = finish;
    });
  }
}
