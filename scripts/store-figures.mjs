#!/usr/bin/env node
// Storage figures for a database made by scripts/make-big-db.mjs (not part of npm test):
//   node scripts/store-figures.mjs DB.json [RUNS=3]
// Prints, each the median of RUNS fresh processes: load time (SnapshotStore.read() and
// reading every library's chunks and vectors, in a new node process), wall time of `vdb chunk add` of one chunk (process start
// included), of one with its own id, of `vdb doc add` and of a chunk add naming that document,
// then the wall time of one `vdb compact`, and the sizes on disk.
// Requires `npm run build`. Adds 3 × RUNS chunks and RUNS documents to the database.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const [dbArg, runsArg] = process.argv.slice(2);
if (!dbArg) {
  process.stderr.write('usage: node scripts/store-figures.mjs DB.json [RUNS=3]\n');
  process.exit(2);
}
const db = resolve(dbArg);
const runs = Number(runsArg ?? 3);
const vdb = join(root, 'bin', 'vdb');
const store = join(root, 'dist', 'store', 'store.js');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `${median(xs).toFixed(2)} s (runs: ${xs.map((x) => x.toFixed(2)).join(', ')})`;

function timed(args, input) {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return { s: (performance.now() - t) / 1000, out: r.stdout };
}

const loadScript = `const { SnapshotStore } = await import(${JSON.stringify(store)});
const t = performance.now(); const db = new SnapshotStore(process.argv[1]).read();
const open = performance.now() - t;
// Everything a query needs: chunk records and vectors of every library (read() leaves large ones on disk).
for (const lib of db.libraries) lib.vectors().length + lib.chunks.length;
console.log(JSON.stringify({ open, ms: performance.now() - t, chunks: db.libraries.reduce((n, l) => n + l.size, 0), rss: process.memoryUsage().rss }));`;
const loads = [];
const opens = [];
let info;
for (let i = 0; i < runs; i++) {
  info = JSON.parse(timed(['--input-type=module', '-e', loadScript, db]).out);
  loads.push(info.ms / 1000);
  opens.push(info.open / 1000);
}
const dim = JSON.parse(execFileSync(process.execPath, [vdb, '--db', db, 'lib', 'list', '--json'], { encoding: 'utf8' })).libraries[0].dim;
const embedding = JSON.stringify(Array.from({ length: dim }, (_, i) => Math.sin(i)));
const adds = [];
for (let i = 0; i < runs; i++) adds.push(timed([vdb, '--db', db, 'chunk', 'add', '--lib', 'big', '--embedding', embedding, `figure ${i}`]).s);
// Your own ids are checked against the id table; a document named by a chunk is read alone.
const stamp = `${process.pid}-${Date.now()}`;
const userAdds = [];
for (let i = 0; i < runs; i++) userAdds.push(timed([vdb, '--db', db, 'chunk', 'add', '--lib', 'big', '--id', `figure/${stamp}/${i}`, '--embedding', embedding, `figure ${i}`]).s);
const docAdds = [];
for (let i = 0; i < runs; i++) docAdds.push(timed([vdb, '--db', db, 'doc', 'add', '--lib', 'big', '--id', `figure/${stamp}/${i}.md`]).s);
const inDocAdds = [];
for (let i = 0; i < runs; i++) inDocAdds.push(timed([vdb, '--db', db, 'chunk', 'add', '--lib', 'big', '--doc', `figure/${stamp}/${i}.md`, '--embedding', embedding, `in a document ${i}`]).s);
const compact = timed([vdb, '--db', db, 'compact', '--json']);
const dir = `${db}.d`;
const files = readdirSync(dir).map((f) => `${f} ${statSync(join(dir, f)).size}`);
console.log(`database        ${db}: ${info.chunks} chunks × ${dim}, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`load (all rows) ${fmt(loads)}, rss after load ${(info.rss / 2 ** 20).toFixed(0)} MiB`);
console.log(`open (manifest, id tables, log; rows left on disk) ${fmt(opens)}`);
console.log(`chunk add (1)   ${fmt(adds)}`);
console.log(`chunk add --id  ${fmt(userAdds)}`);
console.log(`doc add --id    ${fmt(docAdds)}`);
console.log(`chunk add --doc ${fmt(inDocAdds)}`);
console.log(`compact         ${compact.s.toFixed(2)} s: ${compact.out.trim()}`);
console.log(`manifest        ${statSync(db).size} bytes`);
console.log(`sidecars        ${files.join(', ')}`);
