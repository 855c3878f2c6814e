#!/usr/bin/env node
// Ingest figures (not part of npm test; requires `npm run build`):
//   node scripts/ingest-figures.mjs [--files N] [--kb K] [--embedder letters|glove] [--keep DIR]
// Generates a tree of N files of about K KB each (Markdown, HTML, text, JSON Lines, CSV; sentences from the
// WordNet glosses), then runs `vdb ingest` on it as a whole process under /usr/bin/time: files/s, chunks/s,
// MB/s and the peak resident memory. A second run on the same tree shows the unchanged-file path
// (sha256 only, nothing parsed), and `vdb index show` the full-text index's size.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: opt } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    kb: { type: 'string', default: '10' },
    embedder: { type: 'string', default: 'letters' },
    keep: { type: 'string' },
    data: { type: 'string', default: '/work/shared/data/wordnet-lsa384' },
  },
});
const n = Number(opt.files);
const target = Number(opt.kb) * 1024;
const glosses = readFileSync(join(opt.data, 'texts.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).text);
const dir = opt.keep ?? mkdtempSync(join(tmpdir(), 'vdb-ingest-figures-'));
const tree = join(dir, 'tree');
const db = join(dir, 'vdb.json');
const vdb = join(root, 'bin', 'vdb');

let g = 0;
const sentences = (bytes) => {
  const out = [];
  let size = 0;
  while (size < bytes) {
    const s = glosses[g++ % glosses.length];
    out.push(s);
    size += s.length + 2;
  }
  return out;
};
const esc = (s) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;');

if (!existsSync(tree)) {
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const sub = join(tree, `d${Math.floor(i / 1000)}`, `e${Math.floor(i / 100) % 10}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    const body = sentences(target);
    const paras = [];
    for (let j = 0; j < body.length; j += 4) paras.push(body.slice(j, j + 4).join(' '));
    let file;
    let text;
    switch (i % 5) {
      case 0:
        file = `f${i}.md`;
        text = `# Note ${i}\n\n${paras.map((p, j) => (j % 3 === 2 ? `## Part ${j}\n\n${p}` : p)).join('\n\n')}\n`;
        break;
      case 1:
        file = `f${i}.html`;
        text = `<html><head><title>Page ${i}</title></head><body><h1>Page ${i}</h1>${paras.map((p) => `<p>${esc(p)}</p>`).join('')}</body></html>`;
        break;
      case 2:
        file = `f${i}.txt`;
        text = paras.join('\n\n');
        break;
      case 3:
        file = `f${i}.jsonl`;
        text = paras.map((p, j) => JSON.stringify({ text: p, n: j })).join('\n');
        break;
      default:
        file = `f${i}.csv`;
        text = `n,text\n${paras.map((p, j) => `${j},"${p.replaceAll('"', '""')}"`).join('\n')}\n`;
    }
    writeFileSync(join(sub, file), text);
    bytes += Buffer.byteLength(text);
  }
  console.log(`generated ${n} files, ${(bytes / 1e6).toFixed(1)} MB, in ${tree}`);
}

const env = { ...process.env, VDB_DB: db, NO_COLOR: '1' };
rmSync(db, { force: true });
rmSync(`${db}.d`, { recursive: true, force: true });
execFileSync(vdb, ['lib', 'create', 'tree', '--embedder', opt.embedder], { env, stdio: 'pipe' });

function timed(args) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', vdb, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`vdb ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const [wall, kb, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { out: r.stdout, wall, rssMB: kb / 1024, cpu: user + sys };
}

const first = timed(['--json', 'ingest', '--lib', 'tree', tree]);
const s = JSON.parse(first.out);
const chunks = s.chunks.added;
const mb = Number(execFileSync('du', ['-sb', tree], { encoding: 'utf8' }).split('\t')[0]) / 1e6;
console.log(`vdb ingest (${opt.embedder}): ${s.files} files, ${mb.toFixed(1)} MB, ${chunks} chunks in ${first.wall.toFixed(1)} s (CPU ${first.cpu.toFixed(1)} s):`);
console.log(`  ${Math.round(s.files / first.wall)} files/s, ${Math.round(chunks / first.wall)} chunks/s, ${(mb / first.wall).toFixed(1)} MB/s; peak RSS ${first.rssMB.toFixed(0)} MB`);
const again = timed(['--json', 'ingest', '--lib', 'tree', tree]);
const s2 = JSON.parse(again.out);
console.log(`  again, unchanged: ${s2.unchanged} of ${s2.files} files skipped in ${again.wall.toFixed(1)} s (${Math.round(s2.files / again.wall)} files/s), peak RSS ${again.rssMB.toFixed(0)} MB`);
const info = JSON.parse(execFileSync(vdb, ['--json', 'index', 'show', 'tree'], { env, encoding: 'utf8' }));
const size = statSync(db).size + (existsSync(`${db}.d`) ? Number(execFileSync('du', ['-sb', `${db}.d`], { encoding: 'utf8' }).split('\t')[0]) : 0);
console.log(`  full-text index: ${(info.text_index.bytes / 1e6).toFixed(1)} MB, ${info.text_index.terms} terms, ${info.text_index.indexed} chunks; database ${(size / 1e6).toFixed(1)} MB`);
if (!opt.keep) rmSync(dir, { recursive: true, force: true });
