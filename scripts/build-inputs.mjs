// What a build of dist/ is made from, as one digest: the sources, the build's own
// scripts, the dependency lock, and the Node version and NODE_OPTIONS the code
// cache is made for. scripts/bundle.mjs writes it beside the bundle when a build
// succeeds; scripts/build-if-changed.mjs compares it before `npm test`.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const STAMP = 'dist/bundle/build-inputs.txt';

const FILES = ['tsconfig.json', 'package.json', 'package-lock.json', 'scripts/bundle.mjs', 'scripts/code-cache.mjs', 'scripts/build-inputs.mjs'];
const FOLDERS = ['src', 'bin'];

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

export function buildInputs() {
  const hash = createHash('sha256');
  hash.update(`${process.version}\0${process.env.NODE_OPTIONS ?? ''}\0`);
  for (const file of [...FILES, ...FOLDERS.flatMap(filesUnder)].sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}
