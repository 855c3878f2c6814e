/**
 * `npm run bench`: vdb against hnswlib-node, usearch, sqlite-vec (better-sqlite3
 * and the sqlite3 CLI) and a plain JS brute-force loop, on the same data in the
 * same run. Each build/query measurement runs in its own child process
 * (bench/worker.mjs) so its peak RSS and load times belong to one system.
 * See bench/README.md for the columns.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { snapshotBytes } from './lib/snapshot-files.mjs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { cosFromBase, ensureDataset, GLOVE, loadDataset, recallAtK, SYNTH } from './lib/data.mjs';
import { metadataOf, syntheticMetadata } from './lib/filtered.mjs';
import { benchEnv, GNU_TIME, median, run, workerResult } from './lib/proc.mjs';
import { ensurePeers } from './peers.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VDB = join(ROOT, 'bin', 'vdb');
const WORKER = join(ROOT, 'bench', 'worker.mjs');
const K = 10;

/**
 * numpy reference from /work/shared/PEERS.md §9 (OpenBLAS Haswell kernel, 2 threads,
 * 1000 queries as one float32 matmul + argpartition): batched exact search.
 */
const NUMPY_BLAS = {
  source: 'PEERS.md §9, numpy 2.4.6 + OpenBLAS 0.3.31 (Haswell), 2 threads, 1000 queries batched',
  qps: { synth100k: 1869, wordnet: 6390 },
};

/** vdb parameter grids per index type; a type missing here runs with its defaults. */
const HNSW = (efs) => efs.map((ef) => ({ m: 16, ef_construction: 200, ef_search: ef }));
const GRIDS = {
  tiny: { linear: [{}], kdtree: [{}], lsh: [{}], hnsw: HNSW([40, 160]) },
  quick: { linear: [{}], kdtree: [{}], lsh: [{}], hnsw: HNSW([40, 80, 160]) },
  full: { linear: [{}], kdtree: [{}, { leaf_size: 64 }], lsh: [{ tables: 8 }, { tables: 16 }, { tables: 32 }], hnsw: HNSW([10, 20, 40, 80, 160, 320]) },
};
const PEER_EF = [10, 20, 40, 80, 160, 320];
const PEERS = ['brute', 'hnswlib', 'usearch', 'sqlitevec', 'sqlite3'];

const HELP = `Usage: npm run bench -- [options]

  --quick                  a run of about 1-2 minutes: first 10,000 wordnet rows, tiny grids, 300 exact --stdin queries, 2 cold runs
  --full                   all datasets (wordnet, synth100k, synth1m) and the full grids
  --datasets LIST          comma list: wordnet, ${Object.keys(SYNTH).join(', ')}, ${GLOVE} (default: wordnet)
  --data DIR               wordnet-lsa384 directory (default: ../shared/data/wordnet-lsa384 from the repo root)
  --indexes LIST           vdb index types (default: every type in the registry)
  --peers LIST             ${PEERS.join(', ')} (default: all); "none" for vdb only
  --grid tiny|quick|full   parameter grids (default: quick; tiny with --quick, full with --full)
  --hnsw-ef LIST           vdb hnsw ef_search values instead of the grid's (one build, m 16, ef_construction 200, queried at each)
  --paired-rounds N        rounds of the paired --stdin/hnswlib comparison (default 5; 0: none), see bench/README.md
  --queries N              in-process queries for approximate indexes and HNSW peers (default 1000)
  --exact-queries N        in-process queries for exact scans: linear, kdtree, brute, sqlite-vec (default 200)
  --stdin-queries N        NDJSON lines fed to vdb query --stdin (default 5000)
  --exact-stdin-queries N  the same for exact indexes (default 1000; 5000 × a 1M scan takes half an hour)
  --stdin-batches LIST     VDB_STDIN_BATCH values for the batched exact --stdin runs of linear (default 96)
  --stdin-threads LIST     VDB_THREADS values for those runs and for hnsw --stdin runs (default: 1 and this machine's cores)
  --filtered-queries N     queries per filtered shape on hnsw and linear (default 500; --skip-filtered: none)
  --n N                    use only the first N base rows of each dataset (truth recomputed, cached)
  --repeats N              timed passes over the queries, median QPS reported (default 1, 3 with --full)
  --cold-runs N            repeats of each cold single-query process, median reported (default 3)
  --cli-ingest-max N       largest dataset ingested through vdb chunk add --stdin (default 200000;
                           bigger ones are ingested through the service API in the build worker)
  --profile                run each vdb query --stdin child with node --cpu-prof (profiles in bench/results/profiles)
  --report FILE            print the tables of an earlier results JSON (no measuring)
  --markdown               print the tables as GitHub markdown instead of boxes
  --keep                   keep snapshots and peer index files under bench/.cache/work
  --retrieval              the embedders' retrieval benchmark instead (bench/retrieval.mjs: WordNet usage examples
                           against 30k definitions, recall@10 and MRR@10 of letters, glove, local, BM25 and hybrid,
                           ingest texts/s, cold query --text; --skip-local leaves out the minutes-long ONNX row)
  -h, --help`;

// The embedders' retrieval benchmark is its own script (bench/retrieval.mjs).
if (process.argv.includes('--retrieval')) {
  await import('./retrieval.mjs');
  process.exit(0);
}

const { values: opt } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    datasets: { type: 'string' },
    data: { type: 'string' },
    indexes: { type: 'string' },
    peers: { type: 'string' },
    grid: { type: 'string' },
    'hnsw-ef': { type: 'string' },
    'paired-rounds': { type: 'string', default: '5' },
    queries: { type: 'string', default: '1000' },
    'exact-queries': { type: 'string', default: '200' },
    'stdin-queries': { type: 'string', default: '5000' },
    'exact-stdin-queries': { type: 'string' },
    'stdin-batches': { type: 'string', default: '96' },
    'stdin-threads': { type: 'string' },
    'filtered-queries': { type: 'string', default: '500' },
    'skip-filtered': { type: 'boolean', default: false },
    'cold-runs': { type: 'string' },
    n: { type: 'string' },
    repeats: { type: 'string' },
    'cli-ingest-max': { type: 'string', default: '200000' },
    keep: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
    report: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}

if (opt.quick && opt.full) throw new Error('give --quick or --full, not both');
if (opt.quick) opt.n ??= '10000';
opt['exact-stdin-queries'] ??= opt.quick ? '300' : '1000';
opt['cold-runs'] ??= opt.quick ? '2' : '3';
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const int = (name) => {
  const n = Number(opt[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${opt[name]}`);
  return n;
};
const ints = (s, flag) =>
  list(s).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes positive integers, got ${x}`);
    return n;
  });
