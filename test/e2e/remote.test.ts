/**
 * `vdb --remote URL <command>` against a real single-node `vdb serve`: the
 * same output as the same command on the server's snapshot, and the same
 * exit codes and messages for errors. The commands run in process (the
 * server is the real process); the point is the mapping, not the start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';
import { tempDir, vdbInProcess } from '../helpers/cli.js';

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
    ]) {
      const [r, l] = [await remote(args), await local(args)];
      expect([r.code, r.stdout], args.join(' ')).toEqual([l.code, l.stdout]);
    }
    const deleted = await remote(['chunk', 'delete', '--lib', 'docs', '--where', 'lang=fr', '--json']);
    expect(JSON.parse(deleted.stdout).text).toBe('second');
    expect((await local(['count', '--lib', 'docs'])).stdout).toBe('1\n');
  });

  it('maps errors back to the exit codes and messages of a local run', async () => {
    for (const [args, code] of [
      [['chunk', 'list', '--lib', 'nope'], 4],
      [['lib', 'create', 'docs'], 5],
      [['chunk', 'add', '--lib', 'docs', '--embedding', '[1,2]'], 3],
      [['count', '--lib', 'docs', '--filter', '{"$bogus": 1}'], 3],
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
