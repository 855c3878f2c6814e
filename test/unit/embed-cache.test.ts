import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../src/embed/cache.js';
import { tempDir } from '../helpers/cli.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

const files = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));

describe('embedding cache', () => {
  it('keys differ by SPEC, scope, input type and text; a damaged or short file is a miss', () => {
    const keys = [
      EmbeddingCache.key('openai:m', 'https://a', 'document', 'x'),
      EmbeddingCache.key('openai:m@8', 'https://a', 'document', 'x'),
      EmbeddingCache.key('openai:m', 'https://b', 'document', 'x'),
      EmbeddingCache.key('openai:m', 'https://a', 'query', 'x'),
      EmbeddingCache.key('openai:m', 'https://a', 'document', 'y'),
    ];
    expect(new Set(keys).size).toBe(5);
    const c = new EmbeddingCache(tmp.dir, 1 << 20);
    c.putMany([[keys[0], Float32Array.of(1, 2, 3)]]);
    expect(Array.from(c.get(keys[0], 3) ?? [])).toEqual([1, 2, 3]);
    expect(c.get(keys[0], 4)).toBeNull();
    const [file] = files(tmp.dir);
    const bytes = Buffer.from(Float32Array.of(1, 2, 3).buffer);
    writeFileSync(file, Buffer.concat([Buffer.from('VDBE'), Buffer.from([3, 0, 0, 0]), bytes, Buffer.from([0, 0, 0, 0])]));
    expect(c.get(keys[0], 3)).toBeNull();
  });

  it('stays under its bound, evicting the least recently used first', () => {
    const c = new EmbeddingCache(tmp.dir, 64 * 1024);
    const v = new Float32Array(253); // 1 KiB a file with its header
    const old = EmbeddingCache.key('s', '', 'document', 'old');
    c.putMany([[old, v]]);
    utimesSync(files(tmp.dir)[0], new Date(0), new Date(0));
    for (let i = 0; i < 200; i++) c.putMany([[EmbeddingCache.key('s', '', 'document', `t${i}`), v]]);
    const total = files(tmp.dir).reduce((s, f) => s + statSync(f).size, 0);
    expect(total).toBeLessThanOrEqual(64 * 1024 + 4 * 1024);
    expect(c.get(old, 253)).toBeNull();
    expect(c.get(EmbeddingCache.key('s', '', 'document', 't199'), 253)).not.toBeNull();
  });
});
