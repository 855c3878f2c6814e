#!/usr/bin/env node
/**
 * `npm run load`: query throughput and latency of `vdb serve` while writes go on.
 *
 * Builds a temporary snapshot with one library of 10 000 chunks × 384 dims
 * (cosine, exact linear scan), starts `bin/vdb serve` on a free loopback
 * port, and runs autocannon's query load (LOAD_CONNECTIONS connections,
 * default 8) twice: LOAD_BASELINE_SECONDS (default 5) of queries alone, then
 * LOAD_SECONDS (default 10) while one writer adds a chunk, waits
 * LOAD_WRITE_PAUSE_MS (default 1000), and repeats. Prints throughput,
 * p50/p99 latency and errors of both, and checks that every acknowledged
 * write is there.
 * Everything stays on 127.0.0.1; the server and the temp dir are removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VdbService } from '../dist/service/service.js';
import { seededRandom } from '../dist/domain/random.js';
import { peer } from '../bench/peers.mjs';

const autocannon = peer('autocannon');

const ROOT = resolve(import.meta.dirname, '..');
const N = 10_000;
const DIM = 384;
const SECONDS = positive(process.env.LOAD_SECONDS, 10);
const CONNECTIONS = positive(process.env.LOAD_CONNECTIONS, 8);
const BASELINE_SECONDS = positive(process.env.LOAD_BASELINE_SECONDS, 5);
const WRITE_PAUSE_MS = positive(process.env.LOAD_WRITE_PAUSE_MS, 1000);
const QUERY_BODIES = 64;
const K = 10;

function positive(value, fallback) {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

const random = seededRandom('vdb-load');
const vector = () => Array.from({ length: DIM }, () => random.gaussian());
const round = (x) => Math.round(x * 100) / 100;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const dir = mkdtempSync(join(tmpdir(), 'vdb-load-'));
const db = join(dir, 'load.json');
let server;
try {
  let t = performance.now();
  const service = new VdbService({ path: db, seed: 'load' });
  const lib = await service.createLibrary({ name: 'load', dim: DIM, metric: 'cosine' });
  await service.addChunks(lib.id, Array.from({ length: N }, (_, i) => ({ text: `chunk ${i}`, embedding: vector() })));
  console.error(`load: snapshot of ${N} × ${DIM} written in ${Math.round(performance.now() - t)} ms`);

  server = spawn(process.execPath, [join(ROOT, 'bin', 'vdb'), '--db', db, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((res, rej) => {
    let err = '';
    const timer = setTimeout(() => rej(new Error(`vdb serve did not start within 30 s:\n${err}`)), 30_000);
    server.stderr.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(err);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    server.on('exit', (code) => rej(new Error(`vdb serve exited with ${code}:\n${err}`)));
  });
  const headers = { 'content-type': 'application/json' };
  if (process.env.VDB_API_KEY) headers.authorization = `Bearer ${process.env.VDB_API_KEY}`;

  const requests = Array.from({ length: QUERY_BODIES }, () => ({
    method: 'POST',
    path: `/api/v1/libraries/${lib.id}/query`,
    headers,
    body: JSON.stringify({ embedding: vector(), k: K }),
  }));

  console.error(`load: ${BASELINE_SECONDS} s of kNN queries alone…`);
  const baseline = await autocannon({ url, connections: CONNECTIONS, duration: BASELINE_SECONDS, requests });

  let writing = true;
  const writeLatencies = [];
  let writeErrors = 0;
  const writer = (async () => {
    while (writing) {
      const started = performance.now();
      const res = await fetch(`${url}/api/v1/chunks`, { method: 'POST', headers, body: JSON.stringify({ lib_id: lib.id, text: 'written under load', embedding: vector() }) });
      await res.arrayBuffer();
      if (res.status === 201) writeLatencies.push(performance.now() - started);
      else writeErrors++;
      await new Promise((r) => setTimeout(r, WRITE_PAUSE_MS));
    }
  })();

  console.error(`load: ${SECONDS} s of kNN queries (k=${K}) on ${CONNECTIONS} connections, one writer pausing ${WRITE_PAUSE_MS} ms between writes…`);
  t = performance.now();
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests });
  writing = false;
  await writer;

  const info = await (await fetch(`${url}/api/v1/libraries/${lib.id}`, { headers })).json();
  const expected = N + writeLatencies.length;
  const writes = [...writeLatencies].sort((a, b) => a - b);
  const summary = (r) =>
    `${r.requests.total} queries, ${round(r.requests.average)} req/s, latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms; ` +
    `errors: ${r.errors} connection, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`;
  const lines = [
    `vdb serve load test: ${N} chunks × ${DIM} dims (cosine, exact linear scan), k=${K}, ${CONNECTIONS} connections`,
    `queries alone (${BASELINE_SECONDS} s): ${summary(baseline)}`,
    `queries with writes (${SECONDS} s): ${summary(result)}`,
    `writes meanwhile: ${writes.length} acknowledged (${writeErrors} failed), latency p50 ${round(percentile(writes, 50) ?? 0)} ms, p99 ${round(percentile(writes, 99) ?? 0)} ms`,
    `durability: library has ${info.chunk_count} chunks, expected ${expected}: ${info.chunk_count === expected ? 'ok' : 'MISMATCH'}`,
  ];
  console.log(lines.join('\n'));
  const failed = [baseline, result].some((r) => r.errors > 0 || r.timeouts > 0 || r.non2xx > 0);
  if (info.chunk_count !== expected || failed || writeErrors > 0) process.exitCode = 1;
} finally {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.on('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
