// npm pack / npm publish hooks. prepack builds dist/ from scratch and leaves out
// the `prepare` script (it builds a clone on `npm install`; in a tarball it is
// dead weight that npm 11 flags as an unapproved install script); postpack puts
// package.json back. The tarball bundles the runtime dependencies as installed
// here (bundleDependencies), so it installs offline with the versions tested.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SAVED = 'package.json.prepack';

/** package.json as packed: the same text without scripts.prepare. */
export function packedManifest(text) {
  const pkg = JSON.parse(text);
  delete pkg.scripts.prepare;
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const step = process.argv[2];
  if (step === 'prepack') {
    rmSync('dist', { recursive: true, force: true });
    execSync('npm run build', { stdio: 'inherit' });
    const text = readFileSync('package.json', 'utf8');
    writeFileSync(SAVED, text);
    writeFileSync('package.json', packedManifest(text));
  } else if (step === 'postpack') {
    if (existsSync(SAVED)) renameSync(SAVED, 'package.json');
  } else {
    throw new Error('usage: node scripts/pack.mjs prepack|postpack');
  }
}
