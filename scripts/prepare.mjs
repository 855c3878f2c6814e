// `npm install` in a clone builds dist/ (tsc, then the CLI bundle) when the dev
// dependencies are there. Without them (`npm install --omit=dev`) there is
// nothing to build with: say so instead of failing on `tsc: not found`.
// `npm pack` and `npm publish` build in prepack, so this skips them.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') process.exit(0);
if (!existsSync(new URL('../node_modules/typescript/package.json', import.meta.url))) {
  process.stderr.write('vdb: dev dependencies not installed, so dist/ was not built: run npm install (without --omit=dev), or install a packed tarball (npm pack)\n');
  process.exit(0);
}
execSync('npm run build', { stdio: 'inherit' });
