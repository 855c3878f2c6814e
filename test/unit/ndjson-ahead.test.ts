/**
 * The stdin reader's estimate of the lines still to come (src/cli/ndjson.ts
 * linesAhead), which decides whether `query --stdin` opens a pool of workers:
 * for a regular file it counts down to 0 and is near the truth; for a pipe it
 * is unknown (null). Runs the compiled reader (dist/cli, built by `npm test`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/cli.js';

const READER = join(ROOT, 'dist/cli/ndjson.js');
const tmp = tempDir('vdb-ndjson-');
afterAll(() => tmp.cleanup());

const script = join(tmp.dir, 'ahead.mjs');
writeFileSync(
  script,
  [
    `import { openStdin } from '${READER}';`,
    "const parser = openStdin('{}', false);",
    'const seen = [];',
    'for (let line = await parser.next(); line !== null; line = await parser.next()) seen.push(parser.linesAhead());',
    // Once the end was read: what the last batch (the reader's `done`) leaves.
    'const atEnd = parser.linesAhead();',
    'await parser.close();',
    'console.log(JSON.stringify({ seen, atEnd }));',
  ].join('\n'),
);

/** 20,000 lines of uneven length (some blank), so the estimate is not trivially exact. */
const LINES = Array.from({ length: 20_000 }, (_, i) => (i % 97 === 5 ? '' : JSON.stringify({ embedding: Array.from({ length: 1 + (i % 7) }, (_, j) => i / (j + 3)) })));
const file = join(tmp.dir, 'lines.ndjson');
writeFileSync(file, `${LINES.join('\n')}\n`);
const nonBlank = LINES.filter((l) => l !== '').length;

describe.runIf(existsSync(READER))('linesAhead', () => {
  it('counts down to 0 near the truth when stdin is a file', () => {
    const fd = openSync(file, 'r');
    const r = spawnSync(process.execPath, [script], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
    closeSync(fd);
    expect(r.stderr).toBe('');
    const { seen, atEnd } = JSON.parse(r.stdout) as { seen: number[]; atEnd: number | null };
    expect(seen).toHaveLength(nonBlank);
    expect(seen.at(-1)).toBe(0);
    // Still 0, not unknown, at the end: a last batch taken as of unknown length once opened a pool for its few lines.
    expect(atEnd).toBe(0);
    // After each line taken, within a tenth of the lines really left (blank lines count as lines of the file).
    seen.forEach((ahead, i) => expect(Math.abs(ahead - (nonBlank - 1 - i))).toBeLessThanOrEqual(0.1 * LINES.length));
    expect(seen[0]).toBeGreaterThan(0.9 * nonBlank);
  });

  it('is unknown for a pipe', () => {
    const r = spawnSync(process.execPath, [script], { input: `${LINES.slice(0, 50).join('\n')}\n`, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const { seen, atEnd } = JSON.parse(r.stdout) as { seen: (number | null)[]; atEnd: number | null };
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x === null)).toBe(true);
    expect(atEnd).toBeNull();
  });
});
