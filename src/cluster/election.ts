/**
 * Leader election on etcd's election recipe (etcd3's Campaign: a key per
 * candidate on its own lease, kept alive; the candidate with the oldest key
 * leads). A leader's term is its key's create revision: it only grows, and
 * the log appender's transactions compare it, so a leader whose key is gone
 * (lease expired while it was stopped, or resigned) can no longer append.
 *
 * The observer follows the oldest key itself, rather than etcd3's observer,
 * because the term is that key's create revision and only the raw key has it.
 */
import { EventEmitter } from 'node:events';
import type { IKeyValue, Namespace } from './etcd.js';
import { KEYS, rev } from './etcd.js';

export interface LeaderInfo {
  node_id: string;
  url: string;
  term: number;
}

const PREFIX = `election/${KEYS.election}/`;
/** A missed watch event (a reconnect) costs at most this long. */
const RECHECK_MS = 2000;

/**
 * Events: `elected` (this node leads), `deposed` (it no longer does),
 * `leader` (the observed leader changed; LeaderInfo or null).
 */
export class Election extends EventEmitter {
  /** The leader as last observed; null while there is none. */
  leader: LeaderInfo | null = null;
  /** This node's term while it leads, else null. */
  term: number | null = null;
  /** This node's election key (namespace-relative) while it leads. */
  key: string | null = null;
  private campaign: import('etcd3').Campaign | null = null;
  private running = true;
  private wake: (() => void) | null = null;

  constructor(
    private readonly ns: Namespace,
    private readonly nodeId: string,
    private readonly url: string,
    /** Lease TTL, seconds: how long a crashed leader keeps its place. */
    private readonly ttl: number,
  ) {
    super();
  }

  get isLeader(): boolean {
    return this.term !== null;
  }

  start(): void {
    void this.observe();
    this.run();
  }

  /** Steps down (a new leader is elected at once) and stops campaigning. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    const c = this.campaign;
    this.campaign = null;
    this.stepDown();
    await c?.resign().catch(() => undefined);
  }

  /** Gives up this node's place (a new leader is elected at once) and campaigns again. */
  async restart(): Promise<void> {
    const c = this.campaign;
    this.campaign = null;
    this.stepDown();
    await c?.resign().catch(() => undefined);
    setTimeout(() => this.run(), 250);
  }

  /** Resolves when the observed leader changes, or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((done) => {
      const finish = () => {
        clearTimeout(t);
        this.off('leader', finish);
        done();
      };
      const t = setTimeout(finish, ms);
      this.once('leader', finish);
    });
  }

  private run(): void {
    if (!this.running) return;
    const c = this.ns.election(KEYS.election, this.ttl).campaign(JSON.stringify({ node_id: this.nodeId, url: this.url }));
    this.campaign = c;
    c.on('elected', () => {
      void this.onElected(c);
    });
    c.on('error', () => {
      if (this.campaign !== c) return;
      this.campaign = null;
      this.stepDown();
      setTimeout(() => this.run(), 250);
    });
  }

  private async onElected(c: import('etcd3').Campaign): Promise<void> {
    try {
      const full = await c.getCampaignKey();
      const key = PREFIX + full.slice(full.lastIndexOf('/') + 1);
      const res = await this.ns.get(key).exec();
      const kv = res.kvs[0];
      if (this.campaign !== c) return;
      // Elected, but the key is gone already (the lease expired meanwhile): the campaign will fail too.
      if (!kv) return;
      this.key = key;
      this.term = rev(kv.create_revision);
      this.emit('elected', this.term);
    } catch {
      // The campaign's error event restarts it.
    }
  }

  private stepDown(): void {
    if (this.term === null) return;
    this.term = null;
    this.key = null;
    this.emit('deposed');
  }

  /** Follows the oldest key under the election prefix. */
  private async observe(): Promise<void> {
    while (this.running) {
      try {
        const res = await this.ns.getAll().prefix(PREFIX).sort('Create', 'Ascend').limit(1).exec();
        const kv = res.kvs[0];
        this.setLeader(kv);
        await this.nextEvent(kv ? kv.key.toString() : null, rev(res.header.revision) + 1);
      } catch {
        await sleep(500);
      }
    }
  }

  private setLeader(kv: IKeyValue | undefined): void {
    let next: LeaderInfo | null = null;
    if (kv) {
      try {
        const v = JSON.parse(kv.value.toString('utf8')) as { node_id: string; url: string };
        next = { node_id: v.node_id, url: v.url, term: rev(kv.create_revision) };
      } catch {
        next = null;
      }
    }
    // Another key leads while this node thinks it does: its own key is gone (it was stopped past its lease).
    if (this.term !== null && next !== null && next.term !== this.term) {
      const c = this.campaign;
      this.campaign = null;
      this.stepDown();
      void c?.resign().catch(() => undefined);
      setTimeout(() => this.run(), 250);
    }
    const same = next === null ? this.leader === null : this.leader !== null && this.leader.term === next.term && this.leader.url === next.url;
    this.leader = next;
    if (!same) this.emit('leader', next);
  }

  /** Waits for the leader's key to change or go (or any key to appear when there is none). */
  private async nextEvent(key: string | null, fromRevision: number): Promise<void> {
    const builder = this.ns.watch().startRevision(String(fromRevision));
    let watcher: import('etcd3').Watcher | null = null;
    let over = false;
    try {
      // The recheck also bounds the watch's creation, which may never complete (its etcd member gone, a stream stuck).
      await new Promise<void>((done) => {
        const t = setTimeout(() => finish(), RECHECK_MS);
        const finish = () => {
          clearTimeout(t);
          this.wake = null;
          done();
        };
        this.wake = finish;
        (key === null ? builder.prefix(PREFIX) : builder.key(key)).create().then((w) => {
          watcher = w;
          if (over) return void w.cancel().catch(() => undefined);
          w.on('put', finish);
          w.on('delete', finish);
          w.on('error', finish);
        }, finish);
      });
    } finally {
      over = true;
      await (watcher as import('etcd3').Watcher | null)?.cancel().catch(() => undefined);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
