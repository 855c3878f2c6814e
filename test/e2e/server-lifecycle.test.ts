/**
 * `vdb serve` as a process: graceful shutdown with requests in flight, auth
 * on a real socket, secrets kept out of logs, lazy loading, and the commands
 * the Dockerfile and compose.yaml run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError, VdbClient } from '../../src/client/client.js';
import { ROOT, VDB, tempDir, vdb } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

/** Starts a POST whose body is only half sent; `finish()` sends the rest and resolves with status and body. */
function halfSentPost(url: string, body: string) {
  const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const answer = new Promise<{ status: number; body: string }>((res, rej) => {
    req.on('response', (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', rej);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return {
    finish: () => {
      req.end(body.slice(half));
      return answer;
    },
  };
}

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

describe('vdb serve lifecycle', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('finishes in-flight requests on SIGTERM, refuses new ones, and loses no write', async () => {
    const db = join(dir, 'shutdown.json');
    const server = await serve({ db, args: ['--log-level', 'info'] });
    const lib = await new VdbClient(server.url).createLibrary({ name: 'g', dim: 2 });
    const pending = [0, 1, 2, 3, 4].map((i) => halfSentPost(`${server.url}/api/v1/chunks/`, JSON.stringify({ lib_id: lib.id, text: `in flight ${i}`, embedding: [i, 1] })));
    // fastify logs "incoming request" once it has the headers: from then on the request is in flight.
    await server.waitUntil((s) => count(s, '"url":"/api/v1/chunks/"') >= 5);
    server.child.kill('SIGTERM');
    await server.waitUntil((s) => s.includes('SIGTERM: finishing in-flight requests'));
    // Refused once the listener is closed; answered in full if this request raced the close.
    const late = await fetch(`${server.url}/healthz`).then((r) => r.status, () => 'refused');
    expect(['refused', 200]).toContain(late);

    const answers = await Promise.all(pending.map((p) => p.finish()));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('vdb: stopped');

    const listed = vdb(['chunk', 'list', '--lib', 'g', '--json'], { db });
    const onDisk = listed.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
    expect(onDisk.sort()).toEqual(answers.map((a) => JSON.parse(a.body).id).sort());
  });

  it('refuses an empty VDB_API_KEY instead of serving without auth', () => {
    const r = vdb(['serve', '--port', '0'], { db: join(dir, 'empty.json'), env: { VDB_API_KEY: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VDB_API_KEY is set but empty');
  });

  it('loads the server stack only for vdb serve: compiled into the CLI script, but run only when serve asks for it', () => {
    // Nothing from node_modules at run time (the bundle carries its libraries), and no HTTP stack: node:http is
    // loaded by fastify (and light-my-request) when their code runs, and by nothing a query or an add needs.
    const probe =
      'data:text/javascript,import{createRequire}from"node:module";const r=createRequire("/");' +
      'process.on("exit",()=>process.stderr.write("node_modules: "+Object.keys(r.cache).filter((k)=>/node_modules/.test(k)).length+", http: "+process.moduleLoadList.includes("NativeModule http")+"\\n"))';
    const db = join(dir, 'stack.json');
    const probed = (...args: string[]) => spawnSync(process.execPath, ['--import', probe, VDB, '--db', db, ...args], { encoding: 'utf8' });
    const r = probed('--version');
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.stderr).toBe('node_modules: 0, http: false\n');
    expect(probed('lib', 'create', 'docs', '--dim', '2').stderr).toMatch(/http: false\n$/);
    expect(probed('chunk', 'add', '--lib', 'docs', '--embedding', '[1, 0]', 'x').stderr).toMatch(/http: false\n$/);
    expect(probed('query', '--lib', 'docs', '--embedding', '[1, 0]').stderr).toMatch(/http: false\n$/);
    // The server stack is in the script (fastify's error codes): compiled with it, not run above.
    expect(readFileSync(join(ROOT, 'dist', 'bundle', 'cli.cjs'), 'latin1')).toContain('FST_ERR_CTP');
    expect(vdb(['serve', '--help']).stdout).toContain('--log-format');
  });

  it('runs the Dockerfile CMD and healthcheck as compose does: bearer key on all but /healthz, no secrets in logs', async () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
    expect(cmd.slice(0, 3)).toEqual(['node', 'bin/vdb', 'serve']);
    expect(/^ENV .*VDB_DB=(\S+)/m.exec(dockerfile)![1]).toBe('/data/vdb.json');
    const compose = readFileSync(join(ROOT, 'compose.yaml'), 'utf8');
    expect(compose).toMatch(/^\s+- VDB_API_KEY$/m);
    const check = JSON.parse(/test: (\[.*\])$/m.exec(compose)![1]) as string[];
    expect(check.slice(0, 3)).toEqual(['CMD', 'node', '-e']);

    // The same command; only the bind address, port and snapshot path move somewhere safe for a test.
    const key = 'sk-live-0123456789';
    const db = join(dir, 'docker.json');
    const server = await serve({ db, argv: [...cmd.slice(1), '--host', '127.0.0.1', '--port', '0'], env: { VDB_DB: db, VDB_API_KEY: key, EMBEDDING_API_KEY: 'embed-secret-xyz' } });
    try {
      expect(server.stderr()).toContain(`serving ${db}`);
      expect(server.stderr()).toContain('API key required');
      expect(() => execFileSync(process.execPath, ['-e', check[3].replace('http://127.0.0.1:8000', server.url)], { stdio: 'ignore' })).not.toThrow();

      const curl = (...args: string[]) => execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args], { encoding: 'utf8' });
      expect(curl(`${server.url}/healthz`)).toBe('200');
      expect(curl(`${server.url}/api/v1/libraries/`)).toBe('401');
      expect(curl(`${server.url}/docs/`)).toBe('401');
      expect(curl('-H', `Authorization: Bearer ${key}`, `${server.url}/api/v1/libraries/`)).toBe('200');

      await expect(new VdbClient(server.url).listLibraries()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
      await expect(new VdbClient(server.url, { apiKey: 'wrong' }).listLibraries()).rejects.toBeInstanceOf(ApiError);
      const client = new VdbClient(server.url, { apiKey: key });
      const lib = await client.createLibrary({ name: 'a' });
      expect((await client.listLibraries()).libraries.map((l) => l.id)).toEqual([lib.id]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.stderr()).toContain('incoming request');
    expect(server.stderr()).not.toContain(key);
    expect(server.stderr()).not.toContain('embed-secret-xyz');
  });
});
