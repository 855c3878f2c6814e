/**
 * The seed README's one-minute demo, step by step and verbatim (paths, bodies,
 * headers), against a real `vdb serve`: once with the real curl, once with the
 * typed client. Only the host:port differs (a free port instead of 8000).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VdbClient } from '../../src/client/client.js';
import { tempDir, vdb } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';

// Copied from the seed's README.md ("One-minute demo"), line continuations included.
const SEED_DEMO = [
  `curl -X POST http://127.0.0.1:8000/api/v1/libraries/ -d '{"name": "demo"}' -H "Content-Type: application/json"`,
  `curl -X POST http://127.0.0.1:8000/api/v1/chunks/ -d "{\\"lib_id\\": \\"$LIB\\", \\"text\\": \\"hello vector world\\"}" -H "Content-Type: application/json"`,
  `curl -X POST http://127.0.0.1:8000/api/v1/libraries/$LIB/index -d '{}' -H "Content-Type: application/json"`,
  `curl -X POST http://127.0.0.1:8000/api/v1/libraries/$LIB/query \\
     -d '{"embedding": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1], "k": 3}' \\
     -H "Content-Type: application/json"`,
];
const ONES = new Array(26).fill(1);

describe('the seed demo against vdb serve', () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'vdb.json');
  let server: Served;

  beforeAll(async () => {
    server = await serve({ db });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    cleanup();
  });

  /** Runs a demo line in bash with the server's real address in place of 127.0.0.1:8000. */
  const bash = (script: string, env: Record<string, string> = {}) =>
    execFileSync('bash', ['-c', `set -eo pipefail; ${script.replaceAll('http://127.0.0.1:8000', server.url)}`], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('works verbatim with curl, and step 4 answers exactly as vdb query --json', () => {
    const lib = JSON.parse(bash(SEED_DEMO[0]));
    expect(lib).toMatchObject({ id: expect.stringMatching(/^lib_/), name: 'demo', dim: 26, embedder: 'letters', chunk_count: 0 });
    const LIB = lib.id as string;

    const chunk = JSON.parse(bash(SEED_DEMO[1], { LIB }));
    expect(chunk).toMatchObject({ id: expect.stringMatching(/^chk_/), lib_id: LIB, text: 'hello vector world' });

    const index = JSON.parse(bash(SEED_DEMO[2], { LIB }));
    expect(index).toMatchObject({ type: 'linear', exact: true, indexed: 1, unindexed: 0, stale: 0 });

    const answer = bash(SEED_DEMO[3], { LIB });
    const hits = JSON.parse(answer).hits;
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ id: chunk.id, text: 'hello vector world', metadata: {} });

    // Same snapshot, same wire format, byte for byte.
    const cli = vdb(['query', '--lib', LIB, '--embedding', JSON.stringify(ONES), '-k', '3', '--json'], { db });
    expect(cli.code).toBe(0);
    expect(answer).toBe(cli.stdout.trimEnd());
  });

  it('works with the typed client, with and without the trailing slash', async () => {
    const client = new VdbClient(`${server.url}/`);
    expect(await client.health()).toEqual({ status: 'ok' });
    const lib = await client.createLibrary({ name: 'demo-client' });
    const chunk = await client.addChunk({ lib_id: lib.id, text: 'hello vector world' });
    expect(await client.buildIndex(lib.id, {})).toMatchObject({ type: 'linear', indexed: 1 });
    const { hits } = await client.query(lib.id, { embedding: ONES, k: 3 });
    expect(hits.map((h) => h.id)).toEqual([chunk.id]);
    // The client calls the paths without a slash, the seed's curl with one: both resolve.
    const slashed = bash(`curl -sf ${server.url}/api/v1/libraries/${lib.id}/ && curl -sf ${server.url}/api/v1/libraries/`);
    expect(slashed).toContain(`"id":"${lib.id}"`);
  });
});
