import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { VdbService } from '../../src/service/service.js';
import type { StoreTuning } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const NOW = () => '2023-11-14T22:13:20.000Z';
// Sidecars from the start and page tables on every record file (16+ pages).
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const service = (path: string) => new VdbService({ path, seed: 'fold', now: NOW, storage: SIDECARS });

function files(path: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = { manifest: readFileSync(path) };
  for (const f of readdirSync(`${path}.d`).sort()) out[f] = readFileSync(join(`${path}.d`, f));
  return out;
}

const chunk = (i: number) => ({ id: `doc${i % 7}.md#${i}`, doc_id: `doc${i % 7}.md`, text: `chunk ${i} ${'text '.repeat(i % 50)}`, metadata: { i, start: i * 10 } });

describe('a rewrite of rows only appended to since they were read', () => {
  it('copies their bytes and gives the very files of a rewrite from memory', async () => {
    const a = join(tmp.dir, 'a.json');
    const first = service(a);
    await first.createLibrary({ name: 'docs', dim: 4 });
    await first.documents.add('docs', Array.from({ length: 7 }, (_, d) => ({ id: `doc${d}.md` })));
    await first.addChunks('docs', Array.from({ length: 400 }, (_, i) => ({ ...chunk(i), embedding: [i, 1, -i, 0.5] })));
    await first.buildIndex('docs', { text: true });
    // Read back lazily, appended to (log records), then folded.
    const appending = service(a);
    for (let b = 0; b < 3; b++) await appending.addChunks('docs', Array.from({ length: 30 }, (_, j) => ({ ...chunk(400 + b * 30 + j), embedding: [j, 2, b, 1] })));
    const b = join(tmp.dir, 'b.json');
    cpSync(a, b);
    cpSync(`${a}.d`, `${b}.d`, { recursive: true });
    const lazy = service(a);
    const lib = lazy.store.read().library('docs');
    expect(lib.appendedSince()?.chunks.length).toBe(90);
    await lazy.compact();
    // The same state, its rows read into memory first: the rewrite encodes every record.
    const eager = service(b);
    expect(eager.store.read().library('docs').chunks.length).toBe(490);
    expect(eager.store.read().library('docs').appendedSince()).toBeNull();
    await eager.compact();
    const fa = files(a);
    const fb = files(b);
    expect(Object.keys(fa)).toEqual(Object.keys(fb));
    for (const name of Object.keys(fa)) expect(fa[name].equals(fb[name]), name).toBe(true);
    // And it reads back: ids old and new, vectors, documents, the text index's coverage.
    const again = service(a);
    expect(again.getChunk('doc3.md#10', true, 'docs')).toMatchObject({ text: chunk(10).text, embedding: [10, 1, -10, 0.5] });
    expect(again.getChunk('doc1.md#449', true, 'docs')).toMatchObject({ text: chunk(449).text, doc_id: 'doc1.md' });
    expect(again.listChunks('docs').chunks.map((c) => c.id)).toEqual(Array.from({ length: 490 }, (_, i) => chunk(i).id));
    expect(again.indexInfo('docs').text_index).toMatchObject({ indexed: 400, unindexed: 90, stale: 0 });
  });

  it('reports damage it meets while copying as a corrupt snapshot, and writes nothing', async () => {
    const a = join(tmp.dir, 'damaged.json');
    const first = service(a);
    await first.createLibrary({ name: 'docs', dim: 4 });
    await first.documents.add('docs', Array.from({ length: 7 }, (_, d) => ({ id: `doc${d}.md` })));
    await first.addChunks('docs', Array.from({ length: 400 }, (_, i) => ({ ...chunk(i), embedding: [i, 1, -i, 0.5] })));
    await first.compact();
    await service(a).addChunks('docs', [{ ...chunk(400), embedding: [1, 2, 3, 4] }]);
    const records = JSON.parse(readFileSync(a, 'utf8')).libraries[0].chunks.file as string;
    const bytes = readFileSync(join(`${a}.d`, records));
    bytes[5 * 4096 + 7] ^= 0xff;
    writeFileSync(join(`${a}.d`, records), bytes);
    const before = files(a);
    const lazy = service(a);
    expect(lazy.store.read().library('docs').appendedSince()?.chunks.length).toBe(1);
    const err = await lazy.compact().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptSnapshot);
    expect((err as Error).message).toMatch(/chunks.*damaged/);
    expect(files(a)).toEqual(before);
  });
});
