// The Qdrant-compatible API under load, through the real js-client: upsert
// rate, query rate and recall@10 (plain and filtered, on an hnsw index), next to
// the same queries over /api/v1. Not part of `npm test`.
//
//   npm run build && node bench/qdrant.mjs [--n 30000] [--queries 1000] [--data DIR (default /work/shared/data/wordnet-lsa384)]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { n: { type: 'string', default: '30000' }, queries: { type: 'string', default: '1000' }, data: { type: 'string', default: '/work/shared/data/wordnet-lsa384' } } });
const N = Number(args.n);
const Q = Number(args.queries);
const DIM = 384;
const K = 10;

const f32 = (file) => {
  const b = readFileSync(join(args.data, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const base = f32('base.f32');
const queries = f32('queries.f32');
const row = (a, i) => Array.from(a.subarray(i * DIM, (i + 1) * DIM));
const bucketOf = (i) => i % 10;

/** Exact top-K by cosine among the rows `keep` admits (the vectors are unit length: cosine = dot). */
function exact(q, keep) {
  const best = [];
  for (let i = 0; i < N; i++) {
    if (!keep(i)) continue;
    let s = 0;
    for (let d = 0; d < DIM; d++) s += q[d] * base[i * DIM + d];
    if (best.length < K || s > best[best.length - 1].s) {
      best.push({ i, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > K) best.pop();
    }
  }
  return best;
}

/** Tie-aware recall: a hit counts if its score reaches the K-th exact score (less 1e-6). */
const recall = (hits, truth) => hits.filter((h) => h.score >= truth[truth.length - 1].s - 1e-6).length / truth.length;

const dir = mkdtempSync(join(tmpdir(), 'vdb-qdrant-bench-'));
const server = spawn(process.execPath, [join(ROOT, 'bin/vdb'), '--db', join(dir, 'vdb.json'), 'serve', '--port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((res, rej) => {
  let err = '';
  server.stderr.on('data', (d) => {
    err += d;
    const m = /at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(err);
    if (m) res(m[1]);
  });
  server.on('exit', (code) => rej(new Error(`vdb serve exited (${code}): ${err}`)));
});

try {
  const client = new QdrantClient({ url, checkCompatibility: false });
  await client.createCollection('wordnet', { vectors: { size: DIM, distance: 'Cosine' } });
  let t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const points = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) points.push({ id: j, vector: row(base, j), payload: { bucket: bucketOf(j) } });
    await client.upsert('wordnet', { wait: true, points });
  }
  const upsertSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const built = await fetch(`${url}/api/v1/libraries/wordnet/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type": "hnsw"}' });
  if (!built.ok) throw new Error(`index build: ${built.status} ${await built.text()}`);
  const buildSeconds = (performance.now() - t) / 1000;

  const runs = {};
  const time = async (name, ask, truthOf) => {
    let r = 0;
    const start = performance.now();
    for (let q = 0; q < Q; q++) {
      const hits = await ask(row(queries, q));
      if (truthOf) r += recall(hits, truthOf(q));
    }
    runs[name] = { qps: Q / ((performance.now() - start) / 1000), recall: truthOf ? r / Q : null };
  };
  const truth = Array.from({ length: Q }, (_, q) => exact(row(queries, q), () => true));
  const truthFiltered = Array.from({ length: Q }, (_, q) => exact(row(queries, q), (i) => bucketOf(i) === 3));
  const filter = { must: [{ key: 'bucket', match: { value: 3 } }] };
  await time('qdrant query (js-client)', async (v) => (await client.query('wordnet', { query: v, limit: K })).points, (q) => truth[q]);
  await time('qdrant query, filter bucket = 3 (10%)', async (v) => (await client.query('wordnet', { query: v, limit: K, filter })).points, (q) => truthFiltered[q]);
  const qfetch = async (body) => (await (await fetch(`${url}/collections/wordnet/points/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()).result.points;
  await time('qdrant query (fetch)', (v) => qfetch({ query: v, limit: K }), (q) => truth[q]);
  const rest = async (body) => (await (await fetch(`${url}/api/v1/libraries/wordnet/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()).hits;
  await time('/api/v1 query (fetch)', (v) => rest({ embedding: v, k: K }), (q) => truth[q]);
  await time('/api/v1 query, where bucket = 3', (v) => rest({ embedding: v, k: K, filter: { bucket: 3 } }), (q) => truthFiltered[q]);

  console.log(`wordnet-lsa384: ${N} points × ${DIM}, ${Q} queries, k = ${K}, hnsw index (defaults); one client, sequential requests`);
  console.log(`upsert through the js-client, batches of 1000: ${(N / upsertSeconds).toFixed(0)} points/s (${upsertSeconds.toFixed(1)} s); hnsw build ${buildSeconds.toFixed(1)} s`);
  console.log('| route | q/s | recall@10 |\n|---|---|---|');
  for (const [name, r] of Object.entries(runs)) console.log(`| ${name} | ${r.qps.toFixed(0)} | ${r.recall === null ? '' : r.recall.toFixed(3)} |`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
