#!/usr/bin/env node
// Figures for the full-text building blocks (not part of npm test; requires `npm run build`):
//   node scripts/text-figures.mjs [--files N] [--data DIR]
// 1. BM25 alone on the WordNet retrieval task of bench/retrieval.mjs (a gloss's first quoted usage example
//    as the query, its definition as the answer, among all definitions): recall@10, MRR@10, build rate,
//    queries/s, serialized index size.
// 2. The loading side of an ingest over a generated tree of N files (Markdown, HTML, text, JSON Lines):
//    walk + read + sha256 + decode + parse + split + analyze + BM25 add, in files/s, chunks/s and MB/s,
//    with the peak resident memory, so the streaming claim is measured, not assumed. Embedding is not included.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: opt } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    data: { type: 'string', default: existsSync(join(root, '..', 'shared')) ? join(root, '..', 'shared', 'data', 'wordnet-lsa384') : '/work/shared/data/wordnet-lsa384' },
  },
});
const dist = (p) => join(root, 'dist', p);
const { Bm25Index } = await import(dist('text/bm25.js'));
const { analyze } = await import(dist('text/tokenizer.js'));
const { SPLIT_DEFAULTS } = await import(dist('text/splitter.js'));
const { walk } = await import(dist('ingest/walk.js'));
const { readSource, parseSource } = await import(dist('ingest/load.js'));
const { chunkDocument } = await import(dist('ingest/chunks.js'));

const K = 10;
const lines = readFileSync(join(opt.data, 'texts.jsonl'), 'utf8').split('\n').filter((l) => l.trim());

// 1. BM25 on the WordNet task (the same task and sample as bench/retrieval.mjs).
{
  const docs = [];
  const candidates = [];
  for (const line of lines) {
    const { text } = JSON.parse(line);
    const examples = [...text.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim()).filter((e) => e.length > 0);
    const cut = text.search(/;?\s*"/);
    const definition = (cut >= 0 ? text.slice(0, cut) : text).trim().replace(/;$/, '');
    if (!definition) continue;
    if (examples.length > 0) candidates.push({ answer: docs.length, text: examples[0] });
    docs.push(definition);
  }
  const step = Math.max(1, Math.floor(candidates.length / 1000));
  const queries = candidates.filter((_, i) => i % step === 0).slice(0, 1000);
  let t = performance.now();
  const index = Bm25Index.create();
  docs.forEach((d, i) => index.add(i, analyze(d)));
  const buildS = (performance.now() - t) / 1000;
  t = performance.now();
  let hits = 0;
  let rr = 0;
  for (const q of queries) {
    const at = index.search(analyze(q.text), K).findIndex((h) => h.key === q.answer);
    if (at >= 0) {
      hits++;
      rr += 1 / (at + 1);
    }
  }
  const queryS = (performance.now() - t) / 1000;
  const s = index.serialize();
  const bytes = Object.values(s.arrays).reduce((a, x) => a + x.byteLength, 0);
  const textBytes = docs.reduce((a, d) => a + Buffer.byteLength(d), 0);
  console.log(`BM25 on WordNet (${queries.length} usage examples, ${docs.length} definitions):`);
  console.log(`  recall@${K} ${(hits / queries.length).toFixed(3)}, MRR@${K} ${(rr / queries.length).toFixed(3)}`);
  console.log(`  build ${Math.round(docs.length / buildS)} texts/s, ${Math.round(queries.length / queryS)} queries/s`);
  console.log(`  index ${(bytes / 1e6).toFixed(2)} MB for ${(textBytes / 1e6).toFixed(2)} MB of text (${s.params.terms} terms, ${s.params.docs} documents)`);
}

// 2. The loading pipeline over a generated tree.
{
  const n = Number(opt.files);
  const dir = mkdtempSync(join(tmpdir(), 'vdb-text-figures-'));
  try {
    const glosses = lines.map((l) => JSON.parse(l).text);
    let g = 0;
    const next = (count) => Array.from({ length: count }, () => glosses[g++ % glosses.length]);
    for (let i = 0; i < n; i++) {
      const sub = join(dir, `d${Math.floor(i / 1000)}`);
      if (i % 1000 === 0) mkdirSync(sub);
      const kind = i % 4;
      const body = next(12);
      if (kind === 0) writeFileSync(join(sub, `f${i}.md`), `# Note ${i}\n\n${body.slice(0, 6).join(' ')}\n\n## More\n\n${body.slice(6).join('\n\n')}\n`);
      else if (kind === 1) writeFileSync(join(sub, `f${i}.html`), `<html><head><title>Page ${i}</title></head><body><h1>Page</h1>${body.map((b) => `<p>${b.replaceAll('&', '&amp;').replaceAll('<', '&lt;')}</p>`).join('')}</body></html>`);
      else if (kind === 2) writeFileSync(join(sub, `f${i}.txt`), body.join('\n\n'));
      else writeFileSync(join(sub, `f${i}.jsonl`), body.map((b, j) => JSON.stringify({ text: b, n: j })).join('\n'));
    }
    let files = 0;
    let chunks = 0;
    let bytes = 0;
    let peak = 0;
    const index = Bm25Index.create();
    const t = performance.now();
    for await (const f of walk([dir])) {
      if (f.kind !== 'file') throw new Error(f.message);
      const src = await readSource(f.abs, f.path);
      const parsed = parseSource(src);
      if (parsed.kind !== 'document') continue;
      for (const c of chunkDocument(parsed.doc, SPLIT_DEFAULTS)) index.add(chunks++, analyze(c.text));
      files++;
      bytes += src.size;
      if (files % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    const s = (performance.now() - t) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(`Loading ${files} files (${(bytes / 1e6).toFixed(1)} MB; Markdown, HTML, text, JSON Lines), default chunking, into BM25:`);
    console.log(`  ${Math.round(files / s)} files/s, ${Math.round(chunks / s)} chunks/s, ${(bytes / 1e6 / s).toFixed(1)} MB/s (${chunks} chunks in ${s.toFixed(1)} s)`);
    console.log(`  peak RSS ${(peak / 1e6).toFixed(0)} MB (the index holds every chunk's postings; the files are read one at a time)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
