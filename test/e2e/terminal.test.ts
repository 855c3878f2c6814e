/** What a person at a terminal sees: tables fitted to its width, paging, scores that read the right way, flags. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayWidth, renderTable } from '../../src/cli/table.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdbInProcess } from '../helpers/cli.js';

const tmp = tempDir();
const db = join(tmp.dir, 'db.json');
const LONG = 'a long text about vector databases and the many ways to index embeddings for search, long enough to need cutting';
let ids: string[];

beforeAll(async () => {
  const svc = new VdbService({ path: db });
  await svc.createLibrary({ name: 'docs' });
  await svc.createLibrary({ name: 'l2', dim: 2, metric: 'l2', embedder: null });
  await svc.createLibrary({ name: 'dot', dim: 2, metric: 'dot', embedder: null });
  const added = await svc.addChunks('docs', [{ text: LONG, tags: ['a', 'b'] }, ...Array.from({ length: 24 }, (_, i) => ({ text: `chunk ${i} 日本語 text` }))]);
  ids = added.map((c) => c.id);
  await svc.addChunks('l2', [{ embedding: [0, 0] }, { embedding: [3, 4] }]);
  await svc.addChunks('dot', [{ embedding: [1, 0] }, { embedding: [2, 0] }]);
});
afterAll(() => tmp.cleanup());

describe('tables on a terminal', () => {
  it('fit its width, cutting the text column with …; --wide wraps it instead; chunk list shows a first page', async () => {
    for (const columns of [60, 100]) {
      const r = await vdbInProcess(['chunk', 'list', '--lib', 'docs'], { db, ttyColumns: columns });
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      for (const line of lines) expect(displayWidth(line), line).toBeLessThanOrEqual(columns);
      expect(lines).toHaveLength(20 + 4);
      expect(r.stdout).toContain(ids[0]);
      expect(r.stdout, r.stdout).toMatch(/│ a long text ab[^│]*… │/);
      expect(r.stderr).toBe('… 5 more (use --limit and --offset, or pipe the output to see them all)\n');
    }
    const wide = await vdbInProcess(['--wide', 'chunk', 'list', '--lib', 'docs', '--limit', '1'], { db, ttyColumns: 60 });
    const cells = wide.stdout.split('\n').slice(3, -2).map((l) => l.split('│')[2].trim());
    expect(cells.join(' ')).toBe(LONG);
    expect(wide.stderr).toBe('');
  });

  it('show embeddings with --with-embedding, also when piped', async () => {
    const r = await vdbInProcess(['chunk', 'list', '--lib', 'l2', '--with-embedding'], { db });
    expect(r.stdout.split('\n')[1].split('\t').at(-1)).toBe('[3,4]');
    const t = await vdbInProcess(['chunk', 'list', '--lib', 'l2', '--with-embedding'], { db, ttyColumns: 120 });
    expect(t.stdout).toMatch(/│ embedding │/);
    expect(t.stdout).toContain('[3,4]');
  });

  it('render 20,000 rows (linear: cli-table3 took 37 s for 8,000)', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => [String(i), `text ${i} `.repeat(5)]);
    const out = renderTable(['#', 'text'], rows, { width: 40, flex: [1], wrap: false });
    expect(out.split('\n')).toHaveLength(20_000 + 5);
  });
});

describe('query scores', () => {
  it('read the right way for every metric: cosine similarity, dot product, Euclidean distance', async () => {
    const q = async (lib: string, args: string[]) => JSON.parse((await vdbInProcess(['query', '--lib', lib, ...args, '--json'], { db })).stdout).hits;
    const cos = await q('docs', ['--text', LONG, '-k', '1']);
    expect(cos[0].score).toBeCloseTo(1, 6);
    expect(cos[0].score).toBeCloseTo(1 - cos[0].distance, 12);
    expect((await q('l2', ['--embedding', '[0, 0]'])).map((h: { score: number; distance: number }) => [h.score, h.distance])).toEqual([[0, 0], [5, 5]]);
    expect((await q('dot', ['--embedding', '[1, 0]'])).map((h: { score: number; distance: number }) => [h.score, h.distance])).toEqual([[2, -2], [1, -1]]);
    const table = await vdbInProcess(['query', '--lib', 'dot', '--embedding', '[1, 0]'], { db, ttyColumns: 80 });
    expect(table.stdout).toMatch(/│ # │ dot product │ id/);
    expect(table.stdout).toMatch(/│ 1 │ 2\.000000 {4}│/);
  });
});

describe('flags', () => {
  it('chunk update --no-tags clears the tags; subcommand help lists the global options', async () => {
    const r = await vdbInProcess(['chunk', 'update', ids[0], '--no-tags', '--json'], { db });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tags).toEqual([]);
    const help = await vdbInProcess(['chunk', 'add', '--help']);
    expect(help.stdout).toMatch(/Global Options:[\s\S]*--db <path>[\s\S]*--json/);
  });
});
