/**
 * `vdb --remote URL <command>` against a real single-node `vdb serve`: the
 * same output as the same command on the server's snapshot, and the same
 * exit codes and messages for errors. The commands run in process (the
 * server is the real process); the point is the mapping, not the start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';
import { tempDir, vdbAsync, vdbInProcess } from '../helpers/cli.js';

describe('vdb --remote against a single node', () => {
  const { dir, cleanup } = tempDir('vdb-remote-');
  const db = join(dir, 'served.json');
  let served: Served;
  const remote = (args: string[], env: Record<string, string> = {}) => vdbInProcess(['--remote', served.url, ...args], { env });
  const local = (args: string[]) => vdbInProcess(args, { db });

  beforeAll(async () => {
    served = await serve({ db, env: { VDB_SEED: 'remote' } });
  });
  afterAll(async () => {
    await served?.stop();
    cleanup();
  });

  it('writes through the server and prints what the same command prints on its snapshot', async () => {
    expect((await remote(['lib', 'create', 'docs', '--dim', '3', '--metric', 'l2'])).code).toBe(0);
    const add = await remote(['chunk', 'add', '--lib', 'docs', '--embedding', '[1,0,0]', '--metadata', '{"lang":"en"}', '--tag', 'a', 'first']);
    expect(add.code, add.stderr).toBe(0);
    expect((await remote(['chunk', 'add', '--lib', 'docs', '--embedding', '[0,1,0]', '--metadata', '{"lang":"fr"}', 'second'])).code).toBe(0);
    expect((await remote(['index', 'build', '--lib', 'docs', '--type', 'linear'])).code).toBe(0);
    for (const args of [
      ['lib', 'list', '--json'],
      ['chunk', 'list', '--lib', 'docs', '--json'],
      ['chunk', 'list', '--lib', 'docs', '--where', 'lang=fr', '--json'],
      ['count', '--lib', 'docs', '--where', 'tag=a'],
      ['query', '--lib', 'docs', '--embedding', '[1,0.1,0]', '-k', '2', '--json'],
      ['query', '--lib', 'docs', '--embedding', '[1,0.1,0]', '--filter', '{"lang": "fr"}', '--json'],
      ['index', 'show', '--lib', 'docs', '--json'],
      ['export'],
      ['export', '--lib', 'docs'],
    ]) {
      const [r, l] = [await remote(args), await local(args)];
      expect([r.code, r.stdout], args.join(' ')).toEqual([l.code, l.stdout]);
    }
    const deleted = await remote(['chunk', 'delete', '--lib', 'docs', '--where', 'lang=fr', '--json']);
    expect(JSON.parse(deleted.stdout).text).toBe('second');
    expect((await local(['count', '--lib', 'docs'])).stdout).toBe('1\n');
  });

  it('ingests and imports through the server with the output, exit codes and data of a local run', async () => {
    const files = join(dir, 'files');
    mkdirSync(join(files, 'sub'), { recursive: true });
    writeFileSync(join(files, 'a.md'), '# Cats\n\nCats sleep a lot.\n\n## More\n\nThey purr when happy.\n');
    writeFileSync(join(files, 'sub', 'b.txt'), 'Dogs bark at the mailman. '.repeat(80));
    writeFileSync(join(files, 'c.csv'), 'text,lang\nhello there,en\nbonjour,fr\n');
    const other = join(dir, 'other.json');
    const mine = (args: string[], env: Record<string, string> = {}) => vdbInProcess(args, { db: other, env });
    const same = (r: { code: number; stdout: string }) => [r.code, r.stdout.replace(/"lib_id":"[^"]+"/, '')];
    expect((await remote(['lib', 'create', 'kb', '--embedder', 'letters'])).code).toBe(0);
    expect((await mine(['lib', 'create', 'kb', '--embedder', 'letters'])).code).toBe(0);
    const ingest = ['ingest', '--lib', 'kb', files, '--chunk-size', '300', '--overlap', '50', '--json'];
    for (let run = 0; run < 2; run++) {
      const [r, l] = [await remote(ingest), await mine(ingest)];
      expect(r.code, r.stderr).toBe(0);
      expect(same(r)).toEqual(same(l));
      expect(JSON.parse(r.stdout)[run === 0 ? 'added' : 'unchanged']).toBe(3);
    }
    writeFileSync(join(files, 'a.md'), '# Cats\n\nCats sleep all day.\n');
    rmSync(join(files, 'c.csv'));
    const pruned = [...ingest, '--prune'];
    const [r, l] = [await remote(pruned), await mine(pruned)];
    expect(same(r)).toEqual(same(l));
    expect(JSON.parse(r.stdout)).toMatchObject({ updated: 1, unchanged: 1, pruned: 1 });
    const view = (out: string) => out.trim().split('\n').map((line) => { const { id, text, metadata, doc_id } = JSON.parse(line); return { id, text, metadata, doc_id }; });
    expect(view((await remote(['chunk', 'list', '--lib', 'kb', '--json'])).stdout)).toEqual(view((await mine(['chunk', 'list', '--lib', 'kb', '--json'])).stdout));
    for (const args of [['ingest', '--lib', 'nope', files], ['ingest', '--lib', 'kb', join(dir, 'missing')]]) {
      const [re, le] = [await remote(args), await mine(args)];
      expect([re.code, re.stderr]).toEqual([le.code, le.stderr]);
      expect(re.code).toBe(4);
    }

    // Import: checked against the server first, then sent in small batches (several per library here).
    expect((await mine(['lib', 'create', 'vecs', '--dim', '3'])).code).toBe(0);
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `v${i}`, embedding: [i, 1, -0], metadata: { i }, text: `vector ${i}` })).join('\n');
    expect((await vdbAsync(['chunk', 'add', '--lib', 'vecs', '--stdin'], { db: other, input: lines })).code).toBe(0);
    expect((await mine(['index', 'build', '--lib', 'vecs', '--type', 'hnsw'])).code).toBe(0);
    const exported = (await mine(['export', '--lib', 'vecs'])).stdout;
    const small = { VDB_IMPORT_BATCH_BYTES: '2000' };
    const imported = await vdbAsync(['--remote', served.url, 'import', '--json'], { input: exported, env: small });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).libraries[0]).toMatchObject({ name: 'vecs', created: true, chunks: { added: 30 }, index: { mode: 'full', inserted: 30 } });
    const full = ['chunk', 'list', '--lib', 'vecs', '--with-embedding', '--json'];
    expect((await remote(full)).stdout).toBe((await mine(full)).stdout);
    expect(JSON.parse((await remote(['index', 'show', 'vecs', '--json'])).stdout)).toMatchObject({ chunk_count: 30, index: { type: 'hnsw', indexed: 30, unindexed: 0 } });
    // A second import of it: the same refusal as locally, then a merge; a malformed stream imports nothing.
    const again = await vdbAsync(['--remote', served.url, 'import'], { input: exported, env: small });
    const againLocal = await vdbAsync(['import'], { db: other, input: exported });
    expect([again.code, again.stderr]).toEqual([5, againLocal.stderr]);
    const skip = await vdbAsync(['--remote', served.url, 'import', '--on-conflict', 'skip', '--json'], { input: exported, env: small });
    expect(JSON.parse(skip.stdout).libraries[0]).toMatchObject({ created: false, chunks: { skipped: 30, added: 0 } });
    const broken = exported.replace(/^(.*\n.*\n.*\n)/, '$1{"type": "chunk"}\n').replace(/"name":"vecs"/, '"name":"vecs2"');
    const bad = await vdbAsync(['--remote', served.url, 'import'], { input: broken, env: small });
    expect([bad.code, bad.stderr]).toEqual([3, expect.stringMatching(/^vdb: error: line 4: /)]);
    expect((await remote(['lib', 'list', '--json'])).stdout).not.toContain('vecs2');
  });

  it('maps errors back to the exit codes and messages of a local run', async () => {
    for (const [args, code] of [
      [['chunk', 'list', '--lib', 'nope'], 4],
      [['lib', 'create', 'docs'], 5],
      [['chunk', 'add', '--lib', 'docs', '--embedding', '[1,2]'], 3],
      [['count', '--lib', 'docs', '--filter', '{"$bogus": 1}'], 3],
      [['export', '--lib', 'docs', '--lib', 'nope'], 4],
    ] as const) {
      const [r, l] = [await remote([...args]), await local([...args])];
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(l.code).toBe(code);
      expect(r.stderr.trim().split('\n').at(-1)).toBe(l.stderr.trim().split('\n').at(-1));
    }
    const local_only = await remote(['compact']);
    expect([local_only.code, local_only.stderr]).toEqual([2, expect.stringMatching(/^vdb: error: vdb compact .*drop --remote/)]);
    const unreachable = await vdbInProcess(['--remote', 'http://127.0.0.1:1', 'lib', 'list']);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(/^vdb: error: cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});