const { INDEX_KINDS } = await import(`${ROOT}/dist/index/registry.js`);
const cfg = {
  datasets: list(opt.datasets ?? (opt.full ? `wordnet,${Object.keys(SYNTH).join(',')}` : 'wordnet')),
  dataDir: resolve(ROOT, opt.data ?? '../shared/data/wordnet-lsa384'),
  indexes: opt.indexes ? list(opt.indexes) : Object.keys(INDEX_KINDS),
  peers: opt.peers === 'none' ? [] : list(opt.peers ?? PEERS.join(',')),
  grid: opt.grid ?? (opt.full ? 'full' : opt.quick ? 'tiny' : 'quick'),
  queries: int('queries'),
  exactQueries: int('exact-queries'),
  stdinQueries: int('stdin-queries'),
  exactStdinQueries: int('exact-stdin-queries'),
  stdinBatches: ints(opt['stdin-batches'], '--stdin-batches'),
  stdinThreads: ints(opt['stdin-threads'] ?? [...new Set([1, availableParallelism()])].join(','), '--stdin-threads'),
  coldRuns: int('cold-runs'),
  pairedRounds: opt['paired-rounds'] === '0' ? 0 : int('paired-rounds'),
  limit: opt.n === undefined ? Infinity : int('n'),
  repeats: opt.repeats === undefined ? (opt.full ? 3 : 1) : int('repeats'),
  cliIngestMax: int('cli-ingest-max'),
  filteredQueries: opt['skip-filtered'] ? 0 : int('filtered-queries'),
  keep: opt.keep,
  profile: opt.profile,
  markdown: opt.markdown,
};
if (opt['hnsw-ef']) for (const g of Object.values(GRIDS)) g.hnsw = HNSW(list(opt['hnsw-ef']).map(Number));
// The HNSW peers get every ef vdb gets, so "best at recall ≥ t" picks from the same settings for both.
const peerEf = [...new Set([...PEER_EF, ...(opt['hnsw-ef'] ? list(opt['hnsw-ef']).map(Number) : [])])].sort((a, b) => a - b);
if (!GRIDS[cfg.grid]) throw new Error(`--grid must be one of ${Object.keys(GRIDS).join(', ')}, got ${cfg.grid}`);
for (const p of cfg.peers) if (!PEERS.includes(p)) throw new Error(`unknown peer "${p}" (use ${PEERS.join(', ')})`);
// The peers' packages (bench/package.json) are installed on first use.
const PEER_PACKAGES = { hnswlib: ['hnswlib-node'], usearch: ['usearch'], sqlitevec: ['better-sqlite3', 'sqlite-vec'], sqlite3: ['sqlite-vec'] };
ensurePeers([...new Set(cfg.peers.flatMap((p) => PEER_PACKAGES[p] ?? []))]);

// A clone without the project's shared data has no wordnet-lsa384: the synthetic set stands in.
if (cfg.datasets.includes('wordnet') && !existsSync(join(cfg.dataDir, 'base.f32'))) {
  if (opt.data !== undefined) throw new Error(`--data ${opt.data}: no wordnet-lsa384 there (base.f32 missing)`);
  process.stderr.write(`note: wordnet-lsa384 is not at ${cfg.dataDir} (it comes with the project's shared data); using synth100k${cfg.limit < Infinity ? ` (first ${cfg.limit} rows)` : ''} instead\n`);
  cfg.datasets = [...new Set(cfg.datasets.map((d) => (d === 'wordnet' ? 'synth100k' : d)))];
}

const CACHE = join(ROOT, 'bench', '.cache');
const WORK = join(CACHE, 'work');
const RESULTS = join(ROOT, 'bench', 'results');
mkdirSync(WORK, { recursive: true });
mkdirSync(RESULTS, { recursive: true });

const log = (msg) => process.stderr.write(`${msg}\n`);
const started = new Date();
const sqlite3 = which('sqlite3');
const notes = [];
/** Work left for after a dataset's paired rounds: vdb rows → their snapshot and finish(); 'hnswlib' → its file. */
const pending = new Map();
const note = (msg) => {
  notes.push(msg);
  log(`note: ${msg}`);
};

const report = {
  started: started.toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, loadavgStart: loadavg(), gnuTime: GNU_TIME !== null, sqlite3Cli: sqlite3 },
  config: cfg,
  numpyReference: NUMPY_BLAS,
  datasets: {},
  notes,
};

if (opt.report) {
  Object.assign(report, JSON.parse(readFileSync(resolve(opt.report), 'utf8')));
  printSummary();
  process.exit(0);
}

for (const name of cfg.datasets) {
  await benchDataset(name);
  writeReport();
}
report.finished = new Date().toISOString();
report.machine.loadavgEnd = loadavg();
const file = writeReport();
printSummary();
log(`\nresults: ${file} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);

// ---------------------------------------------------------------------------

function writeReport() {
  const file = join(RESULTS, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function benchDataset(name) {
  log(`\n== ${name}`);
  const dir = await ensureDataset(name, { dataDir: cfg.dataDir, cacheDir: CACHE, log, limit: cfg.limit });
  const ds = loadDataset(name, dir);
  log(`${name}: ${ds.n} × ${ds.dim}, ${ds.nq} queries (${dir})`);
  const tag = ds.n < (SYNTH[name] ?? 30000) ? `${name}-first${ds.n}` : name;
  const out = { dataset: name, n: ds.n, dim: ds.dim, nq: ds.nq, dir, rawVectorBytes: ds.base.byteLength, ingest: null, rows: [] };
  report.datasets[tag] = out;
  const work = join(WORK, name);
  mkdirSync(work, { recursive: true });
  const dsRef = { name, dir };
  const queryFile = (lines, ef) => writeQueryNdjson(ds, join(CACHE, `${name}-queries-${lines}${ef ? `-ef${ef}` : ''}.ndjson`), lines, ef);

  // The brute-force baseline runs first and last; its row averages both (load drifts).
  const bruteRuns = [];
  const runBrute = async () => {
    if (!cfg.peers.includes('brute')) return;
    log('-- brute');
    bruteRuns.push(await worker({ task: 'build', system: 'brute', dataset: dsRef, nQueries: Math.min(cfg.exactQueries, ds.nq) }));
  };
  await runBrute();
  bruteRow();

  // ---- vdb: bulk ingest through the CLI, the base snapshot for every index.
  let baseSnapshot = null;
  const vdbTypes = cfg.indexes.filter((t) => {
    if (INDEX_KINDS[t]) return true;
    note(`${name}: vdb index type "${t}" is not in src/index/registry.ts; skipped`);
    return false;
  });
  if (vdbTypes.length > 0) {
    if (ds.n <= cfg.cliIngestMax) {
      out.ingest = await cliIngest(ds, work, tag);
      if (out.ingest.code === 0) baseSnapshot = out.ingest.snapshot;
      else note(`${name}: vdb chunk add --stdin failed (${out.ingest.error}); the build workers ingest through the API instead`);
    } else {
      note(`${name}: ${ds.n} rows > --cli-ingest-max ${cfg.cliIngestMax}: no chunk add --stdin run; ingested through the service API (addChunks) instead`);
    }
    if (!baseSnapshot) {
      const snapshot = join(work, 'base.json');
      removeSnapshot(snapshot);
      log(`-- vdb API ingest (addChunks, ${ds.n} rows)`);
      const r = await worker({ task: 'ingest', system: 'vdb', dataset: dsRef, snapshot });
      out.apiIngest = r;
      if (r.error) {
        note(`${name}: vdb API ingest failed, so no vdb index was measured: ${r.error} (peak RSS ${mb(r.maxRssKb * 1024)} MB, ${s(r.wallMs)} s)`);
        vdbTypes.length = 0;
      } else baseSnapshot = snapshot;
    }
  }

  // ---- vdb: every index type and grid point.
  for (const type of vdbTypes) {
    const kind = INDEX_KINDS[type];
    const names = new Set(kind.options.map((o) => o.name));
    const points = (GRIDS[cfg.grid][type] ?? [{}]).map((raw) => {
      const dropped = Object.keys(raw).filter((k) => !names.has(k));
      if (dropped.length) note(`${type}: grid option(s) ${dropped.join(', ')} not in the registry's options (${[...names].join(', ')}); dropped`);
      return Object.fromEntries(Object.entries(raw).filter(([k]) => names.has(k)));
    });
    // ef_search only sizes a query's candidate list: one build per other setting serves all of its
    // ef_search values, queried with a per-query ef.
    const groups = new Map();
    for (const p of points) {
      const { ef_search: _ef, ...built } = p;
      const key = JSON.stringify(built);
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    for (const [first, ...more] of groups.values()) {
      out.rows.push(...(await benchVdb(ds, dsRef, work, kind, first, baseSnapshot, queryFile, more.map((p) => p.ef_search))));
      writeReport();
    }
  }
  if (baseSnapshot && !cfg.keep) removeSnapshot(baseSnapshot);

  // ---- peers.
  for (const peer of cfg.peers) {
    if (peer === 'sqlite3' || peer === 'brute') continue; // sqlite3: measured on sqlitevec's database
    const rows = await benchPeer(peer, ds, dsRef, work);
    out.rows.push(...rows);
    writeReport();
  }
  await pairedStdin(ds, out, work);
  for (const [key, value] of pending) {
    if (key === 'hnswlib') {
      if (!cfg.keep) rmSync(value, { force: true });
    } else await value.finish();
  }
  pending.clear();
  await runBrute();
  bruteRow();
  return out;

  /** The brute row from the runs so far (first only, until the last one is in). */
  function bruteRow() {
    if (!bruteRuns.length) return;
    const ok = bruteRuns.filter((b) => !b.error);
    const qps = ok.length ? ok.reduce((a, b) => a + b.query.qps, 0) / ok.length : undefined;
    if (out.rows[0]?.system === 'brute') out.rows.shift();
    out.rows.unshift({
      system: 'brute',
      setting: 'simple loop + heap',
      exact: true,
      runs: bruteRuns,
      error: ok.length ? undefined : bruteRuns[0].error,
      recall: ok[0]?.query.recall,
      qps,
      qpsRuns: ok.map((b) => b.query.qps),
      gbps: qps && (qps * ds.n * ds.dim * 4) / 1e9,
      maxRssKb: Math.max(...ok.map((b) => b.maxRssKb ?? 0)) || null,
    });
    writeReport();
  }
}

