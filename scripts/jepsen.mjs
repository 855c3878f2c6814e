#!/usr/bin/env node
/**
 * `npm run jepsen`: a replica set under faults, and a checker.
 *
 * Three etcd members and three `vdb serve --cluster` nodes on loopback, each
 * with its own data directory. First, without faults: write throughput
 * through the leader, through a follower (forwarded) and on a single node
 * without a cluster, and replication lag under that load (entries behind, as
 * GET /api/v1/cluster reports them, and the time until a write the leader
 * acknowledged is readable on a follower). Then the chaos: JEPSEN_CLIENTS
 * clients (default 4) write through random live nodes while a nemesis
 * SIGKILLs the leader JEPSEN_LEADER_KILLS times (default 20; each time it
 * measures how long until a surviving node sees a new leader, then restarts
 * the dead node), and between kills also SIGKILLs a follower or one etcd
 * member and restarts it. At the end every process is brought back, the
 * nodes catch up, and the checker reads every node: each acknowledged write
 * must be present exactly once, no write twice, nothing never sent, the
 * three replicas equal (as REST answers and as snapshot files).
 *
 * Bounded: JEPSEN_MAX_SECONDS (default 900) stops the nemesis early (the
 * figures say how many kills ran). Exit code 1 when the checker finds a fault.
 * Needs /usr/bin/etcd (or JEPSEN_ETCD): apt-get install etcd-server.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SnapshotStore } from '../dist/store/store.js';
import { encodeSnapshot } from '../dist/store/snapshot.js';

const ROOT = resolve(import.meta.dirname, '..');
const VDB = join(ROOT, 'bin', 'vdb');
const ETCD = process.env.JEPSEN_ETCD ?? '/usr/bin/etcd';
const KILLS = int('JEPSEN_LEADER_KILLS', 20);
const CLIENTS = int('JEPSEN_CLIENTS', 4);
const MAX_SECONDS = int('JEPSEN_MAX_SECONDS', 900);
const THROUGHPUT_SECONDS = int('JEPSEN_THROUGHPUT_SECONDS', 8);
const DIM = 8;
const NODE_ENV = { VDB_CLUSTER_SNAPSHOT_EVERY: process.env.VDB_CLUSTER_SNAPSHOT_EVERY ?? '500' };

function int(name, dflt) {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

if (!existsSync(ETCD)) {
  console.error(`jepsen: etcd not found at ${ETCD} (apt-get install etcd-server, or set JEPSEN_ETCD)`);
  process.exit(2);
}

const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'vdb-jepsen-'));
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
let seed = 0x9e3779b9;
/** Deterministic choices (mulberry32): a run's schedule of faults is the same each time, its timing is not. */
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function track(child) {
  children.add(child);
  child.exited = new Promise((r) => child.on('exit', () => (children.delete(child), r())));
  return child;
}

async function kill(child, signal = 'SIGKILL') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await child.exited;
}

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', () => {
  cleanup();
  if (!process.env.JEPSEN_KEEP) rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

// ---- etcd: three members ----------------------------------------------------------

const members = [];
for (const name of ['e1', 'e2', 'e3']) members.push({ name, client: await freePort(), peer: await freePort(), child: null });
const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const etcdHosts = members.map((m) => `127.0.0.1:${m.client}`).join(',');

