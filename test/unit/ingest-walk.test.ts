import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSource } from '../../src/ingest/load.js';
import { walk, type WalkOptions } from '../../src/ingest/walk.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vdb-walk-'));
  const files: Record<string, string> = {
    'b.md': 'b', 'a.txt': 'a', 'docs/z.md': 'z', 'docs/guide/intro.md': 'i', 'docs/guide/img.png': 'p',
    '.hidden.md': 'h', '.git/config': 'g', 'node_modules/x/readme.md': 'n', 'build/out.txt': 'o', 'B.txt': 'B',
  };
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  symlinkSync(join(root, 'a.txt'), join(root, 'docs', 'link.txt'));
  symlinkSync(root, join(root, 'docs', 'loop'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function paths(options: WalkOptions = {}, given = [root]): Promise<string[]> {
  const out: string[] = [];
  for await (const f of walk(given, options)) out.push(f.kind === 'file' ? f.path : `! ${f.message}`);
  return out;
}

describe('walker', () => {
  it('walks folders recursively in name order, skipping hidden entries, following file links only', async () => {
    expect(await paths()).toEqual([
      'B.txt', 'a.txt', 'b.md', 'build/out.txt', 'docs/guide/img.png', 'docs/guide/intro.md', 'docs/link.txt', 'docs/z.md', 'node_modules/x/readme.md',
    ]);
  });

  it('--include and --exclude: names anywhere without "/", paths with it; excluded folders are not entered', async () => {
    expect(await paths({ include: ['*.md'] })).toEqual(['b.md', 'docs/guide/intro.md', 'docs/z.md', 'node_modules/x/readme.md']);
    expect(await paths({ include: ['*.md'], exclude: ['node_modules', 'docs/guide/**'] })).toEqual(['b.md', 'docs/z.md']);
    expect(await paths({ include: ['docs/*.md'] })).toEqual(['docs/z.md']);
    expect(await paths({ exclude: ['*.txt', 'build'] })).toEqual(['b.md', 'docs/guide/img.png', 'docs/guide/intro.md', 'docs/z.md', 'node_modules/x/readme.md']);
  });

  it('hidden files and folder links on request, each folder once', async () => {
    const all = await paths({ hidden: true, followSymlinks: true, include: ['*.md', 'config'] });
    expect(all).toEqual(['.git/config', '.hidden.md', 'b.md', 'docs/guide/intro.md', 'docs/z.md', 'node_modules/x/readme.md']);
  });

  it('files given by name are taken as they are, ids relative to their folder; missing paths are problems', async () => {
    expect(await paths({ include: ['*.md'] }, [join(root, '.hidden.md'), join(root, 'docs'), join(root, 'nope')])).toEqual([
      '.hidden.md', 'guide/intro.md', 'z.md', `! ${join(root, 'nope')}: no such file or directory`,
    ]);
  });

  it('reads a file whole with size, mtime and sha256; refuses one over the limit or unreadable', async () => {
    const src = await readSource(join(root, 'a.txt'), 'a.txt');
    expect(src).toMatchObject({ path: 'a.txt', size: 1, sha256: 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' });
    expect(new Date(src.mtime).getTime()).toBeGreaterThan(0);
    await expect(readSource(join(root, 'a.txt'), 'a.txt', 0)).rejects.toThrow('a.txt: 1 bytes is over the 0-byte limit for one file');
    await expect(readSource(join(root, 'docs'), 'docs')).rejects.toThrow('docs: cannot read (EISDIR)');
    await expect(readSource(join(root, 'gone.txt'), 'gone.txt')).rejects.toThrow('gone.txt: cannot read (ENOENT)');
  });
});
