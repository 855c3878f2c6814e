/**
 * One measurement in a fresh process, so peak RSS and load times belong to one
 * system only. Usage: node bench/worker.mjs '<json task>'; the last stdout line
 * is the JSON result, progress goes to stderr.
 *
 * Tasks: {task: 'build', system, ...} builds, saves and queries in process;
 *        {task: 'load', system, ...} times opening a saved index in this fresh process.
 */
import { statSync } from 'node:fs';
import { copySnapshot, snapshotBytes } from './lib/snapshot-files.mjs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { bruteTopK } from './lib/brute.mjs';
import { cosFromBase, loadDataset, recallAtK } from './lib/data.mjs';
import { filteredRecall, filteredTruth, filterShapes, metadataOf, planLabel, qpsAtRecall, syntheticMetadata } from './lib/filtered.mjs';

const require = createRequire(import.meta.url);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const K = 10;
const cfg = JSON.parse(process.argv[2]);
function log(msg) {
  process.stderr.write(`  [${cfg.system}] ${msg}\n`);
}

function now() {
  return performance.now();
}

const tasks = {
  ingest: { vdb: ingestVdb },
  build: { vdb: buildVdb, brute: buildBrute, hnswlib: buildHnswlib, usearch: buildUsearch, sqlitevec: buildSqliteVec },
  filtered: { vdb: filteredVdb },
  query: { vdb: queryVdb },
  load: { vdb: loadVdb, hnswlib: loadHnswlib, usearch: loadUsearch, sqlitevec: loadSqliteVec },
};

const fn = tasks[cfg.task]?.[cfg.system];
if (!fn) throw new Error(`no task ${cfg.task} for ${cfg.system}`);
let result;
try {
  result = await fn(cfg);
} catch (err) {
  result = { error: `${err.name}: ${err.message}` };
  log(err.stack);
}
result.selfMaxRssKb = process.resourceUsage().maxRSS;
process.stdout.write(`\n${JSON.stringify(result)}\n`);

// ---- helpers -------------------------------------------------------------

function dataset(withBase = true) {
  return loadDataset(cfg.dataset.name, cfg.dataset.dir, { withBase });
}

/**
 * Runs `search(q)` → rows for nq queries after a warm-up of nq/10 (at most 50); QPS counts only the timed
 * loop, and is the median of `cfg.repeats` passes (lower median for an even count).
 * Async searches are awaited one at a time.
 */
