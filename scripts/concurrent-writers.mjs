// W processes × N `vdb chunk add` at once on one snapshot (the suite's old "8 × 25"): wall time, and whether all landed.
//   node scripts/concurrent-writers.mjs [--workers 8] [--adds 25] [--vdb bin/vdb]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '8' }, adds: { type: 'string', default: '25' }, vdb: { type: 'string', default: 'bin/vdb' } } });
const [W, N, VDB] = [Number(values.workers), Number(values.adds), resolve(values.vdb)];
const dir = mkdtempSync(join(tmpdir(), 'vdb-writers-'));
const db = join(dir, 'vdb.json');
const env = { ...process.env, NO_COLOR: '1' };
const run = (args) =>
  new Promise((res) => {
    const c = spawn(process.execPath, [VDB, '--db', db, ...args], { env, stdio: 'ignore' });
    c.on('close', res);
  });
try {
  spawnSync(process.execPath, [VDB, '--db', db, 'lib', 'create', 'docs'], { env });
  const t0 = performance.now();
  let failed = 0;
  await Promise.all(Array.from({ length: W }, async (_, w) => {
    for (let i = 0; i < N; i++) if ((await run(['chunk', 'add', '--lib', 'docs', `w${w} ${i}`])) !== 0) failed++;
  }));
  const wall = performance.now() - t0;
  const count = spawnSync(process.execPath, [VDB, '--db', db, 'chunk', 'list', '--lib', 'docs'], { env, encoding: 'utf8' }).stdout.trim().split('\n').length;
  console.log(JSON.stringify({ workers: W, adds: N, wall_s: +(wall / 1000).toFixed(2), per_write_ms: Math.round(wall / (W * N)), failed, chunks: count }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