/** `{"embedding": [...], "k": 10}` lines, cycling through the dataset's queries. */
function writeQueryNdjson(ds, path, lines, ef) {
  if (existsSync(path)) return path;
  const parts = [];
  const tail = ef ? `,"ef":${ef}}\n` : '}\n';
  for (let i = 0; i < lines; i++) {
    const q = i % ds.nq;
    parts.push(`{"embedding":${JSON.stringify(Array.from(ds.queries.subarray(q * ds.dim, (q + 1) * ds.dim)))},"k":${K}${tail}`);
  }
  writeFileSync(`${path}.tmp`, parts.join(''));
  execFileSync('mv', [`${path}.tmp`, path]);
  return path;
}

/** Chunks NDJSON for `chunk add --stdin`: the base rows in order, metadata {row, ...the filter fields of lib/filtered.mjs}. */
async function writeChunkNdjson(ds, path) {
  if (existsSync(path)) return path;
  const meta = syntheticMetadata(ds);
  const ws = createWriteStream(`${path}.tmp`);
  let buf = '';
  for (let r = 0; r < ds.n; r++) {
    buf += `{"embedding":${JSON.stringify(Array.from(ds.base.subarray(r * ds.dim, (r + 1) * ds.dim)))},"metadata":${JSON.stringify(metadataOf(meta, r))}}\n`;
    if (buf.length > 1 << 22 || r === ds.n - 1) {
      if (!ws.write(buf)) await new Promise((res) => ws.once('drain', res));
      buf = '';
    }
  }
  await new Promise((res, rej) => ws.end((err) => (err ? rej(err) : res())));
  execFileSync('mv', [`${path}.tmp`, path]);
  return path;
}

function vdbArgs(snapshot, ...args) {
  return [VDB, '--db', snapshot, ...args];
}

async function cliIngest(ds, work, tag) {
  const ndjson = await writeChunkNdjson(ds, join(CACHE, `${tag}-chunks-meta.ndjson`));
  const snapshot = join(work, 'base.json');
  removeSnapshot(snapshot);
  const created = await run(process.execPath, vdbArgs(snapshot, 'lib', 'create', 'bench', '--dim', String(ds.dim), '--metric', 'cosine', '--embedder', 'none'));
  if (created.code !== 0) return { code: created.code, error: created.stderr.trim() };
  log(`vdb chunk add --stdin: ${ds.n} lines (${(statSync(ndjson).size / 1e6).toFixed(0)} MB NDJSON) ...`);
  const r = await run(process.execPath, vdbArgs(snapshot, 'chunk', 'add', '--lib', 'bench', '--stdin'), { stdinFile: ndjson, stdoutFile: '/dev/null' });
  const res = { code: r.code, wallMs: r.wallMs, maxRssKb: r.maxRssKb, ndjsonBytes: statSync(ndjson).size, snapshot };
  if (r.code === 0) {
    res.snapshotBytes = snapshotBytes(snapshot);
    res.rowsPerSec = (ds.n * 1000) / r.wallMs;
    log(`  ingest: ${(r.wallMs / 1000).toFixed(1)} s, ${res.rowsPerSec.toFixed(0)} rows/s, peak RSS ${mb(r.maxRssKb * 1024)} MB, snapshot ${mb(res.snapshotBytes)} MB`);
  } else {
    res.error = lastLines(r.stderr);
  }
  return res;
}

async function worker(task, { echo = true } = {}) {
  // --expose-gc: a usearch index is native memory the heap does not see; the worker frees each one it is done with.
  const r = await run(process.execPath, ['--expose-gc', WORKER, JSON.stringify({ repeats: cfg.repeats, ...task })], { echoStderr: echo });
  const res = workerResult(r);
  res.maxRssKb = r.maxRssKb ?? res.selfMaxRssKb;
  res.wallMs = r.wallMs;
  if (r.code !== 0 && !res.error) res.error = `exit ${r.code}: ${lastLines(r.stderr)}`;
  return res;
}

/** Removes a snapshot and its sidecar directory (a large snapshot is a manifest plus `PATH.d/`). */
function removeSnapshot(path) {
  rmSync(path, { force: true });
  rmSync(`${path}.d`, { recursive: true, force: true });
}

/**
 * Builds one vdb index and measures it; `moreEfs` are further ef_search values measured on the same
 * build with a per-query ef (one row each, sharing the build's figures).
 * @returns the rows, the build's first
 */
