import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSidecar, sidecarFiles } from '../../src/store/sidecar.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const bytes = Uint8Array.from({ length: 70_001 }, (_, i) => (i * 31 + (i >> 9)) & 0xff);

function written(name: string, content: Uint8Array = bytes) {
  const { ref, files } = sidecarFiles(name, 'json', bytes);
  for (const f of files) writeFileSync(join(tmp.dir, f.name), f.name === name ? content : f.bytes);
  return openSidecar(tmp.dir, ref);
}

describe('a sidecar scan', () => {
  it('passes every byte once, in order, a window at a time, the last one short', () => {
    const file = written('g000001-0001.json');
    for (const size of [1, 4096, 10_000, 70_001, 100_000]) {
      const seen: number[] = [];
      const got = new Uint8Array(bytes.length);
      file.scan(new Uint8Array(size), (filled, offset) => {
        seen.push(offset);
        got.set(filled, offset);
      });
      expect(seen).toEqual(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => i * size));
      expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    }
    file.close();
  });

  it('throws at its end when a byte is damaged, after passing every window', () => {
    const bad = Buffer.from(bytes);
    bad[54_321] ^= 0x10;
    const file = written('g000001-0002.json', bad);
    let windows = 0;
    expect(() => file.scan(new Uint8Array(8192), () => void windows++)).toThrow(/g000001-0002\.json fails its checksum/);
    expect(windows).toBe(Math.ceil(bytes.length / 8192));
    file.close();
  });
});
