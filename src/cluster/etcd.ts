/**
 * The cluster's keys in etcd, and the client that reaches them. Every key
 * lives under one prefix, the cluster's name (`etcd://HOST:PORT/NAME`,
 * default `vdb`), so several clusters can share one etcd:
 *
 *   meta                         {"cluster_id", "seed", "created_at", "format": 1}, written once, when the cluster forms
 *   seq                          the last sequence appended to the log (absent: 0)
 *   log/<seq>                    one entry per write, <seq> as 16 decimal digits so keys sort in log order
 *   blob/<seq>/<term>/<part>     an entry too large for one value, in parts (the entry then points at them)
 *   snapshot                     the latest published snapshot: {"seq", "prefix", "parts", "bytes", "crc32", ...}
 *   snap/<seq>/<term>/<part>     its bytes, in parts
 *   idem/<key>                   the sequence an idempotency key was appended at (expires with a lease)
 *   nodes/<node id>              each running node's state (on that node's lease)
 *   election/leader/<lease>      the election (etcd's election recipe: the oldest key leads)
 *
 * Values stay under etcd's request limit (1.5 MiB by default): anything
 * larger goes in parts of at most VDB_CLUSTER_MAX_VALUE_BYTES (1 MiB).
 */
import { UsageError } from '../domain/errors.js';

// etcd3 is loaded only by cluster nodes: a type import costs nothing at run time.
import type { Etcd3, IKeyValue, Namespace } from 'etcd3';

export type { Etcd3, IKeyValue, Namespace };

export const KEYS = {
  meta: 'meta',
  seq: 'seq',
  log: 'log/',
  blob: 'blob/',
  snapshot: 'snapshot',
  snap: 'snap/',
  idem: 'idem/',
  nodes: 'nodes/',
  election: 'leader',
} as const;

export interface ClusterAddress {
  /** `http://host:port` of each etcd member given. */
  hosts: string[];
  /** The cluster's name: the prefix of all its keys, without the trailing slash. */
  name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Parses `etcd://HOST:PORT[,HOST:PORT...][/NAME]`.
 * @throws UsageError naming what is wrong
 */
export function parseClusterUrl(spec: string): ClusterAddress {
  const m = /^etcd:\/\/([^/]+)(?:\/([^/]*))?$/.exec(spec.trim());
  const example = 'etcd://127.0.0.1:2379,127.0.0.1:22379/mycluster';
  if (!m) throw new UsageError(`--cluster must look like ${example}, got "${spec}"`);
  const hosts = m[1].split(',').map((h) => {
    const hm = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(h);
    if (!hm || Number(hm[2]) < 1 || Number(hm[2]) > 65535) throw new UsageError(`--cluster: "${h}" is not HOST:PORT (e.g. ${example})`);
    return `http://${h}`;
  });
  const name = m[2] === undefined || m[2] === '' ? 'vdb' : m[2];
  if (!NAME.test(name)) throw new UsageError(`--cluster: the cluster name "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  return { hosts, name };
}

/** Per-call deadline for etcd requests (streams have none): a stopped etcd member must not hang a node. */
const CALL_DEADLINE_MS = 5000;

/** A client of the etcd members, and the namespace of the cluster's keys. */
export async function connect(address: ClusterAddress): Promise<{ client: Etcd3; ns: Namespace }> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({
    hosts: address.hosts,
    dialTimeout: CALL_DEADLINE_MS,
    // Log ranges and watch events may carry many entries of up to a MiB each.
    grpcOptions: { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': 8 << 20 },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  });
  return { client, ns: client.namespace(`${address.name}/`) };
}

/** `log/0000000000000042`. */
export function logKey(seq: number): string {
  return `${KEYS.log}${pad(seq)}`;
}

export function seqOfLogKey(key: Buffer | string): number {
  return Number(String(key).slice(String(key).lastIndexOf('/') + 1));
}

export function pad(seq: number): string {
  return String(seq).padStart(16, '0');
}

/** Largest value written in one piece; larger ones go in parts (tests set it low to exercise them). */
export function maxValueBytes(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.VDB_CLUSTER_MAX_VALUE_BYTES);
  return Number.isSafeInteger(n) && n >= 1024 ? Math.min(n, 1 << 20) : 1 << 20;
}

/** Writes `bytes` as parts `<prefix>0000`, `<prefix>0001`, …; returns how many. */
export async function putParts(ns: Namespace, prefix: string, bytes: Buffer, partBytes: number): Promise<number> {
  const parts = Math.max(1, Math.ceil(bytes.length / partBytes));
  for (let i = 0; i < parts; i++) await ns.put(`${prefix}${String(i).padStart(4, '0')}`).value(bytes.subarray(i * partBytes, (i + 1) * partBytes)).exec();
  return parts;
}

/**
 * Reads the parts written by putParts, one request each (a range of many could
 * exceed what one answer should carry).
 * @returns null when a part is missing (removed meanwhile: the caller looks again)
 */
export async function getParts(ns: Namespace, prefix: string, parts: number): Promise<Buffer | null> {
  const out: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    const part = await ns.get(`${prefix}${String(i).padStart(4, '0')}`).buffer();
    if (part === null) return null;
    out.push(part);
  }
  return Buffer.concat(out);
}

/** etcd revisions are int64 strings; the cluster's stay far below 2^53. */
export function rev(value: string | number): number {
  return Number(value);
}
