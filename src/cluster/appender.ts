/**
 * The leader's side of the log: writes prepared entries as `log/<seq>` keys.
 * Entries waiting while a transaction is in flight go together in the next
 * one (group commit), in arrival order. Each transaction compares
 *
 *   - the leader's election key, by its create revision (the term): a leader
 *     whose key is gone, or who lost to a newer key, cannot append (fencing);
 *   - `seq`, the last appended sequence, with what this leader appended last:
 *     entries get consecutive sequences, none lost or doubled;
 *   - `idem/<key>` of each entry with an idempotency key, absent: a write
 *     retried with the same key (by a client, or a follower re-forwarding
 *     after a failover) is appended once.
 *
 * A transaction whose answer was lost (a timeout, an etcd member gone) may
 * still have committed: before retrying, the appender looks whether its first
 * entry is there.
 */
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Namespace } from './etcd.js';
import { KEYS, logKey, pad, putParts } from './etcd.js';
import { encodeOp, encodePointer } from './codec.js';
import type { Op } from './codec.js';

/** This node can no longer append: it is not the leader (or not any more). */
export class NotLeader extends Error {}

export interface Appended {
  seq: number;
  /** The entry was not appended now: its idempotency key was, at `seq`. */
  duplicate: boolean;
}

interface Pending {
  op: Op;
  key: string | undefined;
  resolve: (a: Appended) => void;
  reject: (err: unknown) => void;
}

/** Entries per transaction: etcd refuses more than 128 operations in one by default (--max-txn-ops). */
const MAX_BATCH = 60;

export interface AppenderOptions {
  term: number;
  /** The leader's election key (namespace-relative). */
  electionKey: string;
  /** The last sequence in the log when this leader took over. */
  committed: number;
  maxValueBytes: number;
  /** Seconds an idempotency key is remembered. */
  idempotencyTtl: number;
  log?: (line: string) => void;
}

export class Appender {
  private queue: Pending[] = [];
  private busy = false;
  private closed: Error | null = null;
  private last: number;
  /** Keys in this leader's queue or transaction: a second arrival waits for the first. */
  private inflight = new Map<string, Promise<Appended>>();
  private idemLease: { id: string; granted: number } | null = null;

  constructor(
    private readonly ns: Namespace,
    private readonly opts: AppenderOptions,
  ) {
    this.last = opts.committed;
  }

  /** Sequences handed out so far. */
  get lastSeq(): number {
    return this.last;
  }

  get term(): number {
    return this.opts.term;
  }

  get electionKey(): string {
    return this.opts.electionKey;
  }

  /**
   * Appends `op` once committed in etcd.
   * @throws NotLeader when this leader was fenced off (nothing of `op` was appended)
   */
  append(op: Op, key?: string): Promise<Appended> {
    if (this.closed) return Promise.reject(this.closed);
    if (key !== undefined) {
      const earlier = this.inflight.get(key);
      if (earlier) return earlier.then((a) => ({ seq: a.seq, duplicate: true }));
    }
    const p = new Promise<Appended>((resolve, reject) => this.queue.push({ op, key, resolve, reject }));
    if (key !== undefined) {
      this.inflight.set(key, p);
      const forget = () => this.inflight.delete(key);
      p.then(forget, forget);
    }
    void this.pump();
    return p;
  }

  /** Fails everything queued and every later append. */
  close(reason = new NotLeader('this node is no longer the leader')): void {
    if (this.closed) return;
    this.closed = reason;
    for (const p of this.queue.splice(0)) p.reject(reason);
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.takeBatch();
        try {
          await this.commit(batch);
        } catch (err) {
          for (const p of batch) p.reject(err);
          if (err instanceof NotLeader) {
            this.opts.log?.(`vdb: cluster: the log refused ${batch.length} entr${batch.length === 1 ? 'y' : 'ies'} of term ${this.opts.term}: ${err.message}`);
            this.close(err);
          }
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < MAX_BATCH) {
      // Entry sizes are known only once encoded: a rough bound keeps the transaction under etcd's limit.
      const size = estimate(this.queue[0].op);
      if (batch.length > 0 && bytes + size > this.opts.maxValueBytes) break;
      bytes += size;
      batch.push(this.queue.shift()!);
    }
    return batch;
  }

