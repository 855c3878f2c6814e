/**
 * Replica sets on a real etcd (one member, started here), with real `vdb
 * serve --cluster` processes: replication and forwarding, failover under
 * SIGKILL during writes from several clients, fencing of a deposed leader,
 * and followers catching up from the log and from a snapshot. Each test is
 * its own cluster (its own key prefix) on the one etcd. Timings are reported,
 * not asserted: the bounds below are liveness timeouts only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { etcdAvailable, startEtcd } from '../helpers/etcd.js';
import type { Etcd } from '../helpers/etcd.js';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';
import { tempDir, vdb, vdbAsync, vdbInProcess } from '../helpers/cli.js';
import { SnapshotStore } from '../../src/store/store.js';
import { encodeSnapshot } from '../../src/store/snapshot.js';

const HAVE_ETCD = etcdAvailable();
const ENV = { VDB_CLUSTER_LEASE_TTL: '2', SOURCE_DATE_EPOCH: '1700000000' };

interface Node {
  id: string;
  db: string;
  served: Served;
}

// A liveness bound only: on a loaded machine a failover plus catch-up can take longer than the default 30 s.
// Concurrent: the tests are separate clusters and mostly wait out leases, so together they take about the longest one.
describe.skipIf(!HAVE_ETCD).concurrent('cluster (vdb serve --cluster, one etcd)', { timeout: 120_000 }, () => {
  let etcd: Etcd;
  const { dir, cleanup } = tempDir('vdb-cluster-');
  const running: Served[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop('SIGKILL')));
    await etcd?.stop();
    cleanup();
  });

  async function start(cluster: string, id: string, env: Record<string, string> = {}): Promise<Node> {
    const db = join(dir, `${cluster}-${id}.json`);
    const served = await serve({ db, args: ['--cluster', etcd.cluster(cluster), '--node-id', id], env: { ...ENV, ...env } });
    running.push(served);
    return { id, db, served };
  }

  async function call(node: Node, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
    const res = await fetch(`${node.served.url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, json: await res.json() };
  }

  async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = await f().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const leaderOf = (node: Node) =>
    waitFor(`a leader seen by ${node.id}`, async () => {
      const { json } = await call(node, 'GET', '/api/v1/cluster');
      return json.leader ? (json.leader.node_id as string) : undefined;
    });

  /** Every chunk of every library, as a strongly consistent read on `node`. */
  async function contents(node: Node): Promise<{ libs: any[]; chunks: any[] }> {
    const libs = (await call(node, 'GET', '/api/v1/libraries?consistency=strong')).json.libraries;
    const chunks: any[] = [];
    for (const l of libs) chunks.push(...(await call(node, 'GET', `/api/v1/libraries/${l.id}/chunks?limit=1000&with_embedding=true&consistency=strong`)).json.chunks);
    return { libs, chunks };
  }

  /** The logical state of a stopped node's replica, as one canonical text. */
  function state(db: string): string {
    return encodeSnapshot(new SnapshotStore(db).read());
  }

  it('replicates writes taken by any node, forwards them to the leader, and reads strongly anywhere', async ({ expect }) => {
    // Entries over 2 KiB go in parts, and an ingest batch splits into several entries.
    const small = { VDB_CLUSTER_MAX_VALUE_BYTES: '2048' };
    const n1 = await start('basic', 'n1', small);
    expect(await leaderOf(n1)).toBe('n1');
    const n2 = await start('basic', 'n2', small);
    expect(await leaderOf(n2)).toBe('n1');

    // Through the follower: forwarded, and readable there as soon as it answered.
    const lib = await call(n2, 'POST', '/api/v1/libraries', { name: 'docs' });
    expect(lib.status).toBe(201);
    const added = await call(n2, 'POST', '/api/v1/libraries/docs/chunks', { chunks: [{ text: 'hello vector world', tags: ['a'] }, { embedding: Array.from({ length: 26 }, (_, i) => i + 1) }] });
    expect(added.status, JSON.stringify(added.json)).toBe(201);
    expect((await call(n2, 'GET', `/api/v1/chunks/${added.json.chunks[0].id}`)).json.text).toBe('hello vector world');
    await call(n1, 'PATCH', `/api/v1/chunks/${added.json.chunks[0].id}`, { text: 'hello again' });
    // The same refusal from either node, with nothing appended that changes anything.
    const dup1 = await call(n1, 'POST', '/api/v1/libraries', { name: 'docs' });
    const dup2 = await call(n2, 'POST', '/api/v1/libraries', { name: 'docs' });
    expect([dup1.status, dup2.status]).toEqual([409, 409]);
    expect(dup2.json).toEqual(dup1.json);
    expect((await call(n2, 'POST', '/api/v1/libraries/nope/chunks', { chunks: [{ text: 'x' }] })).status).toBe(404);
    const bad = await call(n2, 'POST', '/api/v1/cluster/ops', { kind: 'chunk.put', input: { lib: 'docs', items: 'nope' } });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'bad_request']);

    expect(await contents(n2)).toEqual(await contents(n1));
    const status = (await call(n2, 'GET', '/api/v1/cluster?consistency=strong')).json;
    expect(status).toMatchObject({ mode: 'cluster', node_id: 'n2', leader: { node_id: 'n1' }, name: 'basic' });
    expect(status.nodes.map((n: any) => [n.node_id, n.role])).toEqual([
      ['n1', 'leader'],
      ['n2', 'follower'],
    ]);

    // The CLI against either node, and the refusal of a standalone write to a replica.
    const listed = await vdbInProcess(['--remote', n2.served.url, '--consistency', 'strong', 'chunk', 'list', '--lib', 'docs', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l).text)).toEqual(['hello again', '']);
    const st = await vdbInProcess(['cluster', 'status', '--remote', n1.served.url, '--json']);
    expect(JSON.parse(st.stdout).leader.node_id).toBe('n1');
    // Filters over --remote: count, a filtered list and query, and a delete by filter replicated from the follower.
    const rv = (args: string[]) => vdbInProcess(['--remote', n2.served.url, '--consistency', 'strong', ...args]);
    expect((await rv(['count', '--lib', 'docs', '--where', 'tag=a'])).stdout).toBe('1\n');
    expect((await rv(['chunk', 'list', '--lib', 'docs', '--where', 'tag=a', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual([added.json.chunks[0].id]);
    const hits = JSON.parse((await rv(['query', '--lib', 'docs', '--text', 'hello', '--where', 'tag=a', '--json'])).stdout).hits;
    expect(hits.map((h: any) => h.id)).toEqual([added.json.chunks[0].id]);
    expect(JSON.parse((await rv(['chunk', 'delete', '--lib', 'docs', '--where', 'tag=a', '--dry-run', '--json'])).stdout).id).toBe(added.json.chunks[0].id);
    expect((await rv(['count', '--lib', 'docs'])).stdout).toBe('2\n');
    const tmp = await call(n2, 'POST', '/api/v1/libraries/docs/chunks', { chunks: [{ text: 'temporary', tags: ['tmp'] }, { text: 'scratch', tags: ['tmp'] }] });
    const gone = (await rv(['chunk', 'delete', '--lib', 'docs', '--where', 'tag=tmp', '--json']));
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout.trim().split('\n').map((l) => JSON.parse(l).text)).toEqual(['temporary', 'scratch']);
    expect(tmp.status).toBe(201);
    expect((await call(n1, 'GET', '/api/v1/libraries/docs/count?consistency=strong')).json.count).toBe(2);
    const badFilter = (await rv(['chunk', 'delete', '--lib', 'docs', '--filter', '{"$bogus": 1}']));
    expect(badFilter.code).toBe(3);
    expect(badFilter.stderr).toMatch(/^vdb: error: /);

    // vdb ingest through the follower: the same summary as a local run, in several entries (each document whole in one).
    const files = join(dir, 'basic-files');
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'a.md'), '# Cats\n\nCats sleep a lot.\n\n## More\n\nThey purr when happy.\n');
    writeFileSync(join(files, 'b.txt'), 'Dogs bark at the mailman. '.repeat(60));
    writeFileSync(join(files, 'c.txt'), 'Birds sing at dawn. '.repeat(30));
    const lone = join(dir, 'basic-local.json');
    expect((await rv(['lib', 'create', 'kb'])).code).toBe(0);
    expect((await vdbInProcess(['lib', 'create', 'kb'], { db: lone })).code).toBe(0);
    const seq = async () => (await call(n1, 'GET', '/api/v1/cluster')).json.committed_seq as number;
    const seqBefore = await seq();
    const ingest = ['ingest', '--lib', 'kb', files, '--chunk-size', '200', '--overlap', '20', '--json'];
    const [ri, li] = [await rv(ingest), await vdbInProcess(ingest, { db: lone })];
    expect(ri.code, ri.stderr).toBe(0);
    const summary = (out: string) => ({ ...JSON.parse(out), lib_id: undefined });
    expect(summary(ri.stdout)).toEqual(summary(li.stdout));
    expect(summary(ri.stdout)).toMatchObject({ added: 3, failed: 0, text_index: { mode: 'full' } });
    // Two of the three documents are over half of 2 KiB with their vectors: one doc.replace entry each, then text.store.
    expect((await seq()) - seqBefore).toBe(4);
    const chunkView = (out: string) => out.trim().split('\n').map((line) => { const { id, text, metadata, doc_id } = JSON.parse(line); return { id, text, metadata, doc_id }; });
    const localChunks = chunkView((await vdbInProcess(['chunk', 'list', '--lib', 'kb', '--json'], { db: lone })).stdout);
    expect(chunkView((await vdbInProcess(['--remote', n1.served.url, '--consistency', 'strong', 'chunk', 'list', '--lib', 'kb', '--json'])).stdout)).toEqual(localChunks);
    expect(JSON.parse((await rv(['ingest', '--lib', 'kb', files, '--chunk-size', '200', '--overlap', '20', '--json'])).stdout)).toMatchObject({ unchanged: 3, chunks: { added: 0 } });
    // --strict is all or nothing per batch: one entry (in parts), then text.store.
    writeFileSync(join(files, 'b.txt'), 'Dogs sleep after barking. '.repeat(60));
    writeFileSync(join(files, 'c.txt'), 'Birds fly south. '.repeat(30));
    const seqStrict = await seq();
    expect(JSON.parse((await rv([...ingest, '--strict'])).stdout)).toMatchObject({ updated: 2, unchanged: 1 });
    expect((await seq()) - seqStrict).toBe(2);

    // vdb import through the follower, in batches: the data of the export, bit for bit, on the other node.
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: `v${i}`, embedding: [i, 1, -0], metadata: { i }, text: `vector ${i}` })).join('\n');
    expect((await vdbInProcess(['lib', 'create', 'vecs', '--dim', '3'], { db: lone })).code).toBe(0);
    expect((await vdbAsync(['chunk', 'add', '--lib', 'vecs', '--stdin'], { db: lone, input: lines })).code).toBe(0);
    expect((await vdbInProcess(['index', 'build', '--lib', 'vecs', '--type', 'hnsw'], { db: lone })).code).toBe(0);
    const exported = (await vdbInProcess(['export', '--lib', 'vecs'], { db: lone })).stdout;
    const imported = await vdbAsync(['--remote', n2.served.url, 'import', '--json'], { input: exported, env: { VDB_IMPORT_BATCH_BYTES: '1500' } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).libraries[0]).toMatchObject({ created: true, chunks: { added: 20 }, index: { mode: 'full', inserted: 20 } });
    const withVectors = ['chunk', 'list', '--lib', 'vecs', '--with-embedding', '--json'];
    expect((await vdbInProcess(['--remote', n1.served.url, '--consistency', 'strong', ...withVectors])).stdout).toBe((await vdbInProcess(withVectors, { db: lone })).stdout);
    const refused = await vdbAsync(['--remote', n1.served.url, 'import'], { input: exported });
    expect([refused.code, refused.stderr]).toEqual([5, expect.stringMatching(/^vdb: error: line 2: library "vecs" already exists/)]);

    // The Qdrant API on both nodes: writes through the follower and the leader, strong reads on the follower.
    const q2 = new QdrantClient({ url: n2.served.url, checkCompatibility: false });
    const q1 = new QdrantClient({ url: n1.served.url, checkCompatibility: false });
    await q2.createCollection('pts', { vectors: { size: 4, distance: 'Euclid' } });
    const points = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, vector: [i % 3, i % 5, (i * 7) % 4, i], payload: { g: i % 2 } }));
    await q2.upsert('pts', { wait: true, points });
    await q1.setPayload('pts', { payload: { tag: 'x' }, points: [1, 2], wait: true });
    const tagged = await q2.search('pts', { vector: [0, 0, 0, 0], limit: 5, filter: { must: [{ key: 'tag', match: { value: 'x' } }] }, consistency: 'all' });
    expect(tagged.map((h) => h.id)).toEqual([1, 2]);
    const q = [1, 2, 1, 3];
    const nearest = points.map((p) => ({ id: p.id, d: Math.hypot(...p.vector.map((x, j) => x - q[j])) })).sort((a, b) => a.d - b.d || a.id - b.id);
    const hitsOn1 = await q1.search('pts', { vector: q, limit: 4, consistency: 'all' });
    expect(hitsOn1.map((h) => h.id)).toEqual(nearest.slice(0, 4).map((p) => p.id));
    await q1.delete('pts', { wait: true, filter: { must: [{ key: 'g', match: { value: 1 } }] } });
    const left = await q2.scroll('pts', { limit: 20, with_payload: true, consistency: 'all' });
    expect(left.points.map((p) => p.id)).toEqual([1, 3, 5, 7, 9, 11]);
    expect(left.points[0].payload).toEqual({ g: 0, tag: 'x' });
    expect((await call(n2, 'POST', '/collections/pts/points/scroll?consistency=bogus', {})).status).toBe(400);
    // Errors from the leader in Qdrant's words, as on a single node.
    await expect(q2.createCollection('pts', { vectors: { size: 4, distance: 'Euclid' } })).rejects.toMatchObject({ status: 409, data: { status: { error: 'Wrong input: Collection `pts` already exists!' } } });
    await expect(q2.upsert('pts', { wait: true, points: [{ id: 50, vector: [1, 2, 3, 4] }, { id: 51, vector: [1, 2] }] })).rejects.toMatchObject({ status: 400, data: { status: { error: 'Wrong input: points[1]: embedding has 2 dims, expected 4' } } });
    expect(await contents(n2)).toEqual(await contents(n1));

    const direct = vdb(['--db', n2.db, 'chunk', 'add', '--lib', 'docs', 'sneaky']);
    expect(direct.code).toBe(5);
    expect(direct.stderr).toMatch(/^vdb: error: .* is a replica in cluster c_[0-9a-f]+ .*nothing was written/);

    // A graceful stop hands leadership over at once; both replicas hold the same state.
    await n1.served.stop('SIGTERM');
    expect(await leaderOf(n2)).toBe('n2');
    expect((await call(n2, 'POST', '/api/v1/libraries/docs/chunks', { chunks: [{ text: 'after' }] })).status).toBe(201);
    await n2.served.stop('SIGTERM');
    const before = state(n1.db);
    expect(before).toContain('hello again');
    expect(state(n2.db)).toContain('"after"');
  });

  it('fails over when the leader is killed during writes: every acknowledged write is there once, on every node', async ({ expect }) => {
    const nodes = [await start('failover', 'a')];
    await leaderOf(nodes[0]);
    nodes.push(await start('failover', 'b'), await start('failover', 'c'));
    expect((await call(nodes[1], 'POST', '/api/v1/libraries', { name: 'w', dim: 2 })).status).toBe(201);
    const acked: string[] = [];
    let stop = false;
    let killedAt = 0;
    const alive = () => nodes.filter((n) => n.served.child.exitCode === null && n.served.child.signalCode === null);
    // Three clients, each writing through whichever node it picks; a write is acknowledged by its 201.
    const client = async (c: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const tag = `c${c}-${i}`;
        const node = alive()[(c + i) % alive().length];
        const r = await call(node, 'POST', '/api/v1/libraries/w/chunks', { chunks: [{ embedding: [c + 1, i + 1], metadata: { w: tag } }] }).catch(() => null);
        if (r?.status === 201) acked.push(tag);
      }
    };
    const clients = [0, 1, 2].map(client);
    await waitFor('some writes', async () => (acked.length >= 15 ? true : undefined));
    const leader = nodes.find((n) => n.id === 'a')!;
    leader.served.child.kill('SIGKILL');
    killedAt = Date.now();
    const survivor = nodes[1];
    const next = await waitFor('a new leader', async () => {
      const { json } = await call(survivor, 'GET', '/api/v1/cluster');
      return json.leader && json.leader.node_id !== 'a' ? json.leader.node_id : undefined;
    });
    const failoverMs = Date.now() - killedAt;
    const afterKill = acked.length;
    await waitFor('writes after the failover', async () => (acked.length >= afterKill + 15 ? true : undefined));
    stop = true;
    await Promise.all(clients);
    console.log(`failover: new leader ${next} seen ${failoverMs} ms after SIGKILL; ${acked.length} writes acknowledged`);

    const views = await Promise.all(alive().map(contents));
    for (const v of views) {
      const tags = v.chunks.map((c: any) => c.metadata.w);
      const counts = new Map<string, number>();
      for (const t of tags) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const t of acked) expect(counts.get(t), t).toBe(1);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    }
    expect(views[1]).toEqual(views[0]);
    await Promise.all(alive().map((n) => n.served.stop('SIGTERM')));
    expect(state(nodes[2].db)).toBe(state(nodes[1].db));
  });

  it('fences off a deposed leader: stopped past its lease and resumed, it cannot append', async ({ expect }) => {
    const n1 = await start('fence', 'n1', { VDB_FAILPOINTS: 'leader-append' });
    await leaderOf(n1);
    const n2 = await start('fence', 'n2');
    // The leader prepares the write, then stops itself just before its append.
    const pending = call(n1, 'POST', '/api/v1/libraries', { name: 'late' });
    await n1.served.waitUntil((s) => s.includes('vdb: failpoint leader-append '));
    expect(await waitFor('n2 to lead', async () => ((await call(n2, 'GET', '/api/v1/cluster')).json.leader?.node_id === 'n2' ? true : undefined))).toBe(true);
    n1.served.child.kill('SIGCONT');
    const res = await pending;
    // Fenced off, n1 handed the write to the new leader: appended once, in n2's term.
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    await n1.served.waitUntil((s) => s.includes('no longer the leader') || s.includes('refused'));
    const libs = (await call(n2, 'GET', '/api/v1/libraries?consistency=strong')).json.libraries;
    expect(libs.map((l: any) => l.name)).toEqual(['late']);
    const status = (await call(n2, 'GET', '/api/v1/cluster')).json;
    expect(status.committed_seq).toBe(1);
    const { connect } = await import('../../src/cluster/etcd.js');
    const { decodeOp } = await import('../../src/cluster/codec.js');
    const { client, ns } = await connect({ hosts: [`http://${etcd.endpoint}`], name: 'fence' });
    try {
      const entry = decodeOp((await ns.get('log/0000000000000001').buffer())!, 'entry 1');
      expect([entry.node, entry.term]).toEqual(['n2', status.term]);
    } finally {
      client.close();
    }
  });

  it('catches a restarted follower up from the log, and from a snapshot once the log was trimmed', async ({ expect }) => {
    const env = { VDB_CLUSTER_SNAPSHOT_EVERY: '10', VDB_CLUSTER_MAX_VALUE_BYTES: '2048' };
    const n1 = await start('catchup', 'n1', env);
    await leaderOf(n1);
    let n2 = await start('catchup', 'n2', env);
    expect((await call(n1, 'POST', '/api/v1/libraries', { name: 'k', dim: 64 })).status).toBe(201);
    const add = (i: number) => call(n1, 'POST', '/api/v1/libraries/k/chunks', { chunks: [{ embedding: Array.from({ length: 64 }, (_, j) => i + j + 1), metadata: { i } }] });
    n2.served.child.kill('SIGKILL');
    for (let i = 0; i < 4; i++) expect((await add(i)).status).toBe(201);
    n2 = await start('catchup', 'n2', env);
    expect(await contents(n2)).toEqual(await contents(n1));
    expect(n2.served.stderr()).not.toContain('copying the snapshot');

    n2.served.child.kill('SIGKILL');
    // Some entries in parts (over 2 KiB each), and two snapshot intervals: the log is trimmed past n2.
    expect((await call(n1, 'POST', '/api/v1/libraries/k/chunks', { chunks: Array.from({ length: 12 }, (_, j) => ({ embedding: Array.from({ length: 64 }, (_, d) => j * d + 1) })) })).status).toBe(201);
    // Ingest, import and the full-text index while n2 is down: replayed or copied, they must leave the same bytes.
    const files = join(dir, 'catchup-files');
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'a.md'), '# Owls\n\nOwls hunt at night.\n');
    writeFileSync(join(files, 'b.txt'), 'Bees make honey. '.repeat(40));
    expect((await call(n1, 'POST', '/api/v1/libraries', { name: 'kb' })).status).toBe(201);
    const ingested = await vdbInProcess(['--remote', n1.served.url, 'ingest', '--lib', 'kb', files, '--chunk-size', '200', '--overlap', '0']);
    expect(ingested.code, ingested.stderr).toBe(0);
    const exported = JSON.stringify({ format: 'vdb-export', version: 1 }) + '\n' + JSON.stringify({ type: 'library', id: 'lib_imported', name: 'imp', dim: 2, metric: 'l2', embedder: null, metadata: {}, created_at: '2020-01-01T00:00:00.000Z', updated_at: '2020-01-01T00:00:00.000Z', index: { type: 'hnsw', params: {} } }) + '\n' +
      Array.from({ length: 8 }, (_, i) => JSON.stringify({ type: 'chunk', lib_id: 'lib_imported', id: `p${i}`, text: `point ${i}`, embedding: [i, -i], created_at: '2020-01-01T00:00:00.000Z', updated_at: '2020-01-01T00:00:00.000Z' })).join('\n') + '\n';
    const imported = await vdbAsync(['--remote', n1.served.url, 'import'], { input: exported, env: { VDB_IMPORT_BATCH_BYTES: '400' } });
    expect(imported.code, imported.stderr).toBe(0);
    for (let i = 4; i < 30; i++) expect((await add(i)).status).toBe(201);
    await waitFor('a snapshot', async () => {
      const { json } = await call(n1, 'GET', '/api/v1/cluster');
      return json.snapshot_seq >= 20 ? json : undefined;
    });
    n2 = await start('catchup', 'n2', env);
    expect(await contents(n2)).toEqual(await contents(n1));
    expect(n2.served.stderr()).toContain('copying the snapshot');
    await n2.served.stop('SIGTERM');
    await n1.served.stop('SIGTERM');
    expect(state(n2.db)).toBe(state(n1.db));
  });

  it('refuses a node whose database is not the cluster\'s, in one line', async ({ expect }) => {
    const other = join(dir, 'standalone.json');
    expect(vdb(['--db', other, 'lib', 'create', 'mine']).code).toBe(0);
    const n1 = await start('strict', 'n1');
    await leaderOf(n1);
    const r = vdb(['--db', other, 'serve', '--port', '0', '--cluster', etcd.cluster('strict'), '--node-id', 'n9'], { env: ENV });
    expect(r.code).toBe(5);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^vdb: error: .* holds data that is not part of cluster c_[0-9a-f]+ \(give this node an empty --db/);
    const noEtcd = vdb(['--db', join(dir, 'x.json'), 'serve', '--port', '0', '--cluster', 'etcd://127.0.0.1:1', '--node-id', 'n1'], { env: ENV });
    expect(noEtcd.code).toBe(10);
    expect(noEtcd.stderr).toMatch(/vdb: error: cannot reach etcd at 127\.0\.0\.1:1/);
  });
});
