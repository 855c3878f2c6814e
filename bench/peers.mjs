/**
 * The benchmark peers (hnswlib-node, usearch, better-sqlite3 + sqlite-vec,
 * autocannon) live in bench/package.json, apart from vdb's own dependencies:
 * two of them compile C++ when no prebuilt binary fits, and no vdb user needs
 * them. `npm run bench` and `npm run load` install them on first use.
 *
 *   import { peer } from './peers.mjs';
 *   const { HierarchicalNSW } = peer('hnswlib-node');
 *
 * `node bench/peers.mjs` installs them all up front.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(import.meta.url);
const PACKAGES = Object.keys(requireHere('./package.json').dependencies);

/** Installs bench/node_modules from bench/package-lock.json unless every package in `names` is there. */
export function ensurePeers(names = PACKAGES) {
  const missing = names.filter((n) => !existsSync(`${BENCH}/node_modules/${n}/package.json`));
  if (missing.length === 0) return;
  process.stderr.write(`bench: installing the benchmark peers into bench/node_modules once (${missing.join(', ')} missing; npm ci --prefix bench)\n`);
  try {
    // stdout of npm goes to stderr: the bench's stdout is its tables.
    execFileSync('npm', ['ci', '--prefix', BENCH, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 2] });
  } catch {
    process.stderr.write('bench: error: npm ci in bench/ failed (see its output above); rerun with node bench/peers.mjs\n');
    process.exit(1);
  }
}

/** A peer package, installed first if need be. */
export function peer(name) {
  ensurePeers([name]);
  return requireHere(name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensurePeers();