  private async commit(batch: Pending[]): Promise<void> {
    const { term, electionKey, maxValueBytes } = this.opts;
    const ns = this.ns;
    for (;;) {
      const base = this.last;
      const values: Buffer[] = [];
      for (let i = 0; i < batch.length; i++) {
        const bytes = encodeOp(batch[i].op);
        if (bytes.length <= maxValueBytes) {
          values.push(bytes);
          continue;
        }
        // Parts under this sequence and term: a deposed leader's leftovers never collide with its successor's.
        const prefix = `${KEYS.blob}${pad(base + 1 + i)}/${term}/`;
        const parts = await putParts(ns, prefix, bytes, maxValueBytes);
        values.push(encodePointer({ prefix, parts, bytes: bytes.length, crc32: crc32(bytes) }));
      }
      const keyed = batch.filter((p) => p.key !== undefined);
      const lease = keyed.length > 0 ? await this.leaseForKeys() : undefined;
      let txn = ns.if(electionKey, 'Create', '==', term);
      txn = base === 0 ? txn.and(KEYS.seq, 'Create', '==', 0) : txn.and(KEYS.seq, 'Value', '==', String(base));
      for (const p of keyed) txn = txn.and(idemKey(p.key!), 'Create', '==', 0);
      const puts = values.map((v, i) => ns.put(logKey(base + 1 + i)).value(v));
      batch.forEach((p, i) => {
        if (p.key !== undefined) puts.push(ns.put(idemKey(p.key)).value(String(base + 1 + i)).lease(lease!));
      });
      puts.push(ns.put(KEYS.seq).value(String(base + batch.length)));
      const checks = [ns.get(electionKey), ns.get(KEYS.seq), ...keyed.map((p) => ns.get(idemKey(p.key!)))];
      let res: Awaited<ReturnType<typeof txn.commit>>;
      try {
        res = await txn.then(...puts).else(...checks).commit();
      } catch (err) {
        // No answer: it may have committed. Only this leader appends, so its first entry tells.
        if (await this.landed(base, batch.length, batch[0].op.id)) {
          this.done(batch, base);
          return;
        }
        if (await this.fenced()) throw new NotLeader('this node lost its leadership while appending');
        await sleep(100);
        void err;
        continue;
      }
      if (res.succeeded) {
        this.done(batch, base);
        return;
      }
      const [own, seq, ...idem] = res.responses.map((r) => r.response_range?.kvs?.[0]);
      if (!own || Number(own.create_revision) !== term) throw new NotLeader('this node was deposed: its election key is gone');
      const seqNow = seq ? Number(seq.value.toString()) : 0;
      if (seqNow !== base) throw new NotLeader(`the log moved on to ${seqNow} under this leader (expected ${base})`);
      // Keys appended before (a retry): those entries answer with the earlier sequence; the rest go again.
      const again: Pending[] = [];
      keyed.forEach((p, i) => {
        const kv = idem[i];
        if (kv) p.resolve({ seq: Number(kv.value.toString()), duplicate: true });
        else again.push(p);
      });
      batch = batch.filter((p) => p.key === undefined || again.includes(p));
      if (batch.length === 0) return;
    }
  }

  private done(batch: Pending[], base: number): void {
    this.last = base + batch.length;
    batch.forEach((p, i) => p.resolve({ seq: base + 1 + i, duplicate: false }));
  }

  /** Whether `count` entries from base + 1 are in the log, the first with op id `firstId`. */
  private async landed(base: number, count: number, firstId: string): Promise<boolean> {
    try {
      const seq = Number((await this.ns.get(KEYS.seq).string()) ?? '0');
      if (seq < base + count) return false;
      const first = await this.ns.get(logKey(base + 1)).buffer();
      return first !== null && first.includes(Buffer.from(JSON.stringify(firstId)));
    } catch {
      return false;
    }
  }

  private async fenced(): Promise<boolean> {
    try {
      const kv = (await this.ns.get(this.opts.electionKey).exec()).kvs[0];
      return !kv || Number(kv.create_revision) !== this.opts.term;
    } catch {
      return false;
    }
  }

  /**
   * A lease idempotency keys are put on, so they expire: one is granted per
   * tenth of the TTL and shared by the keys of that time, each kept 0.9-1.0 TTL.
   */
  private async leaseForKeys(): Promise<string> {
    const ttl = this.opts.idempotencyTtl;
    const now = Date.now();
    if (!this.idemLease || now - this.idemLease.granted > (ttl * 1000) / 10) {
      const lease = this.ns.lease(ttl, { autoKeepAlive: false });
      this.idemLease = { id: await lease.grant(), granted: now };
    }
    return this.idemLease.id;
  }
}

export function idemKey(key: string): string {
  return `${KEYS.idem}${key}`;
}

/** A fresh op id for a write without an idempotency key. */
export function newOpId(): string {
  return randomUUID();
}

function estimate(op: Op): number {
  return op.vectors.reduce((s, v) => s + v.byteLength, 512 + JSON.stringify(op.payload).length);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
