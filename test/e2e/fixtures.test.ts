import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir, vdb } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const fixture = join(ROOT, 'fixtures', 'sentences.vdb.json');

describe('fixtures', () => {
  it('fixtures/sentences.vdb.json regenerates byte-identically from its NDJSON source', () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'make-fixtures.mjs'), tmp.dir], { stdio: 'ignore' });
    const fresh = readFileSync(join(tmp.dir, 'sentences.vdb.json'));
    expect(fresh.equals(readFileSync(fixture)), 'run `npm run fixtures` and commit the result').toBe(true);
  });

  it('loads with its index built and answers queries', () => {
    const info = JSON.parse(vdb(['index', 'show', 'sentences', '--json'], { db: fixture }).stdout);
    expect(info).toMatchObject({ chunk_count: 120, index: { type: 'kdtree', indexed: 120, unindexed: 0, stale: 0 } });
    const source = readFileSync(join(ROOT, 'fixtures', 'sentences.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const r = vdb(['query', '--lib', 'sentences', '--text', source[41].text, '-k', '1', '--json'], { db: fixture });
    expect(JSON.parse(r.stdout).hits[0]).toMatchObject({ text: source[41].text, metadata: source[41].metadata });
  });
});
