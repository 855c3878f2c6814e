// `npm test` runs this: it builds dist/ (npm run build) unless the last build was
// made from exactly these inputs (scripts/build-inputs.mjs), as after `npm ci`,
// whose prepare step has just built it.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { STAMP, buildInputs } from './build-inputs.mjs';

let built = null;
try {
  built = readFileSync(STAMP, 'utf8').trim();
} catch {
  // No stamp: never built, or the build did not finish.
}
if (built === buildInputs()) process.stderr.write('dist/ is built from these sources already (npm run build rebuilds it anyway)\n');
else execSync('npm run build', { stdio: 'inherit' });
