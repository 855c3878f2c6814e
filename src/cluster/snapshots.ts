/**
 * Published snapshots: how the log stays bounded and how a new or lagging
 * node starts without replaying it from the beginning.
 *
 * The leader exports its replica as of sequence S (store/portable.ts), writes
 * it in parts under `snap/<S>/<term>/`, then in one fenced transaction points
 * `snapshot` at it and trims what the previous snapshot (at P) covered: log
 * entries and parts up to P, and every snapshot part below S. So the log
 * always holds the entries since the previous snapshot: a node less than one
 * snapshot interval behind tails the log; one further behind copies the
 * latest snapshot and tails the log after it. Then etcd's history is
 * compacted up to where the previous pointer was written.
 */
import { crc32 } from 'node:zlib';
import { Range } from 'etcd3';
import type { Namespace } from './etcd.js';
import { getParts, KEYS, logKey, pad, putParts, rev } from './etcd.js';
import { checkParts } from './codec.js';
import { isObject } from '../store/snapshot.js';
import { CorruptSnapshot } from '../domain/errors.js';

export interface SnapshotPointer {
  seq: number;
  prefix: string;
  parts: number;
  bytes: number;
  crc32: number;
  format: 'vdb-snapshot-v1+gzip';
  created_at: string;
  node: string;
  term: number;
}

export async function readPointer(ns: Namespace): Promise<{ pointer: SnapshotPointer; modRevision: number } | null> {
  const kv = (await ns.get(KEYS.snapshot).exec()).kvs[0];
  if (!kv) return null;
  let p: unknown;
  try {
    p = JSON.parse(kv.value.toString('utf8'));
  } catch {
    p = null;
  }
  if (!isObject(p) || typeof p.seq !== 'number' || typeof p.prefix !== 'string' || typeof p.parts !== 'number' || typeof p.bytes !== 'number' || typeof p.crc32 !== 'number') {
    throw new CorruptSnapshot('the cluster\'s snapshot pointer in etcd is damaged', { hint: 'restore etcd from a backup' });
  }
  return { pointer: p as unknown as SnapshotPointer, modRevision: rev(kv.mod_revision) };
}

/** The snapshot's bytes, checked; null when its parts are gone (a newer one replaced it meanwhile). */
export async function fetchSnapshot(ns: Namespace, p: SnapshotPointer): Promise<Buffer | null> {
  const bytes = await getParts(ns, p.prefix, p.parts);
  return bytes && checkParts(bytes, p, `snapshot ${p.seq}`);
}

export interface PublishOptions {
  seq: number;
  bytes: Buffer;
  term: number;
  electionKey: string;
  node: string;
  partBytes: number;
  /** Also written as the first snapshot of a new cluster, by the node that forms it (no election yet). */
  unfenced?: boolean;
}

/**
 * Publishes a snapshot and trims behind the previous one.
 * @returns false when it was not published: a snapshot at `seq` or later exists, or this node no longer leads
 */
export async function publishSnapshot(ns: Namespace, o: PublishOptions): Promise<boolean> {
  const prev = await readPointer(ns);
  if (prev && prev.pointer.seq >= o.seq) return false;
  const prefix = `${KEYS.snap}${pad(o.seq)}/${o.term}/`;
  const parts = await putParts(ns, prefix, o.bytes, o.partBytes);
  const pointer: SnapshotPointer = {
    seq: o.seq,
    prefix,
    parts,
    bytes: o.bytes.length,
    crc32: crc32(o.bytes),
    format: 'vdb-snapshot-v1+gzip',
    created_at: new Date().toISOString(),
    node: o.node,
    term: o.term,
  };
  let txn = o.unfenced ? ns.if(KEYS.snapshot, 'Create', '==', 0) : ns.if(o.electionKey, 'Create', '==', o.term);
  txn = prev ? txn.and(KEYS.snapshot, 'Mod', '==', prev.modRevision) : txn.and(KEYS.snapshot, 'Create', '==', 0);
  const ops = [ns.put(KEYS.snapshot).value(JSON.stringify(pointer)), ns.delete().inRange(new Range(KEYS.snap, `${KEYS.snap}${pad(o.seq)}`))];
  if (prev) {
    const upTo = prev.pointer.seq + 1;
    ops.push(ns.delete().inRange(new Range(KEYS.log, logKey(upTo))), ns.delete().inRange(new Range(KEYS.blob, `${KEYS.blob}${pad(upTo)}`)));
  }
  const res = await txn.then(...ops).commit();
  if (!res.succeeded) {
    await ns.delete().prefix(prefix).exec().catch(() => undefined);
    return false;
  }
  // The history before the previous pointer holds only what is trimmed now; watches that old are long gone.
  if (prev) await ns.kv.compact({ revision: prev.modRevision }).catch(() => undefined);
  return true;
}
