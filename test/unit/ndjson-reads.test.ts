/**
 * The stdin reader splits lines on bytes, across its 1 MiB reads (src/cli/ndjson-lines.ts):
 * a UTF-8 character, a \r\n or a line may straddle a read, and a line may be
 * longer than the read buffer. The lines must come out exactly as JSON.parse
 * of each line gives them, an embedding's numbers as the float32 values every
 * consumer keeps of them. Runs the compiled reader (dist/cli, built by `npm test`).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/cli.js';

const READER = join(ROOT, 'dist/cli/ndjson.js');
const READ_BYTES = 1 << 20;
const tmp = tempDir('vdb-ndjson-reads-');
afterAll(() => tmp.cleanup());

const script = join(tmp.dir, 'lines.mjs');
writeFileSync(
  script,
  [
    `import { openStdin } from '${READER}';`,
    "const parser = openStdin('{}', false);",
    'const seen = [];',
    'for (let line = await parser.next(); line !== null; line = await parser.next()) {',
    '  const [n, v] = line;',
    '  if (v.embedding instanceof Float64Array) v.embedding = Array.from(v.embedding, Math.fround);',
    '  seen.push([n, v]);',
    '}',
    'await parser.close();',
    'console.log(JSON.stringify(seen));',
  ].join('\n'),
);

/**
 * Reads `text` through the reader as stdin, [line number, value] of every non-blank line: from a file (parsed
 * on the main thread) and from a pipe (on the reader's thread), which must agree.
 */
function readLines(text: string): [number, unknown][] {
  const file = join(tmp.dir, 'in.ndjson');
  writeFileSync(file, text);
  const fd = openSync(file, 'r');
  const fromFile = spawnSync(process.execPath, [script], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
  closeSync(fd);
  const fromPipe = spawnSync(process.execPath, [script], { input: text, encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 });
  expect(fromFile.stderr).toBe('');
  expect(fromPipe.stderr).toBe('');
  expect(fromPipe.stdout).toBe(fromFile.stdout);
  return JSON.parse(fromFile.stdout);
}

/** What the reader must give: JSON.parse of each line, split as readline splits, an embedding of numbers rounded to float32. */
function expected(text: string): [number, unknown][] {
  return text
    .split(/\r\n|\r|\n/)
    .map((l, i): [number, string] => [i + 1, l])
    .filter(([, l]) => l.trim() !== '')
    .map(([n, l]) => {
      const v = JSON.parse(l);
      if (Array.isArray(v.embedding) && v.embedding.every((x: unknown) => typeof x === 'number')) v.embedding = v.embedding.map(Math.fround);
      return [n, v];
    });
}

/** A line of exactly `bytes` UTF-8 bytes whose text ends with `tail`. */
function lineOfBytes(bytes: number, tail: string): string {
  const shell = JSON.stringify({ text: tail, embedding: [0.5, -1.25e-3] });
  const pad = bytes - Buffer.byteLength(shell);
  return JSON.stringify({ text: 'x'.repeat(pad) + tail, embedding: [0.5, -1.25e-3] });
}

describe.runIf(existsSync(READER))('stdin lines across reads', () => {
  it('keeps a character of 2, 3 or 4 bytes whole when a read ends inside it', () => {
    for (const ch of ['é', '€', '😀']) {
      const len = Buffer.byteLength(ch);
      for (let cut = 1; cut < len; cut++) {
        // `{"text":"` is 9 bytes: the character starts `cut` bytes before the first read ends.
        const start = READ_BYTES - cut;
        const text = `{"text":"${'x'.repeat(start - 9)}${ch}"}\n{"text":"${ch}${ch}","k":3}\n`;
        expect(Buffer.from(text).subarray(start, start + len).toString()).toBe(ch);
        expect(readLines(text)).toEqual(expected(text));
      }
    }
  });

  it('joins a \\r\\n split by a read into one line end, and keeps a lone \\r a line end', () => {
    const first = lineOfBytes(READ_BYTES - 1, 'a');
    const crlf = `${first}\r\n{"k":1}\r\n\r\n{"k":2}\r{"k":3}`;
    expect(Buffer.byteLength(first) + 1).toBe(READ_BYTES);
    expect(readLines(crlf)).toEqual(expected(crlf));
    const lone = `${first}\r{"k":1}\n`;
    expect(readLines(lone)).toEqual(expected(lone));
  });

  it('reads a line longer than the read buffer, and a last line without a line end', () => {
    const long = lineOfBytes(2.5 * READ_BYTES, 'ü');
    const text = `{"k":1}\n${long}\n\n${long}\n{"text":"end ✓"}`;
    const got = readLines(text);
    expect(got).toEqual(expected(text));
    expect(got.map(([n]) => n)).toEqual([1, 2, 4, 5]);
  });
});
