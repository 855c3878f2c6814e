/**
 * One node of a replica set (`vdb serve --cluster …`): its own replica (its
 * --db), the log it applies, the election it runs in, and the VdbApi the REST
 * routes call. Reads answer from the replica; writes go through the log: the
 * leader prepares them (validates, embeds once), appends them and answers
 * once its own replica applied them; a follower forwards them to the leader
 * and answers once it applied them too, so a client reads its own writes on
 * the node it wrote through.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Conflict, errorOf, InvalidInput, renameItem, StorageError, Unavailable, UsageError, VdbError } from '../domain/errors.js';
import { envNumber } from '../domain/env.js';
import type { ClusterNodeView, ClusterStatusView } from '../domain/wire.js';
import type { ChunkPatch, LibraryPatch, NewChunk, NewLibrary, QueryInput } from '../domain/types.js';
import { clockFromEnv, VdbService } from '../service/service.js';
import type { AddOptions, BuildRequest, Progress, SessionOptions } from '../service/service.js';
import type { DocumentsApi, LocalApi } from '../service/api.js';
import type { DocumentReplacement, ReplaceFailure, ReplaceFailureView, ReplaceResult } from '../service/replace.js';
import type { MetadataTarget } from '../service/service.js';
import type { Metadata, OnConflict } from '../domain/types.js';
import type { NumberedRecord } from '../transfer/format.js';
import type { ImportBatchOptions } from '../service/transfer.js';
import type { Database } from '../domain/model.js';
import { writeContext } from '../service/write-context.js';
import { SnapshotStore } from '../store/store.js';
import { exportDatabase } from '../store/portable.js';
import { failpoint } from '../store/failpoint.js';
import type { FilterInput } from '../filter/parse.js';
import type { Etcd3, Namespace } from './etcd.js';
import { connect, KEYS, maxValueBytes, pad, putParts } from './etcd.js';
import type { ClusterAddress } from './etcd.js';
import { Election } from './election.js';
import { Appender, NotLeader } from './appender.js';
import { Applier } from './applier.js';
import type { OpClock, Outcome } from './applier.js';
import { encodeOp } from './codec.js';
import { forward } from './forward.js';
import { isObject } from '../store/snapshot.js';
import { OPS } from './ops.js';
import type { OpInput, OpKind, OpResult } from './ops.js';
import { publishSnapshot, readPointer } from './snapshots.js';
import { crc32 } from 'node:zlib';

export interface NodeOptions {
  db: string;
  address: ClusterAddress;
  nodeId: string;
  /** The cluster's seed when this node forms it (--seed); a node joining must agree with the cluster's. */
  seed?: string;
  apiKey?: string;
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

interface Meta {
  cluster_id: string;
  seed: string;
  created_at: string;
  format: 1;
}

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface Tuning {
  /** Seconds a node's leases live without keep-alives: how long a crashed leader keeps its place. */
  leaseTtl: number;
  /** How long a write waits for a leader (an election, a failover) before it is refused with 503. */
  writeWaitMs: number;
  /** How long a strong read waits for this node to apply what was committed. */
  strongWaitMs: number;
  /** The leader publishes a snapshot after this many entries ... */
  snapshotEvery: number;
  /** ... or this many bytes of entries, whichever comes first. */
  snapshotBytes: number;
  /** Seconds an idempotency key is remembered. */
  idempotencyTtl: number;
}

export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): Tuning {
  const num = (name: string, fallback: number, min: number) => envNumber(env, name, fallback, min);
  return {
    leaseTtl: Math.round(num('VDB_CLUSTER_LEASE_TTL', 2, 1)),
    writeWaitMs: num('VDB_CLUSTER_WRITE_WAIT_MS', 15_000, 0),
    strongWaitMs: num('VDB_CLUSTER_STRONG_WAIT_MS', 10_000, 0),
    snapshotEvery: Math.round(num('VDB_CLUSTER_SNAPSHOT_EVERY', 1000, 1)),
    snapshotBytes: num('VDB_CLUSTER_SNAPSHOT_BYTES', 256 << 20, 1),
    idempotencyTtl: Math.round(num('VDB_CLUSTER_IDEMPOTENCY_TTL', 3600, 10)),
  };
}

