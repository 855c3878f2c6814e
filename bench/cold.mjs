/**
 * Cold single queries, interleaved in rounds so the machine's load hits every
 * system alike (issue 15's cold-start figures): node's own start
 * (`node -e 0`), a cold exact `vdb query` (a library without an index), a
 * cold `vdb query` on the hnsw snapshot, the sqlite3 CLI loading vec0 and
 * answering the same KNN, and `sqlite3 :memory: "select 1;"`. Medians over
 * --rounds of the wall time and the CPU time (user + system) of each whole process.
 *
 *   npm run bench -- --datasets synth100k --indexes linear,hnsw --peers sqlitevec --keep
 *   node bench/cold.mjs [--dataset synth100k] [--rounds 9] [--work DIR] [--before BIN]
 *
 * It reads what that run kept in bench/.cache/work/<dataset>/: base.json
 * (the ingested library, no index), vdb-hnsw.json and sqlitevec.db (or in --work DIR).
 * --before BIN adds the same vdb commands through another build's bin/vdb
 * (say, main's), on the same snapshots, interleaved with the rest: an A/B in
 * one run. --exact-db and --hnsw-db name other snapshots (e.g. a copy of
 * base.json compacted by a build that writes row codes). --add-db DB adds
 * `vdb chunk add` of one chunk (the query's embedding) to DB, a library
 * "bench" of the same dimension (issue 15: < 0.2 s on a 1M database): every
 * round adds a chunk to it, so give it a copy. Without sqlitevec.db in the
 * work folder the sqlite3 rows are left out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from './lib/data.mjs';
import { execFileSync } from 'node:child_process';
import { run } from './lib/proc.mjs';
import { peer } from './peers.mjs';

const { values: opt } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'synth100k' },
    rounds: { type: 'string', default: '9' },
    work: { type: 'string' },
    before: { type: 'string' },
    'exact-db': { type: 'string' },
    'hnsw-db': { type: 'string' },
    'add-db': { type: 'string' },
  },
});
const ROOT = new URL('..', import.meta.url).pathname;
const work = opt.work ?? join(ROOT, 'bench', '.cache', 'work', opt.dataset);
const dir = opt.dataset === 'wordnet' ? join(ROOT, '..', 'shared', 'data', 'wordnet-lsa384') : join(ROOT, 'bench', '.cache', opt.dataset);
const ds = loadDataset(opt.dataset, dir, { withBase: false });
const emb = JSON.stringify(Array.from(ds.queries.subarray(0, ds.dim)));
const vdb = join(ROOT, 'bin', 'vdb');
let sqlite3 = null;
try {
  sqlite3 = execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim() || null;
} catch {}
const ext = peer('sqlite-vec').getLoadablePath().replace(/\.so$/, '');
const sqliteDb = join(work, 'sqlitevec.db');
const query = (bin, db) => [bin, '--db', db, 'query', '--lib', 'bench', '--embedding', emb, '-k', '10', '--json'];
const add = (bin, db) => [bin, '--db', db, 'chunk', 'add', '--lib', 'bench', '--embedding', emb, '--metadata', '{"row": -1}'];
const exactDb = opt['exact-db'] ?? join(work, 'base.json');
const hnswDb = opt['hnsw-db'] ?? join(work, 'vdb-hnsw.json');
const vdbRows = (prefix, bin) => [
  [`${prefix}vdb query, exact (no index)`, process.execPath, query(bin, exactDb)],
  [`${prefix}vdb query, hnsw`, process.execPath, query(bin, hnswDb)],
  ...(opt['add-db'] ? [[`${prefix}vdb chunk add, one chunk`, process.execPath, add(bin, opt['add-db'])]] : []),
];
const sqliteRows = existsSync(sqliteDb)
  ? [
      ['sqlite3 CLI, .load vec0 + KNN', sqlite3, [sqliteDb, `.load ${ext}`, `select rowid, distance from vec_items where embedding match '${emb}' and k = 10;`]],
      ['sqlite3 :memory: "select 1;"', sqlite3, [':memory:', 'select 1;']],
    ]
  : [];
if (sqliteRows.length === 0) console.error(`${sqliteDb} is missing: no sqlite3 rows`);
const systems = [['node -e 0', process.execPath, ['-e', '0']], ...vdbRows('', vdb), ...(opt.before ? vdbRows('before: ', opt.before) : []), ...sqliteRows];
for (const [label, cmd, args] of systems) {
  const file = args.find((a) => a.endsWith('.json') || a.endsWith('.db'));
  if (!cmd || (file && !existsSync(file))) throw new Error(`${label}: ${cmd ? `${file} is missing (run the bench with --keep first, see the top of this file)` : 'sqlite3 is not installed'}`);
}
const times = systems.map(() => []);
const cpu = systems.map(() => []);
for (let round = 0; round < Number(opt.rounds); round++) {
  for (let i = 0; i < systems.length; i++) {
    const [label, cmd, args] = systems[i];
    const r = await run(cmd, args);
    if (r.code !== 0) throw new Error(`${label}: exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
    times[i].push(r.wallMs);
    if (r.cpuMs !== null) cpu[i].push(r.cpuMs);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const { loadavg } = await import('node:os');
console.log(`cold single commands on ${opt.dataset} (${ds.n ?? '?'} × ${ds.dim}), ${opt.rounds} interleaved rounds, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| process | median ms | min ms | − node start, ms | CPU ms (user + sys), median |');
console.log('|---|---|---|---|---|');
const node = median(times[0]);
const cpuOf = (i) => (cpu[i].length ? median(cpu[i]).toFixed(0) : '');
systems.forEach(([label], i) => console.log(`| ${label} | ${median(times[i]).toFixed(0)} | ${Math.min(...times[i]).toFixed(0)} | ${i === 0 ? '' : (median(times[i]) - node).toFixed(0)} | ${cpuOf(i)} |`));
