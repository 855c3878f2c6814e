import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnv, ROOT, tempDir } from '../helpers/cli.js';

// A copy of the package (bin, dist, package.json; node_modules linked), so its cache can be taken away or damaged.
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const pkg = join(tmp.dir, 'pkg');
cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
// The cache of the children below: plain `node`, this environment's NODE_OPTIONS.
const { cacheFile } = createRequire(import.meta.url)(join(pkg, 'bin', 'vdb')) as { cacheFile: (execArgv: string[], nodeOptions: string) => string };
const cache = cacheFile([], childEnv().NODE_OPTIONS ?? '');
const caches = () => readdirSync(join(pkg, 'dist', 'bundle')).filter((f) => f.endsWith('.cache'));
const db = join(tmp.dir, 'db.json');

function vdb(...args: string[]) {
  const r = spawnSync(process.execPath, [join(pkg, 'bin', 'vdb'), '--db', db, ...args], { env: childEnv(), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the CLI code cache', () => {
  it('is built with the package, used as it is, and not rewritten', () => {
    expect(caches()).toContain(cache.split('/').pop());
    const built = readFileSync(cache);
    expect(built.length).toBeGreaterThan(100_000);
    expect(vdb('lib', 'create', 'docs', '--dim', '3').code).toBe(0);
    expect(vdb('chunk', 'add', '--lib', 'docs', '--embedding', '[1, 2, 3]', 'hello').code).toBe(0);
    expect(readFileSync(cache).equals(built)).toBe(true);
  });

  it('is written again when missing, or damaged, and a command answers the same either way', () => {
    const query = () => vdb('query', '--lib', 'docs', '--embedding', '[1, 2, 3]', '-k', '1', '--json');
    const want = query();
    expect(want).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(want.stdout).hits[0].text).toBe('hello');
    rmSync(cache);
    expect(query()).toEqual(want);
    expect(existsSync(cache)).toBe(true);
    // Cut short, one byte flipped deep in V8's data (which V8 itself would not notice), or not a cache at all.
    const flipped = (b: Buffer) => {
      const d = Buffer.from(b);
      d[Math.floor(d.length * 0.7)] ^= 0x55;
      return d;
    };
    for (const damage of [(b: Buffer) => b.subarray(0, b.length >> 1), flipped, () => Buffer.from('not a cache')]) {
      const damaged = damage(readFileSync(cache));
      writeFileSync(cache, damaged);
      expect(query()).toEqual(want);
      expect(readFileSync(cache).equals(damaged)).toBe(false);
    }
    expect(query()).toEqual(want);
  });

  it('is kept apart for other flags: a run under --expose-gc writes its own and leaves the plain one alone', () => {
    const plain = readFileSync(cache);
    const before = caches().length;
    const r = spawnSync(process.execPath, ['--expose-gc', join(pkg, 'bin', 'vdb'), '--db', db, 'count', '--lib', 'docs'], { env: childEnv(), encoding: 'utf8' });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(cache).equals(plain)).toBe(true);
    expect(caches()).toHaveLength(before + 1);
    expect(existsSync(cacheFile(['--expose-gc'], childEnv().NODE_OPTIONS ?? ''))).toBe(true);
  });

  it('is not needed: without it (or the folder to write it), commands run and say nothing of it', () => {
    rmSync(cache);
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'vdb'), '--version'], { env: childEnv(), encoding: 'utf8' });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