async function timeQueries(ds, nq, search, isAsync = false) {
  const warm = Math.min(50, Math.ceil(nq / 10)); // untimed; exact scans over 1M rows cost ~0.5 s each
  for (let q = 0; q < warm; q++) (isAsync ? await search(q) : search(q));
  const results = new Array(nq);
  const runs = [];
  for (let rep = 0; rep < (cfg.repeats ?? 1); rep++) {
    const t0 = now();
    if (isAsync) for (let q = 0; q < nq; q++) results[q] = await search(q);
    else for (let q = 0; q < nq; q++) results[q] = search(q);
    runs.push((nq * 1000) / (now() - t0));
  }
  const qps = [...runs].sort((a, b) => a - b)[(runs.length - 1) >> 1];
  const recall = ds.base ? recallAtK(ds, results, K, cosFromBase(ds)) : null;
  return { nq, qps, qpsRuns: runs, msPerQuery: 1000 / qps, recall };
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function qView(ds, q) {
  return ds.queries.subarray(q * ds.dim, (q + 1) * ds.dim);
}

function fileBytes(p) {
  return snapshotBytes(p);
}

// ---- vdb ----------------------------------------------------------------

async function vdbService(path) {
  const { VdbService } = await import(`${ROOT}/dist/service/service.js`);
  return new VdbService({ path, seed: 'bench' });
}

/** Adds every base row as a chunk with metadata {row, ...the filter fields of lib/filtered.mjs}, in one addChunks call. */
export async function ingestApi(svc, ds) {
  await svc.createLibrary({ name: 'bench', dim: ds.dim, metric: 'cosine', embedder: null });
  const meta = syntheticMetadata(ds);
  const items = new Array(ds.n);
  for (let r = 0; r < ds.n; r++) items[r] = { text: '', embedding: ds.base.subarray(r * ds.dim, (r + 1) * ds.dim), metadata: metadataOf(meta, r) };
  await svc.addChunks('bench', items);
}

/** API ingest into a fresh snapshot, for datasets too big for the NDJSON run. */
async function ingestVdb(c) {
  const ds = dataset();
  const svc = await vdbService(c.snapshot);
  const t = now();
  await ingestApi(svc, ds);
  const ingestApiMs = now() - t;
  log(`API ingest of ${ds.n} rows: ${(ingestApiMs / 1000).toFixed(1)} s`);
  return { ingestApiMs, fileBytes: fileBytes(c.snapshot) };
}

async function buildVdb(c) {
  // With buildOnly the vectors are not read in here: the peak RSS is the build's own.
  const ds = c.buildOnly ? null : dataset();
  const out = { type: c.type, params: c.params };
  if (c.baseSnapshot) copySnapshot(c.baseSnapshot, c.snapshot);
  let svc = await vdbService(c.snapshot);
  if (!c.baseSnapshot) {
    const t = now();
    await ingestApi(svc, ds);
    out.ingestApiMs = now() - t;
    log(`API ingest of ${ds.n} rows: ${(out.ingestApiMs / 1000).toFixed(1)} s`);
  }
  // A no-op update costs what buildIndex costs around the index: load, encode, write.
  svc = await vdbService(c.snapshot);
  let t = now();
  await svc.store.update(() => undefined);
  out.rewriteMs = now() - t;
  t = now();
  await svc.buildIndex('bench', { type: c.type, params: c.params, full: true });
  out.buildMs = now() - t;
  out.indexBuildMs = Math.max(0, out.buildMs - out.rewriteMs);
  out.indexParams = svc.indexInfo('bench').index?.params ?? null;
  out.fileBytes = fileBytes(c.snapshot);
  log(`${c.type} ${JSON.stringify(c.params)}: buildIndex ${(out.buildMs / 1000).toFixed(1)} s (snapshot rewrite ${(out.rewriteMs / 1000).toFixed(1)} s)`);
  if (c.buildOnly) return out;
  const session = await svc.querySession('bench');
  out.query = await timeQueries(ds, c.nQueries, async (q) => (await session.query({ embedding: qView(ds, q), k: K })).hits.map((h) => h.metadata.row), true);
  log(`${c.type}: ${out.query.qps.toFixed(1)} q/s, recall@10 ${out.query.recall.toFixed(4)}`);
  if (c.batched) out.batched = await timeBatched(svc, ds, c.batched);
  return out;
}

/** In-process queries on a built snapshot at a per-query ef: one hnsw build serves every ef_search of the grid. */
async function queryVdb(c) {
  const ds = dataset();
  const svc = await vdbService(c.snapshot);
  const session = await svc.querySession('bench');
  // In memory, as right after the build (and as the peers' indexes are): no first reads in the timing. preload
  // reads the rows and the graph; the records of the hits come in one read too (else the first pass reads them
  // one by one, and at 10k rows took half its time doing so).
  session.lib.preload(true);
  void session.lib.chunks.length;
  const query = await timeQueries(ds, c.nQueries, async (q) => (await session.query({ embedding: qView(ds, q), k: K, ef: c.ef })).hits.map((h) => h.metadata.row), true);
  log(`ef ${c.ef}: ${query.qps.toFixed(1)} q/s, recall@10 ${query.recall.toFixed(4)}`);
  return { query };
}

/**
 * Every query through `queryBatch` in batches of `batch` on `threads` threads: the in-process
 * counterpart of numpy's figure (queries already parsed and validated; one untimed batch first
 * starts the workers).
 */
async function timeBatched(svc, ds, settings) {
  const out = [];
  for (const { batch, threads } of settings) {
    const session = await svc.querySession('bench', { threads });
    const prepared = [];
    for (let q = 0; q < ds.nq; q++) prepared.push(await session.prepare({ embedding: qView(ds, q), k: K }));
    await session.queryBatch(prepared.slice(0, batch));
    const results = [];
    const t = now();
    for (let i = 0; i < prepared.length; i += batch) for (const r of await session.queryBatch(prepared.slice(i, i + batch))) results.push(r.hits.map((h) => h.metadata.row));
    const qps = (prepared.length * 1000) / (now() - t);
    await session.close();
    out.push({ batch, threads, qps, recall: recallAtK(ds, results, K, cosFromBase(ds)) });
    log(`queryBatch, batches of ${batch}, ${threads} thread(s): ${qps.toFixed(0)} q/s`);
  }
  return out;
}

/**
 * Filtered search on a built snapshot: each shape of lib/filtered.mjs with
 * its recall against the exact filtered truth, q/s and the plan vdb chose,
 * next to a post-filter baseline (the 10·k nearest unfiltered, then the
 * matching ones), and the unfiltered recall/q/s curve measured in the same
 * process (so "the unfiltered speed at the same recall" shares its load).
 */
async function filteredVdb(c) {
  const ds = dataset();
  const meta = syntheticMetadata(ds);
  const svc = await vdbService(c.snapshot);
  const session = await svc.querySession('bench');
  // Steady state: every float row in memory, so neither the unfiltered nor the filtered queries pay first reads of
  // the rows they re-score (the unfiltered curve runs first and would warm only its own).
  session.lib.preload(true);
  const nq = Math.min(c.nQueries, ds.nq);
  const rowsOf = (res) => res.hits.map((h) => h.metadata.row);
  const timed = async (qs, input) => {
    for (const q of qs.slice(0, Math.min(20, qs.length))) await session.query(input(q));
    const results = [];
    const t = now();
    for (const q of qs) results.push(rowsOf(await session.query(input(q))));
    return { results, qps: (qs.length * 1000) / (now() - t) };
  };
  // Filtered and unfiltered queries alternate in blocks of 10, and each figure is the median over the blocks: a
  // stall of the shared machine (tens of ms) spoils a block or two, not the figure.
  const paired = async (qs, a, b) => {
    for (const q of qs.slice(0, Math.min(20, qs.length))) await session.query(a(q));
    const results = [];
    const rates = [];
    const otherRates = [];
    const ratios = [];
    for (let i = 0; i < qs.length; i += 10) {
      const block = qs.slice(i, i + 10);
      let t = now();
      for (const q of block) results.push(rowsOf(await session.query(a(q))));
      const ta = now() - t;
      t = now();
      for (const q of block) await session.query(b(q));
      const tb = now() - t;
      rates.push((block.length * 1000) / ta);
      otherRates.push((block.length * 1000) / tb);
      ratios.push(tb / ta);
    }
    return { results, qps: median(rates), otherQps: median(otherRates), ratio: median(ratios) };
  };
  const meanRecall = (qs, results, truths) => qs.reduce((s, q, i) => s + filteredRecall(ds, q, results[i], truths[i]), 0) / Math.max(1, qs.length);
  const everyQuery = Array.from({ length: nq }, (_, q) => q);
  const unfilteredTruth = everyQuery.map((q) => filteredTruth(ds, q, K, () => true, []));
  const curve = [];
  for (const ef of c.curveEfs ?? [undefined]) {
    const { results, qps } = await timed(everyQuery, (q) => ({ embedding: qView(ds, q), k: K, ef }));
    curve.push({ ef: ef ?? null, qps, recall: meanRecall(everyQuery, results, unfilteredTruth) });
    log(`unfiltered${ef ? ` ef ${ef}` : ''}: ${qps.toFixed(0)} q/s, recall@10 ${curve.at(-1).recall.toFixed(4)}`);
  }
  const base = curve.find((p) => p.ef === (c.ef ?? null)) ?? curve[0];
  const shapes = [];
  // `shapes`: labels (prefixes) to run, for profiling one shape; every shape by default.
  for (const shape of filterShapes(meta, ds).filter((s) => !c.shapes || c.shapes.some((p) => s.label.startsWith(p)))) {
    const qs = everyQuery.filter(shape.use);
    const matching = [];
    for (let r = 0; r < ds.n; r++) if (shape.test(r)) matching.push(r);
    const truths = qs.map((q) => filteredTruth(ds, q, K, shape.test, matching));
    const need = Math.min(K, matching.length);
    const f = await paired(
      qs,
      (q) => ({ embedding: qView(ds, q), k: K, ef: c.ef, filter: shape.filter }),
      (q) => ({ embedding: qView(ds, q), k: K, ef: c.ef }),
    );
    const recall = meanRecall(qs, f.results, truths);
    const explain = (await session.query({ embedding: qView(ds, qs[0]), k: K, ef: c.ef, filter: shape.filter, explain: true })).explain;
    const row = {
      label: shape.label,
      filter: shape.filter,
      queries: qs.length,
      matches: matching.length,
      recall,
      qps: f.qps,
      short: f.results.filter((r) => r.length < need).length,
      plan: planLabel(explain),
      search: explain.search,
      reason: explain.reason,
      // The unfiltered q/s of the same queries, measured alternately with them.
      unfilteredQps: f.otherQps,
      vsUnfiltered: f.ratio,
      // The curve's q/s at this recall, scaled by how the machine's speed moved since the curve (same queries at the base ef).
      unfilteredQpsAtRecall: qpsAtRecall(curve, recall) * (f.otherQps / base.qps),
    };
    row.vsUnfilteredAtRecall = row.unfilteredQpsAtRecall ? f.qps / row.unfilteredQpsAtRecall : null;
    if (c.postFilter) {
      const kk = 10 * K;
      const p = await timed(qs, (q) => ({ embedding: qView(ds, q), k: kk, ef: c.ef === undefined ? undefined : Math.max(c.ef, kk) }));
      const kept = p.results.map((rows) => rows.filter(shape.test).slice(0, K));
      row.postFilter = { k: kk, recall: meanRecall(qs, kept, truths), qps: p.qps, short: kept.filter((r) => r.length < need).length };
    }
    log(`${shape.label}: ${matching.length} match, recall ${recall.toFixed(4)}, ${f.qps.toFixed(0)} q/s (${row.vsUnfiltered.toFixed(2)}× unfiltered), short ${row.short}, ${row.plan}${row.postFilter ? `; post-filter k'=${row.postFilter.k}: recall ${row.postFilter.recall.toFixed(4)}, ${row.postFilter.qps.toFixed(0)} q/s, short ${row.postFilter.short}` : ''}`);
    shapes.push(row);
  }
  await session.close();
  return { type: c.type, ef: c.ef ?? null, nq, curve, unfiltered: base, shapes };
}

async function loadVdb(c) {
  const t0 = now();
  const svc = await vdbService(c.snapshot);
  const t1 = now();
  const session = await svc.querySession('bench');
  const t2 = now();
  const ds = dataset(false);
  const t3 = now();
  await session.query({ embedding: qView(ds, 0), k: K });
  return { importMs: t1 - t0, loadMs: t2 - t1, firstQueryMs: now() - t3 };
}

// ---- brute force ----------------------------------------------------------

async function buildBrute(c) {
  const ds = dataset();
  const q = await timeQueries(ds, c.nQueries, (q) => bruteTopK(ds.base, ds.n, ds.dim, qView(ds, q), K));
  q.gbps = (q.qps * ds.n * ds.dim * 4) / 1e9;
  log(`${q.qps.toFixed(1)} q/s, ${q.gbps.toFixed(2)} GB/s, recall@10 ${q.recall.toFixed(4)}`);
  return { query: q };
}

// ---- hnswlib-node ---------------------------------------------------------

async function buildHnswlib(c) {
  const { HierarchicalNSW } = require('hnswlib-node');
  const ds = dataset();
  const index = new HierarchicalNSW('ip', ds.dim);
  index.initIndex(ds.n, c.m, c.efConstruction, 100);
  let t = now();
  const step = Math.max(1, Math.ceil(ds.n / 10));
  for (let r = 0; r < ds.n; r++) {
    index.addPoint(Array.from(ds.base.subarray(r * ds.dim, (r + 1) * ds.dim)), r);
    if ((r + 1) % step === 0 && r + 1 < ds.n) log(`${r + 1} rows added, ${((now() - t) / 1000).toFixed(0)} s`);
  }
  const buildMs = now() - t;
  log(`built ${ds.n} in ${(buildMs / 1000).toFixed(1)} s`);
  t = now();
  index.writeIndexSync(c.file);
  const saveMs = now() - t;
  const qs = Array.from({ length: ds.nq }, (_, q) => Array.from(qView(ds, q)));
  const grid = [];
  for (const ef of c.efSearch) {
    index.setEf(ef);
    const r = await timeQueries(ds, c.nQueries, (q) => index.searchKnn(qs[q], K).neighbors);
    log(`ef ${ef}: ${r.qps.toFixed(0)} q/s, recall@10 ${r.recall.toFixed(4)}`);
    grid.push({ setting: { ef }, ...r });
  }
  return { buildMs, saveMs, fileBytes: fileBytes(c.file), grid };
}

async function loadHnswlib(c) {
  const { HierarchicalNSW } = require('hnswlib-node');
  const ds = dataset(false);
  const index = new HierarchicalNSW('ip', ds.dim);
  const t = now();
  index.readIndexSync(c.file);
  const loadMs = now() - t;
  const t1 = now();
  index.searchKnn(Array.from(qView(ds, 0)), K);
  return { loadMs, firstQueryMs: now() - t1 };
}

// ---- usearch ----------------------------------------------------------------

function usearchIndex(dim, expansionSearch) {
  const { Index } = require('usearch');
  return new Index({ dimensions: dim, metric: 'ip', quantization: 'f32', connectivity: 16, expansion_add: 128, expansion_search: expansionSearch, multi: false });
}

async function buildUsearch(c) {
  const ds = dataset();
  let index = usearchIndex(ds.dim, 64);
  const keys = new BigUint64Array(ds.n);
  for (let r = 0; r < ds.n; r++) keys[r] = BigInt(r);
  let t = now();
  // Every core, as vdb's build (hnswlib-node's addPoint has no threads).
  const threads = availableParallelism();
  index.add(keys, ds.base, threads);
  const buildMs = now() - t;
  log(`built ${ds.n} in ${(buildMs / 1000).toFixed(1)} s (${threads} threads)`);
  t = now();
  index.save(c.file);
  const saveMs = now() - t;
  index = null;
  await freeNative();
  const grid = [];
  for (const es of c.expansionSearch) {
    // A fresh index per setting (expansion_search is fixed at construction), freed before the next: at 1M × 384
    // each holds 1.6 GB outside the JS heap, and eleven of them alive at once were killed for memory.
    let idx = usearchIndex(ds.dim, es);
    t = now();
    idx.load(c.file);
    const loadMs = now() - t;
    const r = await timeQueries(ds, c.nQueries, (q) => Array.from(idx.search(qView(ds, q), K, 1).keys, Number));
    log(`expansion_search ${es}: ${r.qps.toFixed(0)} q/s, recall@10 ${r.recall.toFixed(4)}`);
    grid.push({ setting: { expansion_search: es }, loadMs, ...r });
    idx = null;
    await freeNative();
  }
  return { buildMs, saveMs, fileBytes: fileBytes(c.file), grid };
}

/**
 * Frees the native memory of dropped usearch indexes now: a full collection (the worker runs with --expose-gc), a
 * turn of the event loop for their finalizers, another collection (without the turn nothing is freed).
 */
async function freeNative() {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 0));
  globalThis.gc?.();
}