export class ClusterNode implements LocalApi {
  readonly service: VdbService;
  readonly clusterId: string;
  private election: Election | null = null;
  private appender: Appender | null = null;
  private url = '';
  private readonly startedAt = new Date().toISOString();
  /** The log's end when this node started: reads wait until it applied that much. */
  private readonly target: number;
  private nodeLease: import('etcd3').Lease | null = null;
  private reporter: NodeJS.Timeout | null = null;
  private lastReport = '';
  private snapshotSeq = 0;
  private bytesAtSnapshot = 0;
  private publishing = false;
  private stopped = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly ns: Namespace,
    readonly applier: Applier,
    meta: Meta,
    committed: number,
    private readonly opts: NodeOptions,
    private readonly tuning: Tuning,
    service: VdbService,
  ) {
    this.service = service;
    this.clusterId = meta.cluster_id;
    this.target = committed;
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /**
   * Connects to etcd, forms the cluster if there is none (the first node's
   * database, if it has data, becomes the cluster's first snapshot), checks
   * that this node's database belongs to it, and starts applying the log.
   * The node takes part in the election once it serves (start).
   */
  static async join(opts: NodeOptions): Promise<ClusterNode> {
    if (!NODE_ID.test(opts.nodeId)) throw new UsageError(`--node-id must be 1-64 letters, digits, ".", "_" or "-" (starting with a letter or digit), got "${opts.nodeId}"`);
    const tuning = tuningFromEnv(opts.env);
    const { client, ns } = await connect(opts.address);
    const where = opts.address.hosts.map((h) => h.replace(/^http:\/\//, '')).join(',');
    try {
      const local = new SnapshotStore(opts.db).read();
      let meta = await etcdCall(where, () => readMeta(ns));
      if (!meta) meta = await etcdCall(where, () => form(ns, opts, local.libraries.length > 0 ? local : null));
      if (opts.seed !== undefined && opts.seed !== meta.seed) {
        throw new UsageError(`cluster ${meta.cluster_id} was formed with another seed than --seed ${opts.seed}`, { hint: 'drop --seed: every node takes the cluster\'s' });
      }
      const mine = local.replication;
      if (mine && mine.cluster_id !== meta.cluster_id) {
        throw new Conflict(`${opts.db} belongs to cluster ${mine.cluster_id}, but ${opts.address.name} on etcd ${where} is cluster ${meta.cluster_id}`, {
          hint: 'give this node an empty --db (it copies the cluster\'s data), or point --cluster at its own cluster',
        });
      }
      if (!mine && local.libraries.length > 0) {
        throw new Conflict(`${opts.db} holds data that is not part of cluster ${meta.cluster_id}`, {
          hint: 'give this node an empty --db (it copies the cluster\'s data), or move the data away; only the node that forms a cluster brings its data',
        });
      }
      const committed = await etcdCall(where, async () => Number((await ns.get(KEYS.seq).string()) ?? '0'));
      if (mine && mine.applied_seq > committed) {
        throw new StorageError(`${opts.db} has applied entry ${mine.applied_seq} of cluster ${meta.cluster_id}, but the cluster's log in etcd ends at ${committed}`, {
          hint: 'etcd lost data or was restored from an older backup; move this --db away to copy the cluster again',
        });
      }
      const clock: OpClock = { at: new Date(0).toISOString() };
      const service = new VdbService({ path: opts.db, seed: meta.seed, now: () => clock.at, concurrentReaders: true, buildsOffThread: true, preparedWrites: true });
      // The node's own holder of the replica: a standalone vdb refuses to write it from now on.
      service.store.stampCommits({ cluster_id: meta.cluster_id, applied_seq: mine?.applied_seq ?? 0 });
      let node!: ClusterNode;
      const applier = new Applier(ns, service, clock, {
        clusterId: meta.cluster_id,
        applied: mine?.applied_seq ?? 0,
        afterApply: (seq) => node.afterApply(seq),
        log: opts.log,
      });
      node = new ClusterNode(client, ns, applier, meta, committed, opts, tuning, service);
      // A new node copies the cluster's data first, whatever sequence it is at.
      if (!mine) await node.copySnapshot();
      await applier.start();
      return node;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Joins the election and reports this node in `nodes/`, reachable at `url` (--advertise). */
  async start(url: string): Promise<void> {
    this.url = url;
    await this.register();
    const e = new Election(this.ns, this.nodeId, url, this.tuning.leaseTtl);
    this.election = e;
    e.on('elected', (term: number) => void this.lead(term));
    e.on('deposed', () => {
      this.appender?.close();
      this.appender = null;
      this.opts.log(`vdb: cluster: node ${this.nodeId} is no longer the leader`);
    });
    e.on('leader', (l) => {
      if (l && l.node_id !== this.nodeId) this.opts.log(`vdb: cluster: leader is ${l.node_id} (${l.url}), term ${l.term}`);
      if (!l) this.opts.log('vdb: cluster: no leader; electing one');
    });
    e.start();
    this.reporter = setInterval(() => void this.report(), 500);
  }

  /** Steps down (another node takes over at once), stops applying and leaves. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reporter) clearInterval(this.reporter);
    await this.election?.stop();
    this.appender?.close();
    await this.applier.stop();
    await this.nodeLease?.revoke().catch(() => undefined);
    this.client.close();
  }

  // ---- reads: this node's replica -------------------------------------------------

  listLibraries() {
    this.readable();
    return this.service.listLibraries();
  }

  getLibrary(ref: string) {
    this.readable();
    return this.service.getLibrary(ref);
  }

  listChunks(ref: string, opts?: { offset?: number; limit?: number; withEmbedding?: boolean; filter?: FilterInput }) {
    this.readable();
    return this.service.listChunks(ref, opts);
  }

  countChunks(ref: string, filter?: FilterInput) {
    this.readable();
    return this.service.countChunks(ref, filter);
  }

  getChunk(id: string, withEmbedding?: boolean, libRef?: string) {
    this.readable();
    return this.service.getChunk(id, withEmbedding, libRef);
  }

  indexInfo(ref: string) {
    this.readable();
    return this.service.indexInfo(ref);
  }

  async query(ref: string, input: QueryInput) {
    this.readable();
    return this.service.query(ref, input);
  }

  async querySession(ref: string, opts?: SessionOptions) {
    this.readable();
    return this.service.querySession(ref, opts);
  }

  snapshot(): Database {
    this.readable();
    return this.service.store.read();
  }

  /** Storage only: folds this replica's log (it changes no data, so it is not replicated). */
  compact() {
    return this.service.compact();
  }

  /**
   * A strong read: waits until this node has applied everything committed
   * now (read-your-writes on any node).
   * @throws Unavailable when etcd is out of reach or the node does not catch up in time
   */
  async sync(): Promise<void> {
    let committed: number;
    try {
      committed = Number((await this.ns.get(KEYS.seq).string()) ?? '0');
    } catch (err) {
      throw new Unavailable(`node ${this.nodeId} cannot reach etcd for a strong read (${(err as Error).message})`, { hint: 'retry, or read without consistency=strong' });
    }
    if (!(await this.applier.waitFor(committed, this.tuning.strongWaitMs))) {
      throw new Unavailable(`node ${this.nodeId} has applied ${this.applier.applied} of ${committed} entries and did not catch up within ${this.tuning.strongWaitMs} ms`, {
        hint: 'retry, or read from another node (GET /api/v1/cluster shows their lag)',
      });
    }
  }

  private readable(): void {
    if (this.applier.applied >= this.target) return;
    throw new Unavailable(`node ${this.nodeId} is catching up with the cluster (applied ${this.applier.applied} of ${this.target} entries)`, {
      hint: 'retry, or read from another node',
    });
  }

  // ---- writes: through the log ------------------------------------------------

  createLibrary(input: NewLibrary) {
    return this.submit('library.create', input);
  }

  updateLibrary(ref: string, patch: LibraryPatch) {
    return this.submit('library.update', { lib: ref, patch });
  }

  deleteLibrary(ref: string) {
    return this.submit('library.delete', { lib: ref });
  }

  async addChunks(ref: string, items: NewChunk[], opts?: AddOptions) {
    return (await this.putChunks(ref, items, opts)).chunks;
  }

  // Items are named as the caller names them (the Qdrant routes: points[i]); progress is the CLI's.
  async putChunks(ref: string, items: NewChunk[], opts?: AddOptions) {
    try {
      return await this.submit('chunk.put', { lib: ref, items, on_conflict: opts?.onConflict });
    } catch (err) {
      throw renameItem(err, items.length, opts?.where);
    }
  }

  updateChunk(id: string, patch: ChunkPatch, libRef?: string) {
    return this.submit('chunk.update', { id, patch, lib: libRef });
  }

  deleteChunks(ids: string[], libRef?: string) {
    if (ids.length === 0) return Promise.reject(new InvalidInput('give at least one chunk id'));
    return this.submit('chunk.delete', { ids, lib: libRef });
  }

  /** A dry run is a read of this replica; a deletion goes through the log. */
  async deleteWhere(ref: string, filter: FilterInput, opts: { dryRun?: boolean } = {}) {
    if (!opts.dryRun) return this.submit('chunk.delete_where', { lib: ref, filter });
    this.readable();
    return this.service.deleteWhere(ref, filter, { dryRun: true });
  }

  /** Documents: reads from the replica, writes through the log. */
  readonly documents: DocumentsApi = {
    list: (libRef, opts) => {
      this.readable();
      return this.service.documents.list(libRef, opts);
    },
    get: (id, libRef) => {
      this.readable();
      return this.service.documents.get(id, libRef);
    },
    add: async (libRef, items, opts) => {
      try {
        return await this.submit('doc.add', { lib: libRef, items, on_conflict: opts?.onConflict });
      } catch (err) {
        throw renameItem(err, items.length, opts?.where, 'document');
      }
    },
    update: (id, patch, libRef) => this.submit('doc.update', { id, patch, lib: libRef }),
    delete: (ids, libRef) => this.submit('doc.delete', { ids, lib: libRef }),
    replace: (libRef, items, opts) => this.replaceDocuments(libRef, items, opts?.isolate),
  };

  /**
   * Documents replaced through `doc.replace` entries. Leaving invalid ones
   * out (`isolate`, what ingest does by default), as many entries as keep
   * each under one etcd value (VDB_CLUSTER_MAX_VALUE_BYTES), whole documents
   * in each: every document is replaced atomically, every entry is one atomic
   * change, and a document larger than that goes alone, its entry in parts.
   * All or nothing (`vdb ingest --strict`): one entry, in parts if need be,
   * so a refused document leaves the whole request unwritten, as locally.
   */
  private async replaceDocuments(libRef: string, items: DocumentReplacement[], isolate?: boolean): Promise<(ReplaceResult | ReplaceFailure)[]> {
    if (!Array.isArray(items) || items.length === 0) throw new InvalidInput('give at least one document');
    // Sizes need the library's dim; a library this replica does not have yet is the leader's to judge, in one entry.
    let dim = Infinity;
    try {
      dim = this.service.getLibrary(libRef).dim;
    } catch {
      // Sent as one group.
    }
    const out: (ReplaceResult | ReplaceFailure)[] = [];
    for (const group of isolate ? entryGroups(items, dim, maxValueBytes(this.opts.env)) : [items]) {
      const results = await this.submit('doc.replace', { lib: libRef, items: group, isolate });
      out.push(...results.map((r) => ('error' in r ? failureOf(r) : r)));
    }
    return out;
  }

  setMetadata(ref: string, target: MetadataTarget, values: Metadata, opts: { mode: 'merge' | 'replace'; path?: string[] }) {
    return this.submit('chunk.set_metadata', { lib: ref, target, values, mode: opts.mode, path: opts.path });
  }

  unsetMetadata(ref: string, target: MetadataTarget, paths: string[][]) {
    return this.submit('chunk.unset_metadata', { lib: ref, target, paths });
  }

  /** On this replica once it applied everything committed: the checks before an import's first batch. */
  async checkImport(libraries: NumberedRecord[], opts: { onConflict?: OnConflict; outside?: Record<string, string[]> }) {
    await this.sync();
    return this.service.checkImport(libraries, opts);
  }

  importBatch(records: NumberedRecord[], opts: ImportBatchOptions) {
    return this.submit('library.import', { records, on_conflict: opts.onConflict, into: opts.into, last: opts.last, changed: opts.changed });
  }

  storeTextIndex(ref: string, opts: { whenWorthIt?: boolean } = {}) {
    return this.submit('text.store', { lib: ref, when_worth_it: opts.whenWorthIt });
  }

  buildIndex(ref: string, req: BuildRequest, _onProgress?: Progress) {
    return this.submit('index.build', { lib: ref, req });
  }

  /**
   * Runs a write through the log, from any node: on the leader it is
   * prepared and appended here; elsewhere it goes to the leader (and again to
   * the next one after a failover, under the same key).
   * @throws Unavailable when no leader takes it within writeWaitMs
   */
  async submit<K extends OpKind>(kind: K, input: OpInput<K>): Promise<OpResult<K>> {
    const clientKey = writeContext.getStore()?.idempotencyKey;
    // Every attempt goes with the same key, here or forwarded: an attempt whose answer was lost (the leader
    // died after its append, or this node's own append was cut off) may have landed, and a retry must not double it.
    const key = clientKey ?? `${this.nodeId}:${randomUUID()}`;
    const deadline = Date.now() + this.tuning.writeWaitMs;
    let why = 'no leader is elected';
    for (;;) {
      if (this.stopped) throw new Unavailable(`node ${this.nodeId} is shutting down`, { hint: 'retry on another node' });
      const leader = this.election?.leader ?? null;
      if (this.appender) {
        try {
          const { outcome } = await this.lead0(kind, input as never, key);
          return unwrap(outcome) as OpResult<K>;
        } catch (err) {
          if (!(err instanceof NotLeader)) throw err;
          why = err.message;
        }
      } else if (leader && leader.node_id !== this.nodeId) {
        const r = await forward(leader.url, { kind, input, key }, this.opts.apiKey);
        if (r.kind === 'done') {
          // Read-your-writes here: answer once this replica has it too (it is committed either way).
          await this.applier.waitFor(r.seq, this.tuning.strongWaitMs);
          return unwrap(r.outcome) as OpResult<K>;
        }
        if (r.kind === 'refused') throw r.error;
        why = r.why;
      }
      if (Date.now() >= deadline) throw new Unavailable(`the cluster took no write within ${this.tuning.writeWaitMs} ms: ${why}`, { hint: 'retry; GET /api/v1/cluster shows the nodes and the leader' });
      await (this.election ? this.election.changed(200) : sleep(200));
    }
  }

  /**
   * The forwarding endpoint's side, on the leader.
   * @throws Unavailable when this node is not (or no longer) the leader, so the forwarder tries again
   */
  async submitForwarded(kind: OpKind, input: unknown, key: string | undefined): Promise<{ seq: number; outcome: Outcome }> {
    if (!this.appender) throw new Unavailable(`node ${this.nodeId} is not the leader`, { hint: 'send writes to any node: it forwards them' });
    try {
      return await this.lead0(kind, input as never, key);
    } catch (err) {
      if (err instanceof NotLeader) throw new Unavailable(`node ${this.nodeId} is no longer the leader (${err.message})`, { hint: 'retry' });
      throw err;
    }
  }

  /** On the leader: prepare, append, wait for this replica to apply it. */
  private async lead0(kind: OpKind, input: never, key: string | undefined): Promise<{ seq: number; outcome: Outcome }> {
    const appender = this.appender;
    if (!appender) throw new NotLeader('this node is not the leader');
    const prepared = await (OPS[kind].prepare as (svc: VdbService, input: unknown) => Promise<{ payload: unknown; vectors: Float32Array[] }>)(this.service, input);
    const op = { kind, id: key ?? randomUUID(), term: appender.term, node: this.nodeId, at: clockFromEnv(this.opts.env)(), ...prepared };
    const bytes = encodeOp(op).length;
    failpoint('leader-append');
    const { seq, duplicate } = await appender.append(op, key);
    if (!duplicate) this.applier.offer(seq, op, bytes);
    await this.applier.waitFor(seq);
    const outcome = this.applier.result(seq);
    if (outcome) return { seq, outcome };
    throw new Conflict(`Idempotency-Key ${JSON.stringify(key)} was used by write ${seq}, applied earlier; its answer is no longer kept`, { hint: 'use a new key for a new write' });
  }

  /** Elected: catch up with the whole log first, then take writes. */
  private async lead(term: number): Promise<void> {
    const e = this.election!;
    for (let attempt = 1; ; attempt++) {
      try {
        const committed = Number((await this.ns.get(KEYS.seq).string()) ?? '0');
        await this.applier.waitFor(committed);
        const ptr = await readPointer(this.ns);
        if (e.term !== term || this.stopped) return;
        this.snapshotSeq = ptr?.pointer.seq ?? 0;
        this.bytesAtSnapshot = this.applier.appliedBytes;
        this.appender = new Appender(this.ns, { term, electionKey: e.key!, committed, maxValueBytes: maxValueBytes(this.opts.env), idempotencyTtl: this.tuning.idempotencyTtl, log: this.opts.log });
        this.opts.log(`vdb: cluster: node ${this.nodeId} is the leader (term ${term}, log at ${committed})`);
        return;
      } catch (err) {
        if (attempt < 3) {
          await sleep(500);
          continue;
        }
        // A leader that cannot take writes would hold every write up: let another node lead.
        this.opts.log(`vdb: cluster: node ${this.nodeId} was elected but cannot take writes (${(err as Error).message}); stepping down`);
        await e.restart();
        return;
      }
    }
  }

  // ---- snapshots -------------------------------------------------------------

  /** Between two entries: the leader publishes a snapshot every snapshotEvery entries (or snapshotBytes). */
  private async afterApply(seq: number): Promise<void> {
    const appender = this.appender;
    if (!appender || this.publishing) return;
    if (seq - this.snapshotSeq < this.tuning.snapshotEvery && this.applier.appliedBytes - this.bytesAtSnapshot < this.tuning.snapshotBytes) return;
    this.publishing = true;
    // Exported here, between entries: the replica is exactly at `seq`.
    let bytes: Buffer;
    try {
      bytes = await exportDatabase(this.service.store.read());
    } catch (err) {
      this.publishing = false;
      this.opts.log(`vdb: cluster: cannot export a snapshot at entry ${seq}: ${(err as Error).message}`);
      return;
    }
    this.bytesAtSnapshot = this.applier.appliedBytes;
    void publishSnapshot(this.ns, { seq, bytes, term: appender.term, electionKey: appender.electionKey, node: this.nodeId, partBytes: maxValueBytes(this.opts.env) })
      .then((ok) => {
        if (ok) this.snapshotSeq = seq;
      })
      .catch((err) => this.opts.log(`vdb: cluster: publishing the snapshot at entry ${seq} failed: ${(err as Error).message}`))
      .finally(() => (this.publishing = false));
  }

  /** Copies the latest snapshot into this (new) node's replica, if the cluster has one. */
  private async copySnapshot(): Promise<void> {
    await this.applier.copyLatest();
  }

  // ---- status ------------------------------------------------------------------

  /** This node's view of the cluster (GET /api/v1/cluster). */
  async status(): Promise<ClusterStatusView> {
    let committed: number | null = null;
    let snapshot: number | null = null;
    let others: ClusterNodeView[] = [];
    try {
      const [seq, nodes, ptr] = await Promise.all([this.ns.get(KEYS.seq).string(), this.ns.getAll().prefix(KEYS.nodes).strings(), readPointer(this.ns)]);
      committed = Number(seq ?? '0');
      snapshot = ptr?.pointer.seq ?? null;
      others = Object.values(nodes).flatMap((v) => {
        try {
          const n = JSON.parse(v) as ClusterNodeView;
          return n.node_id === this.nodeId ? [] : [{ ...n, lag: Math.max(0, (committed ?? 0) - n.applied_seq) }];
        } catch {
          return [];
        }
      });
    } catch {
      // etcd out of reach: this node's own view only.
    }
    const me = this.self();
    if (committed !== null) me.lag = Math.max(0, committed - me.applied_seq);
    const leader = this.election?.leader ?? null;
    return {
      mode: 'cluster',
      cluster_id: this.clusterId,
      name: this.opts.address.name,
      node_id: this.nodeId,
      leader: leader && { node_id: leader.node_id, url: leader.url },
      term: leader?.term ?? null,
      committed_seq: committed,
      snapshot_seq: snapshot,
      nodes: [me, ...others].sort((a, b) => a.node_id.localeCompare(b.node_id)),
    };
  }

  private self(): ClusterNodeView {
    return {
      node_id: this.nodeId,
      url: this.url,
      role: this.appender ? 'leader' : 'follower',
      applied_seq: this.applier.applied,
      lag: 0,
      state: this.applier.applied < this.target && this.applier.state === 'ready' ? 'catching_up' : this.applier.state,
      error: this.applier.lastError,
      started_at: this.startedAt,
      updated_at: new Date().toISOString(),
    };
  }

  /** Registers `nodes/<id>` on this node's lease; a previous run's entry may linger until its lease expires. */
  private async register(): Promise<void> {
    const key = `${KEYS.nodes}${this.nodeId}`;
    const until = Date.now() + (2 * this.tuning.leaseTtl + 2) * 1000;
    // etcd may fail a try (a member down, a new etcd leader, the lease expired before the put: a slow etcd).
    const giveUp = Date.now() + this.tuning.writeWaitMs;
    for (;;) {
      if (this.stopped) return;
      const lease = this.ns.lease(this.tuning.leaseTtl);
      let res;
      try {
        const id = await lease.grant();
        res = await this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(JSON.stringify(this.self())).lease(id)).commit();
      } catch (err) {
        await lease.revoke().catch(() => undefined);
        if (Date.now() > giveUp) throw new Unavailable(`cannot register node ${this.nodeId} in etcd (${(err as Error).message.split('\n')[0]})`, { hint: 'check that etcd runs' });
        await sleep(250);
        continue;
      }
      if (res.succeeded) {
        this.nodeLease = lease;
        lease.on('lost', () => {
          if (this.stopped) return;
          this.nodeLease = null;
          this.lastReport = '';
          void this.reRegister();
        });
        return;
      }
      await lease.revoke().catch(() => undefined);
      if (Date.now() > until) {
        throw new Conflict(`another running node uses --node-id ${this.nodeId} in cluster ${this.clusterId}`, { hint: 'give every node its own --node-id' });
      }
      await sleep(250);
    }
  }

  /** After its lease was lost (etcd out of reach past the TTL): register again until it works or the node stops. */
  private async reRegister(): Promise<void> {
    for (let tries = 0; !this.stopped; tries++) {
      await sleep(250);
      try {
        await this.register();
        if (tries > 0) this.opts.log(`vdb: cluster: node ${this.nodeId} registered again`);
        return;
      } catch (err) {
        if (tries === 0) this.opts.log(`vdb: cluster: cannot register node ${this.nodeId} again (retrying): ${(err as Error).message}`);
        await sleep(1000);
      }
    }
  }

  private async report(): Promise<void> {
    const lease = this.nodeLease;
    if (!lease || this.stopped) return;
    const { updated_at: _, ...state } = this.self();
    const text = JSON.stringify(state);
    if (text === this.lastReport) return;
    try {
      await this.ns.put(`${KEYS.nodes}${this.nodeId}`).value(JSON.stringify(this.self())).lease(await lease.grant()).exec();
      this.lastReport = text;
    } catch {
      // Next tick.
    }
  }
}

/** Consecutive runs of documents whose entry stays under `limit` bytes (roughly: texts, metadata and float32 vectors). */
function entryGroups(items: DocumentReplacement[], dim: number, limit: number): DocumentReplacement[][] {
  const groups: DocumentReplacement[][] = [];
  let group: DocumentReplacement[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = JSON.stringify(item ?? null).length + (Array.isArray(item?.chunks) ? item.chunks.length * dim * 4 : 0);
    if (!Number.isFinite(size)) return [items];
    if (group.length > 0 && bytes + size > limit) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += size;
  }
  groups.push(group);
  return groups;
}

function failureOf(f: ReplaceFailureView): ReplaceFailure {
  return { id: f.id, error: errorOf(f.error.code, f.error.message, { hint: f.error.hint }) };
}

function unwrap(outcome: Outcome): unknown {
  if (outcome.ok) return outcome.value;
  throw errorOf(outcome.error.code, outcome.error.message);
}

async function readMeta(ns: Namespace): Promise<Meta | null> {
  const text = await ns.get(KEYS.meta).string();
  if (text === null) return null;
  const m = JSON.parse(text) as unknown;
  if (!isObject(m) || typeof m.cluster_id !== 'string' || typeof m.seed !== 'string') throw new StorageError('the cluster\'s meta key in etcd is damaged', { hint: 'restore etcd from a backup' });
  return m as unknown as Meta;
}

/**
 * Forms the cluster: its id and seed, and (when the forming node has data)
 * its first snapshot at entry 0, all in one transaction, so no node ever sees
 * the cluster without its data. Loses gracefully to a node forming it at the
 * same time.
 */
async function form(ns: Namespace, opts: NodeOptions, data: import('../domain/model.js').Database | null): Promise<Meta> {
  const meta: Meta = { cluster_id: `c_${randomBytes(8).toString('hex')}`, seed: opts.seed ?? randomBytes(8).toString('hex'), created_at: new Date().toISOString(), format: 1 };
  const txn = ns.if(KEYS.meta, 'Create', '==', 0);
  const puts = [ns.put(KEYS.meta).value(JSON.stringify(meta))];
  let prefix: string | null = null;
  if (data) {
    data.replication = { cluster_id: meta.cluster_id, applied_seq: 0 };
    const bytes = await exportDatabase(data);
    prefix = `${KEYS.snap}${pad(0)}/0/`;
    const parts = await putParts(ns, prefix, bytes, maxValueBytes(opts.env));
    const pointer = { seq: 0, prefix, parts, bytes: bytes.length, crc32: crc32(bytes), format: 'vdb-snapshot-v1+gzip', created_at: meta.created_at, node: opts.nodeId, term: 0 };
    puts.push(ns.put(KEYS.snapshot).value(JSON.stringify(pointer)));
  }
  const res = await txn.then(...puts).commit();
  if (res.succeeded) {
    opts.log(`vdb: cluster: formed cluster ${meta.cluster_id} (${opts.address.name})${data ? ` with the ${data.libraries.length} libraries of ${opts.db}` : ''}`);
    return meta;
  }
  if (prefix) await ns.delete().prefix(prefix).exec().catch(() => undefined);
  const theirs = await readMeta(ns);
  if (!theirs) throw new StorageError('the cluster was formed and removed at once', { hint: 'retry' });
  return theirs;
}

/** Runs an etcd request at start-up; failing to reach etcd is one clear line. */
async function etcdCall<T>(where: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof VdbError) throw err;
    throw new Unavailable(`cannot reach etcd at ${where} (${(err as Error).message.split('\n')[0]})`, { hint: 'check --cluster and that etcd runs' });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

