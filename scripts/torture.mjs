// Kill, stall and corruption runs against bin/vdb, in bigger loops than the test suite.
//   npm run build && node scripts/torture.mjs [--kills 40] [--stalls 12] [--flips 200] [--seed 1] [--only kill,stall,corrupt]
// Prints one JSON line per run with what it did and found; exits 1 if any acknowledged write was lost or any damage
// that vdb claims to detect was accepted.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '40' },
    stalls: { type: 'string', default: '12' },
    flips: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string', default: 'kill,stall,corrupt' },
  },
});
const VDB = resolve('bin/vdb');
const dir = mkdtempSync(join(tmpdir(), 'vdb-torture-'));
const ENV = { ...process.env, NO_COLOR: '1', VDB_SIDECAR_MIN_BYTES: '0', VDB_LOG_MIN_BYTES: '4000' };
for (const k of ['VDB_DB', 'VDB_SEED', 'VDB_FAILPOINTS']) delete ENV[k];
let state = Number(values.seed) >>> 0 || 1;
const rnd = () => ((state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DIM = 8;
const emb = () => JSON.stringify(Array.from({ length: DIM }, () => +(rnd() - 0.5).toFixed(4)));
let failed = false;

function vdb(db, args, opts = {}) {
  const r = spawnSync(process.execPath, [VDB, '--db', db, ...args], { env: { ...ENV, ...opts.env }, input: opts.input ?? '', encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function start(db, args, env = {}) {
  const child = spawn(process.execPath, [VDB, '--db', db, ...args], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, err: '', code: undefined };
  child.stderr.on('data', (d) => (p.err += d));
  p.exited = new Promise((r) => child.on('close', (code) => r((p.code = code))));
  return p;
}

async function until(p, text, ms = 30_000) {
  const t = Date.now();
  while (!p.err.includes(text)) {
    if (p.code !== undefined || Date.now() - t > ms) return false;
    await sleep(5);
  }
  return true;
}

function texts(db) {
  const r = vdb(db, ['chunk', 'list', '--lib', 'docs', '--json']);
  if (r.code !== 0) return { error: r.stderr.trim() };
  return { texts: new Set(r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).text)) };
}

function fresh(name, rows = 300) {
  const db = join(dir, `${name}.json`);
  vdb(db, ['lib', 'create', 'docs', '--dim', String(DIM)]);
  const lines = Array.from({ length: rows }, (_, i) => JSON.stringify({ text: `row ${i}`, embedding: JSON.parse(emb()) }));
  vdb(db, ['chunk', 'add', '--lib', 'docs', '--stdin'], { input: lines.join('\n') });
  vdb(db, ['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--m', '4', '--ef-construction', '16']);
  return db;
}

/** Kills writers at named commit points and at random moments; every acknowledged write must survive. */
async function killRun(kills) {
  const db = fresh('kill');
  const acked = new Set();
  let lost = 0;
  let unloadable = 0;
  const byPoint = {};
  const ops = [
    [['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--full'], ['locked', 'sidecars', 'manifest', 'committed']],
    [['compact'], ['sidecars', 'manifest', 'committed']],
    [null, ['append', 'appended']],
    [null, [null]],
  ];
  for (let k = 0; k < kills; k++) {
    // A few acknowledged writes between kills.
    for (let i = 0; i < 3; i++) {
      const t = `k${k}-${i}`;
      if (vdb(db, ['chunk', 'add', '--lib', 'docs', '--embedding', emb(), t]).code === 0) acked.add(t);
    }
    const [args, points] = pick(ops);
    const point = pick(points);
    const w = start(db, args ?? ['chunk', 'add', '--lib', 'docs', '--embedding', emb(), `killed ${k}`], point ? { VDB_FAILPOINTS: point } : {});
    if (point) await until(w, `failpoint ${point} `);
    else await sleep(rnd() * 250);
    w.child.kill('SIGKILL');
    await w.exited;
    const label = `${args ? args[0] : 'chunk add'}@${point ?? 'random'}`;
    byPoint[label] = (byPoint[label] ?? 0) + 1;
    const now = texts(db);
    if (now.error) {
      unloadable++;
      console.error(`after ${label}: ${now.error}`);
      continue;
    }
    for (const t of acked) if (!now.texts.has(t)) lost++;
  }
  if (lost || unloadable) failed = true;
  console.log(JSON.stringify({ run: 'kill', kills, acknowledged: acked.size, lost, unloadable, kills_by_point: byPoint }));
}

/** Stops a writer inside its commit for 0.3–3 s while other writers run; nothing may be lost or overtaken. */
async function stallRun(stalls) {
  const db = fresh('stall');
  const acked = new Set();
  let lost = 0;
  let timedOut = 0;
  let others = 0;
  const stalled = [
    [['chunk', 'add', '--lib', 'docs', '--embedding', 'EMB', 'stalled S'], ['locked', 'append']],
    [['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--full'], ['locked', 'sidecars', 'manifest']],
    [['compact'], ['locked', 'sidecars', 'manifest']],
  ];
  for (let s = 0; s < stalls; s++) {
    const [template, points] = pick(stalled);
    const args = template.map((a) => (a === 'EMB' ? emb() : a.replace('S', String(s))));
    const w = start(db, args, { VDB_FAILPOINTS: pick(points) });
    await until(w, 'failpoint ');
    const hold = 300 + rnd() * 2700;
    // Writers that arrive during the stall, with a timeout longer than it: they must wait, not overtake.
    const during = Array.from({ length: 3 }, (_, i) => {
      const t = `s${s}-${i}`;
      const a = pick([['chunk', 'add', '--lib', 'docs', '--embedding', emb(), t], ['compact'], ['lib', 'update', 'docs', '--metadata', `{"s": ${s}}`]]);
      const p = start(db, a, { VDB_LOCK_TIMEOUT_MS: '20000' });
      return p.exited.then((code) => {
        others++;
        if (code === 7) timedOut++;
        if (code === 0 && a[1] === 'add') acked.add(t);
      });
    });
    await sleep(hold);
    w.child.kill('SIGCONT');
    const code = await w.exited;
    if (code === 0 && args[1] === 'add') acked.add(args.at(-1));
    if (code !== 0) console.error(`stalled ${args.join(' ')} exited ${code}: ${w.err.trim()}`);
    await Promise.all(during);
    const now = texts(db);
    if (now.error) {
      lost++;
      console.error(now.error);
      continue;
    }
    for (const t of acked) if (!now.texts.has(t)) lost++;
  }
  if (lost) failed = true;
  console.log(JSON.stringify({ run: 'stall', stalls, writers_during_stalls: others, acknowledged_chunk_adds: acked.size, lost, timed_out: timedOut }));
}

/**
 * Flips random bytes of every file of a v2 database, edits the manifest, deletes or truncates files; each damaged
 * copy is read whole (chunk list --with-embedding, then compact). Damage to the log's last record, or a log cut at a
 * record boundary, is a torn tail by design (accepted, as documented); every other case must be refused with exit 6.
 */
function corruptRun(flips) {
  const db = fresh('corrupt', 400);
  for (let i = 0; i < 3; i++) vdb(db, ['chunk', 'add', '--lib', 'docs', '--embedding', emb(), `logged ${i}`]);
  const files = [db, ...readdirSync(`${db}.d`).map((f) => join(`${db}.d`, f)).filter((f) => /g0+\d+/.test(f))];
  const gen = JSON.parse(readFileSync(db, 'utf8')).generation;
  const current = files.filter((f) => f === db || f.includes(`g${String(gen).padStart(6, '0')}`));
  const log = current.find((f) => f.endsWith('.log'));
  const logBytes = readFileSync(log);
  // Start of the last record: walk the frames.
  let lastRecord = 16;
  for (let off = 16; off + 12 <= logBytes.length; ) {
    lastRecord = off;
    off += 12 + logBytes.readUInt32LE(off);
  }
  const counts = { cases: 0, refused_exit_6: 0, accepted_as_documented: 0, accepted_undetected: 0, other_exit: 0 };
  const undetected = [];
  const trial = (what, damage, tornTail = false) => {
    const copy = join(dir, `c${counts.cases++}.json`);
    cpSync(db, copy);
    cpSync(`${db}.d`, `${copy}.d`, { recursive: true });
    damage(copy);
    const a = vdb(copy, ['chunk', 'list', '--lib', 'docs', '--with-embedding', '--json']);
    const b = a.code === 0 ? vdb(copy, ['compact']) : a;
    const code = a.code !== 0 ? a.code : b.code;
    if (code === 6) counts.refused_exit_6++;
    else if (code === 0 && tornTail) counts.accepted_as_documented++;
    else if (code === 0) {
      counts.accepted_undetected++;
      undetected.push(what);
    } else {
      counts.other_exit++;
      undetected.push(`${what}: exit ${code} ${a.stderr.trim()}`);
    }
    rmSync(copy, { force: true });
    rmSync(`${copy}.d`, { recursive: true, force: true });
  };
  const at = (copy, f) => f.replace(db, copy);
  for (let i = 0; i < flips; i++) {
    const f = pick(current);
    const size = statSync(f).size;
    const off = Math.floor(rnd() * size);
    const bit = 1 << Math.floor(rnd() * 8);
    trial(`flip bit ${bit} of byte ${off} of ${f.slice(dir.length + 1)}`, (copy) => {
      const b = readFileSync(at(copy, f));
      b[off] ^= bit;
      writeFileSync(at(copy, f), b);
    }, f === log && off >= lastRecord);
  }
  const editManifest = (change) => (copy) => {
    const doc = JSON.parse(readFileSync(copy, 'utf8'));
    change(doc);
    writeFileSync(copy, `${JSON.stringify(doc)}\n`);
  };
  trial('metric changed', editManifest((d) => (d.libraries[0].metric = 'dot')));
  trial('covered_below_seq lowered', editManifest((d) => (d.libraries[0].index.covered_below_seq -= 5)));
  trial('generation decremented', editManifest((d) => (d.generation -= 1)));
  trial('next_id changed', editManifest((d) => (d.next_id += 1)));
  trial('dim changed', editManifest((d) => (d.libraries[0].dim = 4)));
  trial('log deleted', (copy) => unlinkSync(at(copy, log)));
  // Cut at a record boundary: indistinguishable from fewer writes (README, torn tail).
  trial('log truncated to its header', (copy) => writeFileSync(at(copy, log), logBytes.subarray(0, 16)), true);
  trial('log cut inside its last record', (copy) => writeFileSync(at(copy, log), logBytes.subarray(0, lastRecord + 20)), true);
  for (const f of current.filter((x) => x !== db && x !== log)) {
    trial(`${f.slice(dir.length + 1)} deleted`, (copy) => unlinkSync(at(copy, f)));
    trial(`${f.slice(dir.length + 1)} truncated`, (copy) => writeFileSync(at(copy, f), readFileSync(at(copy, f)).subarray(0, Math.floor(statSync(f).size / 2))));
  }
  trial('manifest truncated', (copy) => writeFileSync(copy, readFileSync(copy).subarray(0, 100)));
  if (counts.accepted_undetected || counts.other_exit) failed = true;
  console.log(JSON.stringify({ run: 'corrupt', ...counts, undetected: undetected.slice(0, 10) }));
}

try {
  const only = new Set(values.only.split(','));
  if (only.has('kill')) await killRun(Number(values.kills));
  if (only.has('stall')) await stallRun(Number(values.stalls));
  if (only.has('corrupt')) corruptRun(Number(values.flips));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