async function loadUsearch(c) {
  const ds = dataset(false);
  const idx = usearchIndex(ds.dim, 64);
  let t = now();
  idx.load(c.file);
  const loadMs = now() - t;
  const viewed = usearchIndex(ds.dim, 64);
  t = now();
  viewed.view(c.file);
  const viewMs = now() - t;
  t = now();
  idx.search(qView(ds, 0), K, 1);
  return { loadMs, viewMs, firstQueryMs: now() - t };
}

// ---- sqlite-vec through better-sqlite3 ---------------------------------------

function openSqlite(file) {
  const Database = require('better-sqlite3');
  const db = new Database(file);
  require('sqlite-vec').load(db);
  return db;
}

async function buildSqliteVec(c) {
  const ds = dataset();
  const db = openSqlite(c.file);
  db.exec(`create virtual table vec_items using vec0(embedding float[${ds.dim}])`);
  const ins = db.prepare('insert into vec_items(rowid, embedding) values (?, ?)');
  const buf = Buffer.from(ds.base.buffer, ds.base.byteOffset, ds.base.byteLength);
  const t = now();
  db.transaction(() => {
    for (let r = 0; r < ds.n; r++) ins.run(BigInt(r), buf.subarray(r * ds.dim * 4, (r + 1) * ds.dim * 4));
  })();
  const buildMs = now() - t;
  log(`inserted ${ds.n} in ${(buildMs / 1000).toFixed(1)} s`);
  const knn = db.prepare(`select rowid, distance from vec_items where embedding match ? and k = ${K}`);
  const qbuf = Buffer.from(ds.queries.buffer, ds.queries.byteOffset, ds.queries.byteLength);
  const r = await timeQueries(ds, c.nQueries, (q) => knn.all(qbuf.subarray(q * ds.dim * 4, (q + 1) * ds.dim * 4)).map((x) => Number(x.rowid)));
  log(`${r.qps.toFixed(1)} q/s, recall@10 ${r.recall.toFixed(4)}`);
  db.close();
  return { buildMs, fileBytes: fileBytes(c.file), query: r };
}

async function loadSqliteVec(c) {
  const t = now();
  const db = openSqlite(c.file);
  const ds = dataset(false);
  const knn = db.prepare(`select rowid from vec_items where embedding match ? and k = ${K}`);
  knn.all(Buffer.from(qView(ds, 0).slice().buffer));
  return { loadMs: null, firstQueryMs: now() - t };
}
