/**
 * `npm run bench -- --retrieval`: does an embedder find meaning? On WordNet
 * glosses (../shared/data/wordnet-lsa384/texts.jsonl, "definition; \"usage
 * example\"; …"), each query is a gloss's first quoted usage example and its
 * answer is that gloss's definition, among the definitions of all 30k
 * glosses. Reports recall@10 and MRR@10 per retriever, the ingest rate
 * (texts/s through VdbService.addChunks, embedding included) and the cold
 * `vdb query --text` time of each embedder's library.
 *
 * Retrievers are rows of RETRIEVERS; BM25 and hybrid use src/text directly until
 * `vdb query --mode text|hybrid` exists, when they should go through it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VDB = join(ROOT, 'bin', 'vdb');
const K = 10;

/** ../shared beside the repository (CI, the main checkout), else the workplace's copy (worktrees). */
function shared(...parts) {
  const beside = join(ROOT, '..', 'shared', ...parts);
  return existsSync(beside) ? beside : join('/work/shared', ...parts);
}

const { values: opt } = parseArgs({
  options: {
    retrieval: { type: 'boolean' },
    data: { type: 'string', default: shared('data', 'wordnet-lsa384') },
    queries: { type: 'string', default: '1000' },
    local: { type: 'string', default: shared('models', 'tiny-random-bert') },
    'cold-runs': { type: 'string', default: '7' },
    // The local smoke row embeds 30k texts with ONNX: minutes on 2 cores.
    'skip-local': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'retrieval.json') },
  },
  allowPositionals: false,
});

/** Splits "definition; \"example\"; …" into the definition and its quoted examples. */
export function splitGloss(text) {
  const examples = [...text.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim()).filter((e) => e.length > 0);
  const cut = text.search(/;?\s*"/);
  const definition = (cut >= 0 ? text.slice(0, cut) : text).trim().replace(/;$/, '');
  return { definition, examples };
}

function loadTask(dir, nQueries) {
  const path = join(dir, 'texts.jsonl');
  if (!existsSync(path)) throw new Error(`no ${path}: pass --data DIR (the wordnet-lsa384 folder)`);
  const docs = [];
  const candidates = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const { id, text } = JSON.parse(line);
    const { definition, examples } = splitGloss(text);
    if (!definition) continue;
    if (examples.length > 0) candidates.push({ answer: docs.length, text: examples[0] });
    docs.push({ id, text: definition });
  }
  // Every (candidates/n)-th gloss with an example: a fixed, spread-out sample.
  const step = Math.max(1, Math.floor(candidates.length / nQueries));
  const queries = candidates.filter((_, i) => i % step === 0).slice(0, nQueries);
  return { docs, queries };
}

/** Candidates each retriever keeps per query: what hybrid fusion draws on. */
const DEPTH = 100;

/** recall@K and MRR@K of ranked lists ({key: doc row, score}, best first) against each query's answer row. */
function score(ranked, queries) {
  let hits = 0;
  let rr = 0;
  ranked.forEach((list, i) => {
    const at = list.findIndex((h) => h.key === queries[i].answer);
    if (at >= 0 && at < K) {
      hits++;
      rr += 1 / (at + 1);
    }
  });
  return { recall: hits / queries.length, mrr: rr / queries.length };
}

async function embedderRetriever(name, spec, env = {}) {
  return {
    name,
    spec,
    async run(docs, queries, workDir) {
      Object.assign(process.env, env);
      const { VdbService } = await import(join(ROOT, 'dist', 'service', 'service.js'));
      const db = join(workDir, `${name.replace(/\W+/g, '_')}.json`);
      const svc = new VdbService({ path: db, seed: 'retrieval' });
      await svc.createLibrary({ name: 'r', embedder: spec });
      // Texts this embedder cannot embed (glove: no known word) are left out; their queries count as misses.
      const { openEmbedder } = await import(join(ROOT, 'dist', 'embed', 'registry.js'));
      const lib = svc.getLibrary('r');
      const embedder = await openEmbedder(lib.embedder, lib.dim);
      const usable = async (text) => embedder.embed([text], 'document').then(() => true, () => false);
      let kept = docs.map((_, i) => i);
      let t0 = performance.now();
      let added;
      try {
        added = await svc.addChunks('r', docs.map((d) => ({ text: d.text })));
      } catch {
        const ok = await Promise.all(docs.map((d) => usable(d.text)));
        kept = kept.filter((i) => ok[i]);
        t0 = performance.now();
        added = await svc.addChunks('r', kept.map((i) => ({ text: docs[i].text })));
      }
      const ingestS = (performance.now() - t0) / 1000;
      const row = new Map(added.map((c, j) => [c.id, kept[j]]));
      const session = await svc.querySession('r');
      const prepared = [];
      for (const q of queries) prepared.push(await session.prepare({ text: q.text, k: DEPTH }).catch(() => null));
      const answered = await session.queryBatch(prepared.filter((p) => p !== null));
      await session.close();
      let at = 0;
      const ranked = prepared.map((p) => (p === null ? [] : answered[at++].hits.map((h) => ({ key: row.get(h.id), score: -h.distance }))));
      return { ranked, ingest_texts_per_s: Math.round(kept.length / ingestS), left_out: { docs: docs.length - kept.length, queries: prepared.filter((p) => p === null).length }, db, env };
    },
  };
}

