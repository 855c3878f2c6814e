// One-thread in-process query CPU of a vdb checkout over a snapshot, for A/B runs of two checkouts on a loaded
// machine (CPU time, not wall): node bench/walk-ab.mjs <vdb root> <snapshot> <lines.ndjson>
// Each line is a query --stdin line ({"embedding", "k", "ef"}); 300 warm-up queries, then 3 timed passes.
import { readFileSync } from 'node:fs';
const [root, snap, linesPath] = process.argv.slice(2);
const { VdbService } = await import(`${root}/dist/service/service.js`);
const svc = new VdbService({ path: snap, seed: 'bench' });
const session = await svc.querySession('bench', { threads: 1 });
const qs = readFileSync(linesPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
for (const q of qs.slice(0, 300)) await session.query({ embedding: q.embedding, k: q.k, ef: q.ef });
let best = Infinity;
for (let r = 0; r < 3; r++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (const q of qs) await session.query({ embedding: q.embedding, k: q.k, ef: q.ef });
  const c = process.cpuUsage(c0); const cpu = (c.user + c.system) / 1000;
  best = Math.min(best, cpu);
  console.log(`${root.split('/').pop()} cpu ${cpu.toFixed(0)} ms wall ${(performance.now() - t0).toFixed(0)} ms  ${(qs.length / cpu * 1000).toFixed(0)} q/s(cpu)`);
}