function startMember(m) {
  m.child = track(
    spawn(
      ETCD,
      [
        '--name', m.name,
        '--data-dir', join(dir, `etcd-${m.name}`),
        '--listen-client-urls', `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'vdb-jepsen',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    ),
  );
}

async function until(what, f, ms = 30_000, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch((err) => {
      if (err.fatal) throw err;
      return undefined;
    });
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`jepsen: timed out waiting for ${what}`);
    await sleep(every);
  }
}

const etcdHealthy = (m) => until(`etcd ${m.name}`, async () => (await fetch(`http://127.0.0.1:${m.client}/health`, { signal: AbortSignal.timeout(1000) })).ok || undefined);

// ---- vdb nodes ---------------------------------------------------------------------

function startVdb(db, args, env = {}) {
  const child = track(spawn(process.execPath, [VDB, '--db', db, 'serve', '--port', String(args.port), '--log-level', 'warn', ...args.extra], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-20_000)));
  child.stderrText = () => err;
  return child;
}

const nodes = [];
for (const id of ['n1', 'n2', 'n3']) {
  const port = await freePort();
  nodes.push({ id, port, url: `http://127.0.0.1:${port}`, db: join(dir, `${id}.json`), child: null });
}

const startFaults = [];

/** Starts a node and waits until it serves; a node that exits or hangs at start is a fault (shown), and started again. */
async function startNode(n) {
  for (let attempt = 1; ; attempt++) {
    n.up = false;
    n.child = startVdb(n.db, { port: n.port, extra: ['--cluster', `etcd://${etcdHosts}/jepsen`, '--node-id', n.id] }, NODE_ENV);
    try {
      await until(`node ${n.id} to serve`, async () => {
        if (!alive(n)) throw Object.assign(new Error(`node ${n.id} exited at start (${n.child.exitCode ?? n.child.signalCode})`), { fatal: true });
        return (await fetch(`${n.url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok || undefined;
      }, 60_000);
      n.up = true;
      return;
    } catch (err) {
      const tail = n.child.stderrText().split('\n').slice(-12).join('\n  ');
      startFaults.push(`${n.id} start ${attempt}: ${err.message}`);
      log(`${n.id} did not start (attempt ${attempt}): ${err.message}; its stderr:\n  ${tail}`);
      await kill(n.child);
      if (attempt >= 3) throw err;
    }
  }
}

const alive = (n) => n.child && n.child.exitCode === null && n.child.signalCode === null;

async function status(n, strong = false) {
  const res = await fetch(`${n.url}/api/v1/cluster${strong ? '?consistency=strong' : ''}`, { signal: AbortSignal.timeout(2000) });
  return res.json();
}

async function leader() {
  for (const n of nodes.filter(alive)) {
    const s = await status(n).catch(() => null);
    if (s?.leader) return nodes.find((x) => x.id === s.leader.node_id);
  }
  return undefined;
}

// ---- writes -------------------------------------------------------------------------

const sent = new Map(); // tag -> 'acked' | 'failed' | 'unknown'
let written = 0;
/** Why writes went unanswered: HTTP status (and error code) or the client's error. */
const unanswered = new Map();
const why = (k) => unanswered.set(k, (unanswered.get(k) ?? 0) + 1);

function vector() {
  return Array.from({ length: DIM }, () => Math.round(rand() * 1000) / 1000 + 0.001);
}

/** One write of a chunk tagged `tag` through `node`: acked (201), failed (a definite 4xx) or unknown. */
async function write(node, tag) {
  sent.set(tag, 'unknown');
  try {
    const res = await fetch(`${node.url}/api/v1/libraries/j/chunks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chunks: [{ embedding: vector(), metadata: { w: tag } }] }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await res.json().catch(() => null);
    if (res.status === 201) {
      sent.set(tag, 'acked');
      written++;
      return body.chunks[0].id;
    }
    if (res.status >= 400 && res.status < 500) sent.set(tag, 'failed');
    else why(`HTTP ${res.status} ${body?.error?.message?.replace(/[0-9]+/g, 'N').slice(0, 90) ?? ''}`);
  } catch (err) {
    // no answer: it may or may not have been applied
    why(`${err.name}: ${String(err.cause?.code ?? err.message).slice(0, 60)}`);
  }
  return null;
}

/** `clients` loops writing through `target()` until `stop()`; resolves to the number acknowledged. */
async function load(prefix, clients, target, stop) {
  let acked = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; !stop(); i++) {
        const n = target(c, i);
        if (!n) {
          await sleep(20);
          continue;
        }
        if ((await write(n, `${prefix}${c}-${i}`)) !== null) acked++;
      }
    }),
  );
  return acked;
}

const quantile = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => quantile(xs, 0.5);

// ---- phase 1: throughput and lag without faults -------------------------------------

async function throughput(label, prefix, target) {
  const until = Date.now() + THROUGHPUT_SECONDS * 1000;
  const t0 = Date.now();
  const acked = await load(prefix, CLIENTS, target, () => Date.now() >= until);
  const rate = acked / ((Date.now() - t0) / 1000);
  log(`${label}: ${acked} writes in ${THROUGHPUT_SECONDS} s, ${rate.toFixed(0)}/s (${CLIENTS} clients, one chunk each)`);
  return rate;
}

/** While `busy()`: how far behind the followers are, in entries and in time to see an acknowledged write. */
async function lagProbe(busy, lead) {
  const entries = [];
  const visibleMs = [];
  let i = 0;
  while (busy()) {
    const s = await status(lead).catch(() => null);
    for (const n of s?.nodes ?? []) if (n.role === 'follower') entries.push(n.lag);
    const id = await write(lead, `probe-${i++}`);
    const t0 = Date.now();
    if (id !== null) {
      await Promise.all(
        nodes
          .filter((n) => n !== lead && alive(n))
          .map(async (n) => {
            await until(`probe on ${n.id}`, async () => (await fetch(`${n.url}/api/v1/chunks/${id}`, { signal: AbortSignal.timeout(2000) })).status === 200 || undefined, 10_000, 2);
            visibleMs.push(Date.now() - t0);
          }),
      );
    }
    await sleep(100);
  }
  return { entries, visibleMs };
}

// ---- run ------------------------------------------------------------------------------

for (const m of members) startMember(m);
await Promise.all(members.map(etcdHealthy));
log(`etcd: 3 members at ${etcdHosts}`);
await startNode(nodes[0]);
await until('a first leader', leader);
await Promise.all(nodes.slice(1).map(startNode));
const first = await leader();
const created = await fetch(`${first.url}/api/v1/libraries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'j', dim: DIM, metric: 'l2' }) });
if (created.status !== 201) throw new Error(`jepsen: cannot create the library: HTTP ${created.status} ${await created.text()}`);
log(`vdb: 3 nodes, leader ${first.id}`);

const figures = {};
{
  const lead = await leader();
  const follower = nodes.find((n) => n !== lead);
  let busy = true;
  const probe = lagProbe(() => busy, lead);
  figures.leaderRate = await throughput(`through the leader ${lead.id}`, 'tl', () => lead);
  busy = false;
  const lag = await probe;
  figures.lagEntries = lag.entries;
  figures.lagMs = lag.visibleMs;
  figures.followerRate = await throughput(`through follower ${follower.id} (forwarded)`, 'tf', () => follower);
  const single = { id: 'single', port: await freePort(), db: join(dir, 'single.json') };
  single.url = `http://127.0.0.1:${single.port}`;
  single.child = startVdb(single.db, { port: single.port, extra: [] });
  await until('the single node', async () => (await fetch(`${single.url}/healthz`)).ok || undefined);
  await fetch(`${single.url}/api/v1/libraries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'j', dim: DIM, metric: 'l2' }) });
  const save = new Map(sent);
  figures.singleRate = await throughput('single node (no cluster)', 'ts', () => single);
  // The single node's writes are not the cluster's: the checker ignores them.
  for (const k of [...sent.keys()]) if (!save.has(k)) sent.delete(k);
  await kill(single.child, 'SIGTERM');
}

// ---- phase 2: chaos ---------------------------------------------------------------------

const failovers = [];
const firstAckAfter = [];
const actions = { leaderKills: 0, followerKills: 0, etcdKills: 0 };
let stopLoad = false;
const chaosLoad = load('c', CLIENTS, (c, i) => {
  // Clients write to nodes that serve (a restarted one once it answers).
  const live = nodes.filter((n) => n.up && alive(n));
  return live.length === 0 ? null : live[(c + i) % live.length];
}, () => stopLoad);
const deadline = started + MAX_SECONDS * 1000;

async function restartLater(n, ms) {
  await sleep(ms);
  await startNode(n);
}

const etcdVictim = members[2];
while (actions.leaderKills < KILLS && Date.now() < deadline) {
  await sleep(500 + rand() * 1000);
  const lead = await until('a leader before a kill', leader, 60_000);
  const before = written;
  const t0 = Date.now();
  await kill(lead.child);
  actions.leaderKills++;
  const next = await until(
    'a new leader',
    async () => {
      for (const n of nodes.filter((x) => x !== lead && alive(x))) {
        const s = await status(n).catch(() => null);
        if (s?.leader && s.leader.node_id !== lead.id) return s.leader.node_id;
      }
      return undefined;
    },
    60_000,
    20,
  );
  const ms = Date.now() - t0;
  failovers.push(ms);
  void until('a write after the kill', async () => (written > before ? Date.now() - t0 : undefined), 60_000, 10).then((t) => firstAckAfter.push(t), () => undefined);
  log(`kill ${actions.leaderKills}/${KILLS}: leader ${lead.id} SIGKILLed; ${next} leads after ${ms} ms`);
  const restarts = [restartLater(lead, 300 + rand() * 1500)];
  const roll = rand();
  if (roll < 0.3) {
    const f = pick(nodes.filter((n) => n !== lead && n.id !== next && alive(n)));
    if (f) {
      await kill(f.child);
      actions.followerKills++;
      log(`  follower ${f.id} SIGKILLed`);
      restarts.push(restartLater(f, 500 + rand() * 2500));
    }
  } else if (roll < 0.55) {
    await kill(etcdVictim.child);
    actions.etcdKills++;
    log(`  etcd member ${etcdVictim.name} SIGKILLed`);
    restarts.push(
      (async () => {
        await sleep(1000 + rand() * 3000);
        startMember(etcdVictim);
        await etcdHealthy(etcdVictim);
      })(),
    );
  }
  await Promise.all(restarts);
}
stopLoad = true;
await chaosLoad;
log(`chaos over: ${JSON.stringify(actions)}`);

// ---- check ----------------------------------------------------------------------------

for (const m of members) if (!m.child || m.child.exitCode !== null || m.child.signalCode !== null) startMember(m);
await Promise.all(members.map(etcdHealthy));
for (const n of nodes) if (!alive(n)) await startNode(n);
const faults = [...startFaults];
// Caught up: every node sees all three, each ready with no lag, and the same leader.
const settled = (views) => views.every((v) => v.leader && v.leader.node_id === views[0].leader?.node_id && v.nodes.length === 3 && v.nodes.every((x) => x.lag === 0 && x.state === 'ready'));
const settleStart = Date.now();
try {
  await until('every node caught up, with one leader', async () => settled(await Promise.all(nodes.map((n) => status(n, true)))) || undefined, 60_000, 200);
  log(`settled ${Date.now() - settleStart} ms after the faults stopped`);
} catch (err) {
  faults.push(`${err.message}`);
  for (const n of nodes) {
    log(`${n.id}: ${JSON.stringify(await status(n).catch((e) => e.message))}`);
    log(`${n.id} stderr (tail):\n${n.child.stderrText().split('\n').slice(-15).join('\n')}`);
  }
}

async function contents(n) {
  const chunks = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await fetch(`${n.url}/api/v1/libraries/j/chunks?offset=${offset}&limit=1000&with_embedding=true&consistency=strong`);
    const page = await res.json();
    chunks.push(...page.chunks);
    if (page.chunks.length < 1000) return chunks;
  }
}

const replicas = await Promise.all(nodes.map(contents));
const counts = replicas.map((chunks) => {
  const m = new Map();
  for (const c of chunks) m.set(c.metadata.w, (m.get(c.metadata.w) ?? 0) + 1);
  return m;
});
const acked = [...sent].filter(([, s]) => s === 'acked').map(([t]) => t);
const unknown = [...sent].filter(([, s]) => s === 'unknown').map(([t]) => t);
const failed = [...sent].filter(([, s]) => s === 'failed').map(([t]) => t);
counts.forEach((m, i) => {
  const id = nodes[i].id;
  const missing = acked.filter((t) => !m.has(t));
  const twice = [...m].filter(([, k]) => k > 1).map(([t]) => t);
  const never = [...m.keys()].filter((t) => !sent.has(t));
  const failedFound = failed.filter((t) => m.has(t));
  if (missing.length) faults.push(`${id}: ${missing.length} acknowledged writes missing (${missing.slice(0, 5).join(', ')})`);
  if (twice.length) faults.push(`${id}: ${twice.length} writes applied twice (${twice.slice(0, 5).join(', ')})`);
  if (never.length) faults.push(`${id}: ${never.length} writes never sent (${never.slice(0, 5).join(', ')})`);
  if (failedFound.length) faults.push(`${id}: ${failedFound.length} refused writes applied`);
});
const canonical = (chunks) => JSON.stringify(chunks);
if (canonical(replicas[1]) !== canonical(replicas[0]) || canonical(replicas[2]) !== canonical(replicas[0])) faults.push('the replicas differ (REST)');
const unknownFound = unknown.filter((t) => counts[0].has(t)).length;

await Promise.all(nodes.map((n) => kill(n.child, 'SIGTERM')));
const states = nodes.map((n) => encodeSnapshot(new SnapshotStore(n.db).read()));
if (states[1] !== states[0] || states[2] !== states[0]) faults.push('the replicas differ (snapshot files)');
for (const m of members) await kill(m.child, 'SIGTERM');

const fmt = (xs, unit = 'ms') => (xs.length ? `median ${median(xs)} ${unit}, p90 ${quantile(xs, 0.9)} ${unit}, max ${Math.max(...xs)} ${unit} (n=${xs.length})` : 'none');
const lines = [
  `vdb jepsen: 3 etcd members, 3 vdb nodes, ${CLIENTS} clients, lease TTL ${process.env.VDB_CLUSTER_LEASE_TTL ?? 2} s, ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
  `faults injected: ${actions.leaderKills} leader SIGKILLs, ${actions.followerKills} follower SIGKILLs, ${actions.etcdKills} etcd member SIGKILLs (each restarted)`,
  `failover (SIGKILL of the leader until a surviving node sees the new one): ${fmt(failovers)}`,
  `first acknowledged write after a leader kill: ${fmt(firstAckAfter)}`,
  `writes: ${sent.size} sent, ${acked.length} acknowledged, ${acked.length} of them found exactly once on each of 3 nodes ${faults.some((f) => f.includes('missing') || f.includes('twice')) ? '(NOT: see faults)' : ''}; ${unknown.length} unanswered (${unknownFound} of those applied, once), ${failed.length} refused`,
  `replicas: ${replicas[0].length} chunks each, ${states[0] === states[1] && states[0] === states[2] ? 'identical snapshots' : 'DIFFERENT snapshots'}`,
  `replication lag under load (leader): followers behind by ${fmt(figures.lagEntries, 'entries')}; an acknowledged write readable on a follower after ${fmt(figures.lagMs)}`,
  `write throughput (${CLIENTS} clients, one chunk per request): leader ${figures.leaderRate.toFixed(0)}/s, through a follower ${figures.followerRate.toFixed(0)}/s, single node ${figures.singleRate.toFixed(0)}/s`,
  `unanswered writes by cause: ${[...unanswered].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× ${k}`).join('; ') || 'none'}`,
  faults.length ? `FAULTS:\n  ${faults.join('\n  ')}` : 'checker: OK (every acknowledged write present exactly once on every node, none twice, replicas identical)',
];
process.stdout.write(`${lines.join('\n')}\n`);
process.exitCode = faults.length ? 1 : 0;
