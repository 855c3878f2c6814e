#!/usr/bin/env node
// Regenerates fixtures/sentences.vdb.json from fixtures/sentences.ndjson through
// the real CLI, with a fixed seed and SOURCE_DATE_EPOCH: the output is
// byte-identical on every run, so CI can compare it with the checked-in copy.
//   node scripts/make-fixtures.mjs [OUTDIR]     (default: fixtures/)
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(root, 'fixtures'));
const db = join(outDir, 'sentences.vdb.json');
const source = readFileSync(join(root, 'fixtures', 'sentences.ndjson'));
const env = { ...process.env, VDB_SEED: 'vdb-fixtures', SOURCE_DATE_EPOCH: '1700000000', NO_COLOR: '1' };
for (const key of ['VDB_DB', 'VDB_LOCK_TIMEOUT_MS']) delete env[key];

const vdb = (args, input) => execFileSync(process.execPath, [join(root, 'bin', 'vdb'), '--db', db, ...args], { env, input, stdio: ['pipe', 'ignore', 'inherit'] });

rmSync(db, { force: true });
vdb(['lib', 'create', 'sentences', '--metadata', '{"source": "WordNet 3.0 glosses"}']);
vdb(['chunk', 'add', '--lib', 'sentences', '--stdin'], source);
vdb(['index', 'build', '--lib', 'sentences', '--type', 'kdtree', '--leaf-size', '8']);
process.stderr.write(`wrote ${db}\n`);