async function benchVdb(ds, dsRef, work, kind, params, baseSnapshot, queryFile, moreEfs = []) {
  const setting = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults';
  log(`-- vdb ${kind.type} ${setting}`);
  const snapshot = join(work, `vdb-${kind.type}.json`);
  // A second hnsw build (another m or ef_construction) takes the place of the first in the paired rounds.
  for (const [key, kept] of pending) {
    if (kept.snapshot !== snapshot) continue;
    pending.delete(key);
    await kept.finish();
  }
  removeSnapshot(snapshot);
  const row = { system: 'vdb', index: kind.type, exact: kind.exact, setting, params };
  const nQueries = kind.exact ? Math.min(cfg.exactQueries, ds.nq) : Math.min(cfg.queries, ds.nq);
  const batched = kind.type === 'linear' ? cfg.stdinBatches.flatMap((batch) => cfg.stdinThreads.map((threads) => ({ batch, threads }))) : undefined;
  // An approximate index is built in a worker of its own (its peak RSS is the build's, without the harness's copy of
  // the vectors) and queried in the next, as the further ef values are.
  const buildOnly = !kind.exact && baseSnapshot !== undefined;
  const b = await worker({ task: 'build', system: 'vdb', dataset: dsRef, type: kind.type, params, snapshot, baseSnapshot, nQueries, batched, buildOnly });
  row.build = b;
  if (b.error || !existsSync(snapshot)) {
    row.error = b.error ?? 'no snapshot written';
    log(`  failed: ${row.error}`);
    removeSnapshot(snapshot);
    return [row];
  }
  row.buildMs = b.buildMs;
  row.buildMaxRssKb = b.maxRssKb;
  row.fileBytes = b.fileBytes;
  if (buildOnly) {
    const q = await worker({ task: 'query', system: 'vdb', dataset: dsRef, snapshot, ef: params.ef_search, nQueries });
    if (q.error) row.error = q.error;
    b.query = q.query;
  }
  row.recall = b.query?.recall;
  row.qps = b.query?.qps;

  const l = await worker({ task: 'load', system: 'vdb', dataset: dsRef, snapshot });
  row.load = l;
  row.loadMs = l.loadMs;

  // One cold `vdb query` process, as a user runs it.
  const emb = JSON.stringify(Array.from(ds.queries.subarray(0, ds.dim)));
  const cold = [];
  for (let i = 0; i < cfg.coldRuns; i++) {
    const r = await run(process.execPath, vdbArgs(snapshot, 'query', '--lib', 'bench', '--embedding', emb, '-k', String(K), '--json'));
    if (r.code !== 0) {
      row.coldError = lastLines(r.stderr);
      break;
    }
    cold.push(r);
  }
  if (cold.length) {
    row.coldMs = median(cold.map((r) => r.wallMs));
    row.coldRuns = cold.map((r) => r.wallMs);
    row.coldMaxRssKb = Math.max(...cold.map((r) => r.maxRssKb ?? 0)) || null;
  }
  // The same cold query with a filter: the filter columns instead of the chunk records.
  if (cold.length && cfg.filteredQueries > 0 && (kind.type === 'hnsw' || kind.type === 'linear')) {
    row.coldFiltered = [];
    for (const [label, args] of [['cat = "c07" (1%)', ['--where', 'cat=c07']], ['u < 0.2 (20%)', ['--filter', '{"u": {"$lt": 0.2}}']]]) {
      const runs = [];
      for (let i = 0; i < cfg.coldRuns; i++) {
        const r = await run(process.execPath, vdbArgs(snapshot, 'query', '--lib', 'bench', '--embedding', emb, '-k', String(K), '--json', ...args));
        if (r.code !== 0) {
          row.coldFilteredError = lastLines(r.stderr);
          break;
        }
        runs.push(r.wallMs);
      }
      if (runs.length) row.coldFiltered.push({ label, ms: median(runs), runs });
    }
  }
  // Filtered workloads, once per dataset for hnsw (at the default ef, 64) and linear.
  if (cfg.filteredQueries > 0 && (kind.type === 'hnsw' || kind.type === 'linear') && !ds.filteredDone?.[kind.type]) {
    ds.filteredDone = { ...(ds.filteredDone ?? {}), [kind.type]: true };
    const hnsw = kind.type === 'hnsw';
    row.filtered = await worker({
      task: 'filtered',
      system: 'vdb',
      dataset: dsRef,
      snapshot,
      type: kind.type,
      ef: hnsw ? 64 : undefined,
      curveEfs: hnsw ? [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512] : undefined,
      postFilter: hnsw,
      nQueries: hnsw ? cfg.filteredQueries : Math.min(cfg.filteredQueries, cfg.exactQueries),
    });
  }

  // `vdb query --stdin`: process start, snapshot load and N queries.
  const lines = kind.exact ? Math.min(cfg.stdinQueries, cfg.exactStdinQueries) : cfg.stdinQueries;
  const outFile = join(work, 'stdin-out.ndjson');
  const stdinRun = async (target, label, ef) => {
    const prof = cfg.profile ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles'), '--cpu-prof-name', `${ds.name}-${kind.type}-${label.replace(/[ =]/g, '_')}-${Date.now()}.cpuprofile`] : [];
    const r = await run(process.execPath, [...prof, ...vdbArgs(snapshot, 'query', '--lib', 'bench', '--stdin')], { stdinFile: queryFile(lines, ef), stdoutFile: outFile });
    if (r.code === 0) {
      const answers = readFileSync(outFile, 'utf8').trimEnd().split('\n');
      const first = answers.slice(0, Math.min(ds.nq, answers.length)).map((a) => JSON.parse(a).hits.map((h) => h.metadata.row));
      target.stdin = { lines, answered: answers.length, wallMs: r.wallMs, qps: (lines * 1000) / r.wallMs, maxRssKb: r.maxRssKb, recall: recallAtK(ds, first, K, cosFromBase(ds)) };
      target.qpsStdin = target.stdin.qps;
      target.maxRssKb = r.maxRssKb;
    } else {
      target.stdin = { lines, error: lastLines(r.stderr), wallMs: r.wallMs, maxRssKb: r.maxRssKb };
    }
    if (kind.type === 'hnsw' && r.code === 0) target.stdinThreads = await stdinThreads(snapshot, queryFile(lines, ef), lines, outFile, work);
    rmSync(outFile, { force: true });
  };
  await stdinRun(row, setting);
  if (kind.type === 'linear') row.stdinBatched = await stdinBatched(ds, snapshot, queryFile(lines), lines, work);
  log(
    `  build ${s(row.buildMs)} s, recall ${f4(row.recall)}, ${f0(row.qps)} q/s in process, ${f0(row.qpsStdin)} q/s via --stdin (${lines} lines), ` +
      `load ${f0(row.loadMs)} ms, cold query ${f0(row.coldMs)} ms, snapshot ${mb(row.fileBytes)} MB, --stdin peak RSS ${mb(row.maxRssKb * 1024)} MB`,
  );
  const rows = [row];
  for (const ef of moreEfs) {
    const more = { ...params, ef_search: ef };
    const label = Object.entries(more).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`-- vdb ${kind.type} ${label} (the build above, queried with ef ${ef})`);
    const extra = { system: 'vdb', index: kind.type, exact: kind.exact, setting: label, params: more, sharedBuild: setting };
    const q = await worker({ task: 'query', system: 'vdb', dataset: dsRef, snapshot, ef, nQueries });
    if (q.error) extra.error = q.error;
    Object.assign(extra, { build: row.build, buildMs: row.buildMs, fileBytes: row.fileBytes, load: row.load, loadMs: row.loadMs, recall: q.query?.recall, qps: q.query?.qps });
    await stdinRun(extra, label, ef);
    log(`  recall ${f4(extra.recall)}, ${f0(extra.qps)} q/s in process, ${f0(extra.qpsStdin)} q/s via --stdin (${lines} lines)`);
    rows.push(extra);
  }
  // One `vdb chunk add` to the built library, as a user adds a chunk (issue 15: < 0.2 s at 1M); last, since it
  // changes the snapshot (the added rows stay unindexed in a kept one): after the paired runs of an hnsw build.
  const finish = async () => {
    const adds = [];
    for (let i = 0; i < cfg.coldRuns; i++) {
      const r = await run(process.execPath, vdbArgs(snapshot, 'chunk', 'add', '--lib', 'bench', '--embedding', emb, '--metadata', '{"row": -1}'));
      if (r.code !== 0) {
        row.addError = lastLines(r.stderr);
        break;
      }
      adds.push(r);
    }
    if (adds.length) row.oneAdd = { wallMs: median(adds.map((r) => r.wallMs)), cpuMs: median(adds.map((r) => r.cpuMs ?? NaN)), runs: adds.map((r) => r.wallMs) };
    if (!cfg.keep) removeSnapshot(snapshot);
  };
  if (kind.type === 'hnsw' && pairing()) pending.set(row, { snapshot, finish });
  else await finish();
  return rows;
}

