/**
 * One filtered shape against unfiltered queries by CPU time, in one process,
 * interleaved in blocks of 10 queries: a machine shared with other work moves
 * wall-clock figures by 2× between runs, CPU time much less.
 *
 *   node bench/filtered-cpu.mjs --dataset synth100k --snapshot bench/.cache/work/synth100k/vdb-hnsw.json \
 *     --shape 'cl' [--data DIR] [--queries 300] [--efs 64,96,128] [--set '{"signShortPerEf":6}']
 *
 * The snapshot is one `npm run bench -- ... --keep` leaves (library "bench",
 * rows with the metadata of lib/filtered.mjs). --shape is a label prefix of
 * lib/filtered.mjs; --set overrides hnsw.ts FILTERED for the filtered
 * queries. Prints, per ef of --efs, the filtered (at ef 64) and unfiltered
 * CPU µs per query and recall@10.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDataset } from './lib/data.mjs';
import { filterShapes, filteredRecall, filteredTruth, syntheticMetadata } from './lib/filtered.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'synth100k' },
    data: { type: 'string' },
    snapshot: { type: 'string' },
    shape: { type: 'string', default: 'cl' },
    queries: { type: 'string', default: '300' },
    efs: { type: 'string', default: '64,96,128' },
    set: { type: 'string', default: '{}' },
  },
});
if (!opt.snapshot) throw new Error('--snapshot is required (a snapshot that npm run bench -- --keep left)');
const { VdbService } = await import(join(ROOT, 'dist/service/service.js'));
const { FILTERED } = await import(join(ROOT, 'dist/index/hnsw.js'));
const dir = opt.data ?? (opt.dataset === 'wordnet' ? join(ROOT, '../shared/data/wordnet-lsa384') : join(ROOT, 'bench/.cache', opt.dataset));
const ds = loadDataset(opt.dataset, dir);
const meta = syntheticMetadata(ds);
const shape = filterShapes(meta, ds).find((s) => s.label.startsWith(opt.shape));
if (!shape) throw new Error(`no shape starts with ${opt.shape}`);
const svc = new VdbService({ path: opt.snapshot, seed: 'bench' });
const session = await svc.querySession('bench');
session.lib.preload(true);
const qs = [];
for (let q = 0; q < ds.nq && qs.length < Number(opt.queries); q++) if (shape.use(q)) qs.push(q);
const matching = [];
for (let r = 0; r < ds.n; r++) if (shape.test(r)) matching.push(r);
const K = 10;
const filteredTruths = qs.map((q) => filteredTruth(ds, q, K, shape.test, matching));
const plainTruths = qs.map((q) => filteredTruth(ds, q, K, () => true, []));
const embedding = (q) => ds.queries.subarray(q * ds.dim, (q + 1) * ds.dim);
const saved = { ...FILTERED };
const filtered = { ...saved, ...JSON.parse(opt.set) };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const run = async (q, ef, withFilter) => {
  Object.assign(FILTERED, withFilter ? filtered : saved);
  return session.query({ embedding: embedding(q), k: K, ef, filter: withFilter ? shape.filter : undefined });
};
for (const q of qs.slice(0, 20)) await run(q, 64, true);
const explain = (await session.query({ embedding: embedding(qs[0]), k: K, ef: 64, filter: shape.filter, explain: true })).explain;
console.log(`${opt.dataset}, ${shape.label}: ${matching.length} matches, ${qs.length} queries; ${explain.search}`);
for (const ef of opt.efs.split(',').map(Number)) {
  for (const q of qs.slice(0, 20)) await run(q, ef, false);
  let fMs = 0;
  let uMs = 0;
  let fRecall = 0;
  let uRecall = 0;
  for (let i = 0; i < qs.length; i += 10) {
    const block = qs.slice(i, i + 10);
    let t = cpu();
    for (const [j, q] of block.entries()) fRecall += filteredRecall(ds, q, (await run(q, 64, true)).hits.map((h) => h.metadata.row), filteredTruths[i + j]);
    fMs += cpu() - t;
    t = cpu();
    for (const [j, q] of block.entries()) uRecall += filteredRecall(ds, q, (await run(q, ef, false)).hits.map((h) => h.metadata.row), plainTruths[i + j]);
    uMs += cpu() - t;
  }
  const n = qs.length;
  console.log(
    `filtered at ef 64: ${((1000 * fMs) / n).toFixed(0)} µs CPU/q, recall ${(fRecall / n).toFixed(4)}; unfiltered at ef ${ef}: ${((1000 * uMs) / n).toFixed(0)} µs CPU/q, recall ${(uRecall / n).toFixed(4)}; filtered ÷ unfiltered speed ${(uMs / fMs).toFixed(2)}×`,
  );
}
Object.assign(FILTERED, saved);
await session.close();
