/**
 * `npm run bench -- --retrieval`: does an embedder find meaning? On WordNet
 * glosses (../shared/data/wordnet-lsa384/texts.jsonl, "definition; \"usage
 * example\"; …"), each query is a gloss's first quoted usage example and its
 * answer is that gloss's definition, among the definitions of all 30k
 * glosses. Per embedder, one library of the definitions (its full-text index
 * built too), queried through the real query path in each mode: vector, text
 * (BM25) and hybrid with each fusion of MODES. Reports recall@10 and MRR@10
 * per embedder and mode, the ingest rate (texts/s through
 * VdbService.addChunks, embedding included), the full-text index's build
 * time and size, and cold `vdb query` times.
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

/** The query modes measured on each embedder's library: the defaults first, then the fusions to choose among. */
const MODES = [
  { label: 'vector', query: { mode: 'vector' } },
  { label: 'text (BM25)', query: { mode: 'text' } },
  { label: 'hybrid, rrf', query: { mode: 'hybrid', fusion: 'rrf' } },
  { label: 'hybrid, score α=0.2', query: { mode: 'hybrid', fusion: 'score', alpha: 0.2 } },
  { label: 'hybrid, score α=0.3', query: { mode: 'hybrid', fusion: 'score', alpha: 0.3 } },
  { label: 'hybrid, score α=0.4', query: { mode: 'hybrid', fusion: 'score', alpha: 0.4 } },
  { label: 'hybrid, score α=0.5', query: { mode: 'hybrid', fusion: 'score', alpha: 0.5 } },
  { label: 'hybrid, score α=0.7', query: { mode: 'hybrid', fusion: 'score', alpha: 0.7 } },
];

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
      t0 = performance.now();
      const built = await svc.buildIndex('r', { text: true });
      const textBuildS = (performance.now() - t0) / 1000;
      const row = new Map(added.map((c, j) => [c.id, kept[j]]));
      const modes = [];
      for (const m of MODES) {
        const session = await svc.querySession('r');
        const prepared = [];
        for (const q of queries) prepared.push(await session.prepare({ text: q.text, k: K, ...m.query }).catch(() => null));
        t0 = performance.now();
        const answered = await session.queryBatch(prepared.filter((p) => p !== null));
        const queryS = (performance.now() - t0) / 1000;
        await session.close();
        let at = 0;
        const ranked = prepared.map((p) => (p === null ? [] : answered[at++].hits.map((h) => ({ key: row.get(h.id) }))));
        modes.push({ mode: m.label, ...score(ranked, queries), queries_per_s: Math.round(answered.length / queryS), left_out_queries: prepared.filter((p) => p === null).length });
      }
      return {
        modes,
        ingest_texts_per_s: Math.round(kept.length / ingestS),
        text_index: { build_texts_per_s: Math.round(kept.length / textBuildS), bytes: built.text_index.bytes, terms: built.text_index.terms },
        left_out_docs: docs.length - kept.length,
        db,
        env,
      };
    },
  };
}

/** Median wall time of a fresh `vdb query --text T [--mode M]` process on the retriever's library. */
function coldQuery(db, env, runs, mode) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [VDB, '--db', db, 'query', '--lib', 'r', '--text', 'a building where sick people are treated', '-k', '10', '--mode', mode], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[times.length >> 1]);
}

export const RETRIEVERS = [
  () => embedderRetriever('letters', 'letters'),
  () => embedderRetriever('glove', 'glove'),
  // Random weights: a smoke row for the local path and its ingest rate, not a quality figure.
  ...(opt['skip-local'] ? [] : [() => embedderRetriever('local tiny-random-bert (smoke)', `local:${opt.local}`)]),
];

async function main() {
  const { docs, queries } = loadTask(opt.data, Number(opt.queries));
  process.stderr.write(`retrieval: ${queries.length} usage examples against ${docs.length} definitions, recall@${K} and MRR@${K}\n`);
  const work = mkdtempSync(join(tmpdir(), 'vdb-retrieval-'));
  const rows = [];
  try {
    for (const make of RETRIEVERS) {
      const r = await make();
      let result;
      try {
        result = await r.run(docs, queries, work);
        const runs = Number(opt['cold-runs']);
        result.cold_query_ms = { vector: coldQuery(result.db, result.env, runs, 'vector'), text: coldQuery(result.db, result.env, runs, 'text'), hybrid: coldQuery(result.db, result.env, runs, 'hybrid') };
      } catch (err) {
        process.stderr.write(`retrieval: ${r.name}: skipped: ${err.message}\n`);
        continue;
      }
      const { db, env, ...shown } = result;
      rows.push({ retriever: r.name, spec: r.spec, ...shown });
      process.stderr.write(`${r.name}: ${JSON.stringify(shown)}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync(dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, `${JSON.stringify({ date: new Date().toISOString(), queries: queries.length, docs: docs.length, k: K, rows }, null, 2)}\n`);
  console.log('| embedder | mode | recall@10 | MRR@10 | queries/s (in process) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) for (const m of r.modes) console.log(`| ${r.retriever} | ${m.mode} | ${m.recall.toFixed(3)} | ${m.mrr.toFixed(3)} | ${m.queries_per_s.toLocaleString('en-US')} |`);
  console.log('');
  console.log('| embedder | ingest texts/s | full-text index build texts/s | its size | cold vdb query vector / text / hybrid (ms) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.cold_query_ms;
    console.log(`| ${r.retriever} | ${r.ingest_texts_per_s.toLocaleString('en-US')} | ${r.text_index.build_texts_per_s.toLocaleString('en-US')} | ${(r.text_index.bytes / 1e6).toFixed(2)} MB | ${c.vector} / ${c.text} / ${c.hybrid} |`);
  }
}

await main();