/** Median wall time of a fresh `vdb query --text` process on the retriever's library. */
function coldQuery(db, env, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [VDB, '--db', db, 'query', '--lib', 'r', '--text', 'a building where sick people are treated', '-k', '10'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[times.length >> 1]);
}

/** BM25 over the same definitions (src/text: its analyzer, k1 1.2, b 0.75). */
function bm25Retriever() {
  return {
    name: 'BM25',
    spec: null,
    async run(docs, queries) {
      const { Bm25Index } = await import(join(ROOT, 'dist', 'text', 'bm25.js'));
      const { analyze } = await import(join(ROOT, 'dist', 'text', 'tokenizer.js'));
      const t0 = performance.now();
      const index = Bm25Index.create();
      docs.forEach((d, i) => index.add(i, analyze(d.text)));
      const ingestS = (performance.now() - t0) / 1000;
      const ranked = queries.map((q) => index.search(analyze(q.text), DEPTH));
      return { ranked, ingest_texts_per_s: Math.round(docs.length / ingestS) };
    },
  };
}

/** Reciprocal rank fusion of two earlier rows' candidate lists (src/text/fusion.ts). */
function hybridRetriever(vectorName, textName) {
  return {
    name: `hybrid ${vectorName} + ${textName} (RRF)`,
    spec: null,
    async run(docs, queries, workDir, done) {
      const v = done.get(vectorName);
      const t = done.get(textName);
      if (!v || !t) throw new Error(`needs the ${vectorName} and ${textName} rows`);
      const { fuse } = await import(join(ROOT, 'dist', 'text', 'fusion.js'));
      return { ranked: queries.map((_, i) => fuse(v[i], t[i], K, { method: 'rrf', alpha: 0.5 })), ingest_texts_per_s: null };
    },
  };
}

export const RETRIEVERS = [
  () => embedderRetriever('letters', 'letters'),
  () => embedderRetriever('glove', 'glove'),
  // Random weights: a smoke row for the local path and its ingest rate, not a quality figure.
  ...(opt['skip-local'] ? [] : [() => embedderRetriever('local tiny-random-bert (smoke)', `local:${opt.local}`)]),
  () => bm25Retriever(),
  () => hybridRetriever('glove', 'BM25'),
];

async function main() {
  const { docs, queries } = loadTask(opt.data, Number(opt.queries));
  process.stderr.write(`retrieval: ${queries.length} usage examples against ${docs.length} definitions, recall@${K} and MRR@${K}\n`);
  const work = mkdtempSync(join(tmpdir(), 'vdb-retrieval-'));
  const rows = [];
  const done = new Map();
  try {
    for (const make of RETRIEVERS) {
      const r = await make();
      let result;
      try {
        result = await r.run(docs, queries, work, done);
        result.cold_query_ms = result.db ? coldQuery(result.db, result.env, Number(opt['cold-runs'])) : null;
      } catch (err) {
        process.stderr.write(`retrieval: ${r.name}: skipped: ${err.message}\n`);
        continue;
      }
      done.set(r.name, result.ranked);
      const { db, env, ranked, ...rest } = result;
      const shown = { ...score(ranked, queries), ...rest };
      rows.push({ retriever: r.name, spec: r.spec, ...shown });
      process.stderr.write(`${r.name}: ${JSON.stringify(shown)}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync(dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, `${JSON.stringify({ date: new Date().toISOString(), queries: queries.length, docs: docs.length, k: K, rows }, null, 2)}\n`);
  console.log('| retriever | recall@10 | MRR@10 | ingest texts/s | cold vdb query --text (ms) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.retriever} | ${r.recall.toFixed(3)} | ${r.mrr.toFixed(3)} | ${r.ingest_texts_per_s?.toLocaleString('en-US') ?? '-'} | ${r.cold_query_ms ?? '-'} |`);
}

await main();
