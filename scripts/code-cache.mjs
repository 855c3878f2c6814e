// Writes the code cache beside dist/bundle/cli.cjs (see bin/vdb): V8's code cache of
// the CLI script after it ran the usual commands once, in this process, on a
// throwaway database written in sidecars (so cold paths are compiled too).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const { loadCli, saveCache } = createRequire(import.meta.url)('../bin/vdb');

const dir = mkdtempSync(join(tmpdir(), 'vdb-code-cache-'));
process.env.VDB_SIDECAR_MIN_BYTES = '0';
const db = join(dir, 'warm.json');
const dim = 16;
const embedding = (i) => JSON.stringify(Array.from({ length: dim }, (_, j) => Math.sin(i * 7 + j)));
const adds = (from, n) => Array.from({ length: n }, (_, i) => ['chunk', 'add', '--lib', 'w', '--embedding', embedding(from + i), '--metadata', `{"n": ${from + i}}`, `text ${from + i}`]);
const query = (i) => ['query', '--lib', 'w', '--embedding', embedding(i), '-k', '3', '--json'];
const commands = [
  ['lib', 'create', 'w', '--dim', String(dim)],
  ...adds(0, 40),
  ['compact'],
  query(1),
  ['index', 'build', '--lib', 'w', '--type', 'hnsw'],
  ['compact'],
  query(2),
  ...adds(40, 2),
  query(3),
  ['query', '--lib', 'w', '--embedding', embedding(4), '--where', 'n>=3', '--json'],
  ['count', '--lib', 'w', '--json'],
  ['lib', 'list', '--json'],
  ['chunk', 'list', '--lib', 'w', '--json'],
];
try {
  const cli = loadCli({ useCache: false });
  for (const argv of commands) {
    const code = await cli.exports.run(['--db', db, ...argv]);
    if (code !== 0) throw new Error(`vdb ${argv.join(' ')} exited with ${code}`);
  }
  if (!saveCache(cli.script)) throw new Error('cannot write the code cache beside dist/bundle/cli.cjs');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