/** Whether the paired --stdin/hnswlib rounds run (they need the hnsw snapshot and hnswlib's index kept until then). */
function pairing() {
  return cfg.pairedRounds > 0 && cfg.peers.includes('hnswlib') && cfg.indexes.includes('hnsw');
}


/**
 * HNSW through `vdb query --stdin` at each VDB_THREADS of --stdin-threads
 * (the worker pool of src/index/pool.ts), in alternating order, with whether
 * the output equals the default run's (`defaultOut`) byte for byte.
 */
async function stdinThreads(snapshot, file, lines, defaultOut, work) {
  const args = vdbArgs(snapshot, 'query', '--lib', 'bench', '--stdin');
  const out = join(work, 'stdin-threads.ndjson');
  const expected = readFileSync(defaultOut);
  const results = [];
  for (const threads of cfg.stdinThreads) {
    const r = await run(process.execPath, args, { stdinFile: file, stdoutFile: out, env: benchEnv({ VDB_THREADS: String(threads) }) });
    const res = { threads, wallMs: r.wallMs, maxRssKb: r.maxRssKb };
    if (r.code !== 0) res.error = lastLines(r.stderr);
    else {
      res.qps = (lines * 1000) / r.wallMs;
      res.sameAsDefault = readFileSync(out).equals(expected);
    }
    log(`  --stdin VDB_THREADS=${threads}: ${f0(res.qps)} q/s${res.sameAsDefault === false ? ', OUTPUT DIFFERS' : ''}`);
    results.push(res);
  }
  rmSync(out, { force: true });
  return results;
}

/**
 * Batched exact search through `vdb query --stdin` on the linear snapshot: one
 * line at a time (VDB_STDIN_BATCH=1), then each batch size on each thread
 * count. q/s is over the whole process, and `steady` discounts start-up:
 * (lines − 1) / (wall − the wall of a one-line run). Every variant's output
 * must equal the one-at-a-time output byte for byte.
 */
async function stdinBatched(ds, snapshot, file, lines, work) {
  const args = vdbArgs(snapshot, 'query', '--lib', 'bench', '--stdin');
  const oneLine = join(work, 'one-line.ndjson');
  writeFileSync(oneLine, readFileSync(file, 'utf8').split('\n')[0] + '\n');
  const startup = await run(process.execPath, args, { stdinFile: oneLine, stdoutFile: '/dev/null' });
  rmSync(oneLine, { force: true });
  const variants = [{ label: 'one at a time', env: { VDB_STDIN_BATCH: '1' } }];
  for (const batch of cfg.stdinBatches) {
    for (const threads of cfg.stdinThreads) variants.push({ label: `batches of ${batch}, ${threads} thread${threads > 1 ? 's' : ''}`, batch, threads, env: { VDB_STDIN_BATCH: String(batch), VDB_THREADS: String(threads) } });
  }
  const outFile = (i) => join(work, `stdin-batched-${i}.ndjson`);
  const results = [];
  for (const [i, v] of variants.entries()) {
    const r = await run(process.execPath, args, { stdinFile: file, stdoutFile: outFile(i), env: benchEnv(v.env) });
    const res = { label: v.label, batch: v.batch ?? 1, threads: v.threads ?? 1, wallMs: r.wallMs, maxRssKb: r.maxRssKb };
    if (r.code !== 0) res.error = lastLines(r.stderr);
    else {
      res.qps = (lines * 1000) / r.wallMs;
      res.steadyQps = ((lines - 1) * 1000) / (r.wallMs - startup.wallMs);
      res.gflops = (res.steadyQps * 2 * ds.n * ds.dim) / 1e9;
      if (i > 0) res.sameAsOneAtATime = readFileSync(outFile(i)).equals(readFileSync(outFile(0)));
    }
    log(`  --stdin ${v.label}: ${f0(res.qps)} q/s, ${f0(res.steadyQps)} q/s after start-up (${res.gflops?.toFixed(1)} GFLOP/s)${res.sameAsOneAtATime === false ? ', OUTPUT DIFFERS' : ''}`);
    results.push(res);
  }
  variants.forEach((_, i) => rmSync(outFile(i), { force: true }));
  return { lines, startupMs: startup.wallMs, variants: results };
}

/**
 * The bar of issue 15 as one figure robust to a shared machine's drift: vdb through `vdb query --stdin` (a whole
 * process, start and load included) against hnswlib-node in process, each at the smallest ef that reached recall@10
 * ≥ 0.95 (and 0.99) in the runs above, measured in turn: an hnswlib pass over the queries, a vdb --stdin run, ...,
 * an hnswlib pass. Each round's ratio divides the vdb run's q/s by the mean of the hnswlib passes on either side of
 * it; the figure is the median ratio over the rounds.
 */
