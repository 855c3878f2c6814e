// How long GET /healthz takes while `vdb serve` builds an HNSW index and folds its log
// (a compaction), on the first N rows of wordnet-lsa384 (default 20,000 × 384).
//   node scripts/healthz-during-build.mjs [--rows 20000] [--vdb bin/vdb]
// Prints one JSON line per phase: the build's (or the fold's) wall time and /healthz latencies.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, vdb: { type: 'string', default: 'bin/vdb' }, data: { type: 'string', default: '/work/shared/data/wordnet-lsa384' } } });
const rows = Number(values.rows);
const VDB = resolve(values.vdb);
const dir = mkdtempSync(join(tmpdir(), 'vdb-healthz-'));
const db = join(dir, 'vdb.json');
const env = { ...process.env, NO_COLOR: '1', VDB_SEED: 'healthz' };

try {
  const base = new Float32Array(readFileSync(join(values.data, 'base.f32')).buffer.slice(0, rows * 384 * 4));
  const lines = [];
  for (let i = 0; i < rows; i++) lines.push(JSON.stringify({ text: `row ${i}`, embedding: Array.from(base.subarray(i * 384, (i + 1) * 384)) }));
  writeFileSync(join(dir, 'rows.ndjson'), `${lines.join('\n')}\n`);
  const run = (args, input) => {
    const r = spawnSync(process.execPath, [VDB, '--db', db, ...args], { env, input, maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`vdb ${args.join(' ')}: ${r.stderr}`);
  };
  run(['lib', 'create', 'w', '--dim', '384']);
  run(['chunk', 'add', '--lib', 'w', '--stdin'], readFileSync(join(dir, 'rows.ndjson')));

  // A tiny log budget: the first chunk add over REST folds the log, i.e. rewrites the whole database.
  const server = spawn(process.execPath, [VDB, '--db', db, 'serve', '--port', '0', '--log-level', 'warn'], { env: { ...env, VDB_LOG_MIN_BYTES: '0', VDB_LOG_MAX_BYTES: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise((res, rej) => {
    server.stderr.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(err);
      if (m) res(m[1]);
    });
    server.on('exit', (code) => rej(new Error(`vdb serve exited (${code}): ${err}`)));
  });
  const phase = async (name, request) => {
    const latencies = [];
    let busy = true;
    const poll = (async () => {
      while (busy) {
        const t = performance.now();
        await fetch(`${url}/healthz`).then((r) => r.text());
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    const r = await request();
    const ms = performance.now() - t0;
    busy = false;
    await poll;
    latencies.sort((a, b) => a - b);
    const q = (p) => +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
    console.log(JSON.stringify({ phase: name, rows, status: r.status, wall_ms: Math.round(ms), healthz: { n: latencies.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: q(1) } }));
  };
  const post = (path, body) => fetch(`${url}/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await phase('hnsw build', () => post('/libraries/w/index', { type: 'hnsw' }));
  await phase('chunk add folding the log (compaction)', () => post('/libraries/w/chunks', { chunks: [{ text: 'one more', embedding: Array.from(base.subarray(0, 384)) }] }));
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