async function pairedStdin(ds, out, work) {
  const file = pending.get('hnswlib');
  const vdbRow = [...pending.keys()].find((k) => k !== 'hnswlib');
  if (!file || !vdbRow) return;
  const { snapshot } = pending.get(vdbRow);
  const vdbRows = out.rows.filter((r) => r.system === 'vdb' && r.index === 'hnsw' && !r.error && (r === vdbRow || r.sharedBuild === vdbRow.setting));
  const peerRows = out.rows.filter((r) => r.system === 'hnswlib' && !r.error);
  const { HierarchicalNSW } = createRequire(join(ROOT, 'bench', 'worker.mjs'))('hnswlib-node');
  const index = new HierarchicalNSW('ip', ds.dim);
  index.readIndexSync(file);
  const qs = Array.from({ length: ds.nq }, (_, q) => Array.from(ds.queries.subarray(q * ds.dim, (q + 1) * ds.dim)));
  const pass = (ef) => {
    index.setEf(ef);
    const t = performance.now();
    for (const q of qs) index.searchKnn(q, K);
    return (qs.length * 1000) / (performance.now() - t);
  };
  const lines = cfg.stdinQueries;
  const outFile = join(work, 'paired-out.ndjson');
  out.paired = [];
  for (const threshold of [0.95, 0.99]) {
    // The smallest ef that reaches the recall, for each: q/s falls as ef grows, and the fastest row of a noisy
    // run can be a larger ef's (it picked hnswlib at ef 256 over 80 on synth100k once).
    const v = lowestEf(vdbRows, (r) => r.params.ef_search, (r) => r.stdin?.recall, threshold);
    const h = lowestEf(peerRows, (r) => Number(/ef=(\d+)/.exec(r.setting)[1]), (r) => r.recall, threshold);
    if (!v || !h) continue;
    const vEf = v.params.ef_search;
    const hEf = Number(/ef=(\d+)/.exec(h.setting)[1]);
    log(`-- paired: vdb --stdin ef ${vEf} (${lines} lines) against hnswlib in process ef ${hEf}, recall ≥ ${threshold}, ${cfg.pairedRounds} rounds`);
    for (let i = 0; i < Math.min(50, qs.length); i++) index.searchKnn(qs[i], K);
    const peer = [pass(hEf)];
    const vdb = [];
    for (let round = 0; round < cfg.pairedRounds; round++) {
      const r = await run(process.execPath, vdbArgs(snapshot, 'query', '--lib', 'bench', '--stdin'), { stdinFile: writeQueryNdjson(ds, join(CACHE, `${ds.name}-queries-${lines}-ef${vEf}.ndjson`), lines, vEf), stdoutFile: outFile });
      if (r.code !== 0) {
        note(`${ds.name}: a paired vdb --stdin run failed: ${lastLines(r.stderr)}`);
        break;
      }
      vdb.push((lines * 1000) / r.wallMs);
      peer.push(pass(hEf));
    }
    rmSync(outFile, { force: true });
    if (vdb.length === 0) continue;
    const ratios = vdb.map((q, i) => q / ((peer[i] + peer[i + 1]) / 2));
    const result = { recallAtLeast: threshold, vdb: { ef: vEf, recall: v.stdin.recall, qps: median(vdb), runs: vdb }, hnswlib: { ef: hEf, recall: h.recall, qps: median(peer), passes: peer }, ratio: median(ratios), ratios };
    out.paired.push(result);
    log(`  vdb --stdin ${f0(result.vdb.qps)} q/s, hnswlib ${f0(result.hnswlib.qps)} q/s: ratio ${result.ratio.toFixed(2)} (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
  }
}

async function benchPeer(peer, ds, dsRef, work) {
  log(`-- ${peer}`);
  if (peer === 'hnswlib' || peer === 'usearch') {
    const file = join(work, `${peer}.bin`);
    const task =
      peer === 'hnswlib'
        ? { task: 'build', system: peer, dataset: dsRef, file, nQueries: Math.min(cfg.queries, ds.nq), m: 16, efConstruction: 200, efSearch: peerEf }
        : { task: 'build', system: peer, dataset: dsRef, file, nQueries: Math.min(cfg.queries, ds.nq), expansionSearch: peerEf };
    const b = await worker(task);
    if (b.error) return [{ system: peer, setting: 'build', error: b.error, build: b }];
    const l = await worker({ task: 'load', system: peer, dataset: dsRef, file });
    if (peer === 'hnswlib' && pairing()) pending.set('hnswlib', file);
    else if (!cfg.keep) rmSync(file, { force: true });
    const label = peer === 'hnswlib' ? 'M=16 efC=200' : 'conn=16 exp_add=128';
    return b.grid.map((g) => ({
      system: peer,
      setting: `${label} ${Object.entries(g.setting).map(([k, v]) => `${k}=${v}`).join(' ')}`,
      buildMs: b.buildMs,
      saveMs: b.saveMs,
      recall: g.recall,
      qps: g.qps,
      fileBytes: b.fileBytes,
      loadMs: l.loadMs,
      viewMs: l.viewMs,
      maxRssKb: l.maxRssKb,
      buildMaxRssKb: b.maxRssKb,
    }));
  }
  if (peer === 'sqlitevec') {
    const file = join(work, 'sqlitevec.db');
    rmSync(file, { force: true });
    const b = await worker({ task: 'build', system: 'sqlitevec', dataset: dsRef, file, nQueries: Math.min(cfg.exactQueries, ds.nq) });
    if (b.error) return [{ system: 'sqlite-vec', setting: 'vec0', error: b.error, build: b }];
    const l = await worker({ task: 'load', system: 'sqlitevec', dataset: dsRef, file });
    const rows = [{ system: 'sqlite-vec', setting: 'vec0 (better-sqlite3)', exact: true, buildMs: b.buildMs, recall: b.query.recall, qps: b.query.qps, fileBytes: b.fileBytes, coldMs: l.wallMs, maxRssKb: l.maxRssKb, coldNote: 'fresh node process: open + KNN' }];
    if (cfg.peers.includes('sqlite3')) rows.push(await sqliteCli(ds, file));
    if (!cfg.keep) rmSync(file, { force: true });
    return rows;
  }
  throw new Error(`unknown peer ${peer}`);
}

/** Cold query through the Debian sqlite3 CLI: start, `.load vec0`, one KNN. */
async function sqliteCli(ds, file) {
  const row = { system: 'sqlite3 CLI', setting: '.load vec0 + KNN', exact: true };
  if (!sqlite3) {
    row.error = 'sqlite3 CLI not installed (apt-get install sqlite3); row skipped';
    note(row.error);
    return row;
  }
  const { getLoadablePath } = await import('sqlite-vec');
  const ext = getLoadablePath().replace(/\.so$/, '');
  const q = JSON.stringify(Array.from(ds.queries.subarray(0, ds.dim)));
  const sql = `select rowid, distance from vec_items where embedding match '${q}' and k = ${K};`;
  const base = [];
  const cold = [];
  for (let i = 0; i < cfg.coldRuns; i++) {
    base.push((await run(sqlite3, [':memory:', 'select 1;'])).wallMs);
    const r = await run(sqlite3, [file, `.load ${ext}`, sql]);
    if (r.code !== 0) {
      row.error = `sqlite3 CLI: ${lastLines(r.stderr)}`;
      note(row.error);
      return row;
    }
    cold.push(r);
    row.answer = r.stdout.trim().split('\n').map((l) => Number(l.split('|')[0]));
  }
  row.coldMs = median(cold.map((r) => r.wallMs));
  row.coldRuns = cold.map((r) => r.wallMs);
  row.startMs = median(base);
  row.maxRssKb = Math.max(...cold.map((r) => r.maxRssKb ?? 0)) || null;
  row.recall = recallAtK(ds, [row.answer], K, cosFromBase(ds));
  log(`  sqlite3 CLI cold KNN ${f0(row.coldMs)} ms (select 1: ${f0(row.startMs)} ms)`);
  return row;
}

// ---- output ---------------------------------------------------------------

function printSummary() {
  for (const [name, d] of Object.entries(report.datasets)) {
    console.log(`\n## ${name}: ${d.n} × ${d.dim}, ${d.nq} queries, recall@10 tie-aware (${report.started}, ${report.machine.cpus} cores, load avg ${report.machine.loadavgStart.map((x) => x.toFixed(1)).join(' ')})`);
    const t = makeTable(['system', 'index', 'setting', 'build s', 'recall@10', 'QPS', '×brute', 'QPS --stdin', 'file MB', 'load ms', 'cold ms', 'peak RSS MB']);
    const brute = d.rows.find((r) => r.system === 'brute')?.qps;
    for (const r of d.rows) {
      if (r.error) {
        t.push([r.system, r.index ?? '', r.setting, { colSpan: 9, content: `FAILED: ${String(r.error).slice(0, 110)}` }]);
        continue;
      }
      t.push([
        r.system,
        r.index ?? '',
        r.setting,
        s(r.buildMs),
        f4(r.recall),
        f0(r.qps),
        brute && r.qps ? `${(r.qps / brute).toFixed(1)}×` : '',
        r.stdin?.error ? 'FAILED' : r.qpsStdin ? `${f0(r.qpsStdin)} (r ${f4(r.stdin.recall)})` : '',
        mb(r.fileBytes),
        f0(r.loadMs),
        f0(r.coldMs),
        mb(r.maxRssKb * 1024),
      ]);
    }
    console.log(t.toString());
    printRatios(name, d, brute);
    printPaired(name, d);
    printFiltered(name, d);
  }
  if (report.notes.length) console.log(`\nNotes:\n${report.notes.map((n) => `- ${n}`).join('\n')}`);
}

/** The paired rounds of a dataset (pairedStdin). */
function printPaired(name, d) {
  if (!d.paired?.length) return;
  console.log(`\n${name}: vdb query --stdin (a whole process, ${report.config.stdinQueries} lines) against hnswlib-node in process, measured in turn, ${d.paired[0].ratios.length} rounds`);
  const t = makeTable(['recall ≥', 'vdb --stdin (ef, recall)', 'q/s (median)', 'hnswlib (ef, recall)', 'q/s (median)', 'vdb/hnswlib (median)', 'min–max']);
  for (const p of d.paired) {
    const lo = Math.min(...p.ratios);
    const hi = Math.max(...p.ratios);
    t.push([p.recallAtLeast.toFixed(2), `ef ${p.vdb.ef}, ${f4(p.vdb.recall)}`, f0(p.vdb.qps), `ef ${p.hnswlib.ef}, ${f4(p.hnswlib.recall)}`, f0(p.hnswlib.qps), `${p.ratio.toFixed(2)}×`, `${lo.toFixed(2)}–${hi.toFixed(2)}`]);
  }
  console.log(t.toString());
}

/** The filtered workloads of a dataset (run by the hnsw and linear rows). */
function printFiltered(name, d) {
  for (const r of d.rows.filter((x) => x.system === 'vdb' && x.filtered && !x.filtered.error)) {
    const f = r.filtered;
    const u = f.unfiltered;
    console.log(`\n${name}: filtered search, vdb ${r.index}${f.ef ? ` at ef ${f.ef}` : ''} (${r.setting}), ${f.nq} queries; unfiltered: recall ${f4(u.recall)}, ${f0(u.qps)} q/s in the same process`);
    const head = ['filter', 'matches', 'plan', 'recall@10', 'q/s', '× unfiltered', '× unfiltered at same recall', 'short'];
    if (f.shapes.some((s) => s.postFilter)) head.push("post-filter k'=100: recall", 'q/s', 'short');
    const t = makeTable(head);
    for (const s of f.shapes) {
      const cells = [s.label, f0(s.matches), s.plan, f4(s.recall), f0(s.qps), `${s.vsUnfiltered.toFixed(2)}×`, s.vsUnfilteredAtRecall ? `${s.vsUnfilteredAtRecall.toFixed(2)}×` : '', String(s.short)];
      if (s.postFilter) cells.push(f4(s.postFilter.recall), f0(s.postFilter.qps), String(s.postFilter.short));
      t.push(cells);
    }
    console.log(t.toString());
    if (f.curve.length > 1) console.log(`unfiltered curve (ef: recall, q/s): ${f.curve.map((p) => `${p.ef}: ${f4(p.recall)}, ${f0(p.qps)}`).join('; ')}`);
    if (r.coldFiltered?.length) console.log(`cold query process: unfiltered ${f0(r.coldMs)} ms; ${r.coldFiltered.map((c) => `${c.label} ${f0(c.ms)} ms`).join('; ')}`);
  }
}

/** The row with the smallest ef whose recall reaches `threshold`, or null. */
function lowestEf(rows, efOf, recallOf, threshold) {
  const ok = rows.filter((r) => (recallOf(r) ?? -1) >= threshold);
  return ok.length ? ok.reduce((a, b) => (efOf(b) < efOf(a) ? b : a)) : null;
}

function best(rows, field, recallOf, threshold) {
  let top = null;
  for (const r of rows) {
    const rec = recallOf(r);
    if (r[field] && rec !== undefined && rec !== null && rec >= threshold && (!top || r[field] > top[field])) top = r;
  }
  return top;
}

function printRatios(name, d, bruteQps) {
  const vdb = d.rows.filter((r) => r.system === 'vdb' && !r.error);
  const peers = [...new Set(d.rows.filter((r) => r.system !== 'vdb' && !r.error && r.qps).map((r) => r.system))];
  const t = makeTable(['recall ≥', 'peer', 'peer best QPS (setting)', 'vdb best in process', 'vdb/peer', 'vdb best --stdin', 'vdb --stdin/peer', 'build vdb/peer']);
  const ratios = [];
  const cell = (r, f) => (r ? `${f0(r[f])} (${r.index ? `${r.index} ` : ''}${r.setting})` : '—');
  const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
  for (const th of [0.9, 0.95, 0.99]) {
    const vp = best(vdb, 'qps', (r) => r.recall, th);
    const vs = best(vdb, 'qpsStdin', (r) => r.stdin?.recall, th);
    const pb = peers.map((p) => best(d.rows.filter((r) => r.system === p && !r.error), 'qps', (r) => r.recall, th));
    peers.forEach((p, i) => t.push([th.toFixed(2), p, cell(pb[i], 'qps'), cell(vp, 'qps'), ratio(vp?.qps, pb[i]?.qps), cell(vs, 'qpsStdin'), ratio(vs?.qpsStdin, pb[i]?.qps), ratio(vp?.buildMs, pb[i]?.buildMs)]));
    ratios.push({ recallAtLeast: th, vdbInProcess: vp && { index: vp.index, setting: vp.setting, qps: vp.qps, recall: vp.recall }, vdbStdin: vs && { index: vs.index, setting: vs.setting, qps: vs.qpsStdin, recall: vs.stdin.recall }, peers: Object.fromEntries(pb.map((r, i) => [peers[i], r && { setting: r.setting, qps: r.qps, recall: r.recall }])) });
  }
  console.log(`\n${name}: vdb vs peers at equal recall (best QPS with recall@10 ≥ threshold; peers in process, one query per call)`);
  console.log(t.toString());
  d.ratios = ratios;

  // Exact search: vdb linear vs the plain loop, and batched (--stdin) vs numpy BLAS.
  const lin = vdb.find((r) => r.index === 'linear');
  if (lin) {
    const gb = (qps) => (qps * d.n * d.dim * 4) / 1e9;
    const gflops = (qps) => ((qps * 2 * d.n * d.dim) / 1e9).toFixed(1);
    const vsBrute = (qps, digits = 2) => (bruteQps ? `${(qps / bruteQps).toFixed(digits)}×` : '');
    const e = makeTable(['exact search', 'QPS', 'GB/s scanned', 'GFLOP/s', '×brute loop']);
    const br = d.rows.find((r) => r.system === 'brute');
    if (bruteQps) e.push([`brute-force JS loop (simple + heap), in process (runs: ${(br.qpsRuns ?? [br.qps]).map(f0).join(', ')})`, f0(bruteQps), gb(bruteQps).toFixed(2), gflops(bruteQps), '1.00×']);
    e.push(['vdb linear, in process (session.query)', f0(lin.qps), gb(lin.qps).toFixed(2), gflops(lin.qps), vsBrute(lin.qps)]);
    for (const v of lin.build?.batched ?? []) {
      e.push([`vdb linear, in process (session.queryBatch), batches of ${v.batch}, ${v.threads} thread${v.threads > 1 ? 's' : ''}, recall ${f4(v.recall)}`, f0(v.qps), gb(v.qps).toFixed(2), gflops(v.qps), vsBrute(v.qps)]);
    }
    if (lin.qpsStdin) e.push([`vdb linear, query --stdin, defaults (${lin.stdin.lines} q, start+load incl.)`, f0(lin.qpsStdin), gb(lin.qpsStdin).toFixed(2), gflops(lin.qpsStdin), vsBrute(lin.qpsStdin)]);
    for (const v of lin.stdinBatched?.variants ?? []) {
      const label = `vdb linear, query --stdin, ${v.label}`;
      if (v.error) e.push([label, { colSpan: 4, content: `FAILED: ${String(v.error).slice(0, 100)}` }]);
      else e.push([`${label}${v.sameAsOneAtATime === false ? ' (OUTPUT DIFFERS)' : ''}`, `${f0(v.qps)} (${f0(v.steadyQps)} after start-up)`, gb(v.steadyQps).toFixed(2), gflops(v.steadyQps), vsBrute(v.steadyQps)]);
    }
    const np = d.n === SYNTH[d.dataset] || (d.dataset === 'wordnet' && d.n === 30000) ? NUMPY_BLAS.qps[d.dataset] : undefined;
    if (np) e.push(['numpy BLAS batched, 2 threads (constant, see below)', f0(np), gb(np).toFixed(2), gflops(np), bruteQps ? `${(np / bruteQps).toFixed(1)}× (other run)` : '']);
    console.log(`\n${name}: exact search`);
    console.log(e.toString());
    if (lin.stdinBatched) console.log(`--stdin variants: ${lin.stdinBatched.lines} lines; "after start-up" subtracts a one-line run (${f0(lin.stdinBatched.startupMs)} ms: node start, snapshot load, one query). GFLOP/s = 2·n·dim per query.`);
    if (np) console.log(`numpy constant: ${NUMPY_BLAS.source}; not re-measured here (no Python in the bench).`);
    d.exact = {
      bruteQps: bruteQps ?? null,
      bruteGBps: bruteQps ? gb(bruteQps) : null,
      linearQps: lin.qps,
      linearGBps: gb(lin.qps),
      linearVsBrute: bruteQps ? lin.qps / bruteQps : null,
      linearStdinQps: lin.qpsStdin ?? null,
      linearBatched: lin.build?.batched ?? null,
      linearStdinBatched: lin.stdinBatched ?? null,
      numpyQps: np ?? null,
    };
  }

  console.log('');
  const g = makeTable(['other figures', 'value']);
  if (d.ingest) {
    const ing = d.ingest;
    g.push([`vdb chunk add --stdin, ${d.n} rows`, ing.code === 0 ? `${s(ing.wallMs)} s wall (${f0(ing.rowsPerSec)} rows/s), peak RSS ${mb(ing.maxRssKb * 1024)} MB, snapshot ${mb(ing.snapshotBytes)} MB` : `FAILED: ${ing.error}`]);
  }
  if (d.apiIngest) {
    const a = d.apiIngest;
    g.push([`vdb addChunks (service API), ${d.n} rows`, a.error ? `FAILED after ${s(a.wallMs)} s, peak RSS ${mb(a.maxRssKb * 1024)} MB: ${String(a.error).slice(0, 120)}` : `${s(a.ingestApiMs)} s, peak RSS ${mb(a.maxRssKb * 1024)} MB, snapshot ${mb(a.fileBytes)} MB`]);
  }
  g.push(['raw vector bytes (n × dim × 4)', `${mb(d.rawVectorBytes)} MB`]);
  const cli = d.rows.find((r) => r.system === 'sqlite3 CLI');
  if (cli) g.push(['sqlite3 CLI cold KNN (start + .load vec0 + scan)', cli.error ? cli.error : `${f0(cli.coldMs)} ms (select 1 alone: ${f0(cli.startMs)} ms)`]);
  const coldBest = vdb.filter((r) => r.coldMs).sort((a, b) => a.coldMs - b.coldMs)[0];
  if (coldBest) {
    const vsCli = cli?.coldMs ? `, ${(coldBest.coldMs / cli.coldMs).toFixed(1)}× the sqlite3 CLI` : '';
    g.push(['vdb fastest cold query process', `${f0(coldBest.coldMs)} ms (${coldBest.index} ${coldBest.setting})${vsCli}`]);
  }
  for (const r of vdb.filter((x) => x.oneAdd)) {
    g.push([`vdb chunk add of one chunk, ${r.index} ${r.setting}`, `${f0(r.oneAdd.wallMs)} ms wall, ${f0(r.oneAdd.cpuMs)} ms CPU (median of ${r.oneAdd.runs.length})`]);
  }
  for (const r of vdb.filter((x) => x.buildMaxRssKb && !x.sharedBuild && !x.exact)) {
    g.push([`vdb ${r.index} build peak RSS (load, build, write; no harness data), ${r.setting}`, `${mb(r.buildMaxRssKb * 1024)} MB = ${((r.buildMaxRssKb * 1024) / d.rawVectorBytes).toFixed(2)}× raw vectors, ${s(r.buildMs)} s`]);
  }
  if (d.apiIngest && !d.apiIngest.error && d.apiIngest.maxRssKb) {
    const vdbOwn = d.apiIngest.maxRssKb * 1024 - d.rawVectorBytes;
    g.push([`vdb addChunks peak RSS less the caller's vectors`, `${mb(vdbOwn)} MB = ${(vdbOwn / d.rawVectorBytes).toFixed(2)}× raw vectors`]);
  }
  for (const r of vdb.filter((x) => x.maxRssKb)) {
    g.push([`vdb query --stdin peak RSS, ${r.index} ${r.setting}`, `${mb(r.maxRssKb * 1024)} MB = ${((r.maxRssKb * 1024) / d.rawVectorBytes).toFixed(2)}× raw vectors`]);
  }
  console.log(g.toString());
}

/** cli-table3 box table, or a GitHub markdown table with --markdown. */
function makeTable(head) {
  if (!cfg.markdown) return new Table({ head, style: { head: [], border: [] } });
  const rows = [];
  const esc = (c) => String(typeof c === 'object' && c !== null ? c.content : c).replace(/\|/g, '\\|');
  return {
    push: (...r) => rows.push(...r),
    toString: () => [head, head.map(() => '---'), ...rows].map((r) => `| ${r.map(esc).join(' | ')} |`).join('\n'),
  };
}

function lastLines(text, n = 2) {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ').slice(0, 300) || 'no output';
}
function s(ms) {
  return ms === undefined || ms === null || Number.isNaN(ms) ? '' : (ms / 1000).toFixed(2);
}
function f0(x) {
  return x === undefined || x === null || Number.isNaN(x) ? '' : Math.round(x).toLocaleString('en-US');
}
function f4(x) {
  return x === undefined || x === null || Number.isNaN(x) ? '' : x.toFixed(4);
}
function mb(bytes) {
  return bytes === undefined || bytes === null || Number.isNaN(bytes) || bytes === 0 ? '' : (bytes / 1e6).toFixed(1);
}
