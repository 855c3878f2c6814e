/**
 * Input a hostile user sends, through every entry point: the CLI's flags, its
 * --stdin NDJSON and the REST API. Each gets one clear line (exit 3 or a 4xx),
 * never a crash, and the data stays as it was.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, tempDir, VDB, vdb } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';
import type { Served } from '../helpers/server.js';

const DEEP = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
const DEEP_MESSAGE = /metadata is nested more than 32 levels deep \(at metadata\.a\.a/;

let tmp: ReturnType<typeof tempDir>;
let db: string;
let libId: string;
beforeAll(() => {
  tmp = tempDir();
  db = join(tmp.dir, 'vdb.json');
  const r = vdb(['lib', 'create', 'docs'], { db });
  libId = r.stdout.trim();
  expect(vdb(['chunk', 'add', '--lib', 'docs', 'hello'], { db }).code).toBe(0);
});
afterAll(() => tmp.cleanup());

function expectRefused(r: { code: number; stderr: string }, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^vdb: error: /);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

describe('the CLI', () => {
  it('refuses metadata nested thousands deep, as a flag and on --stdin, with the snapshot untouched', () => {
    const before = readFileSync(db);
    expectRefused(vdb(['chunk', 'add', '--lib', 'docs', 'x', '--metadata', DEEP], { db }), 3, DEEP_MESSAGE);
    expectRefused(vdb(['lib', 'update', 'docs', '--metadata', DEEP], { db }), 3, DEEP_MESSAGE);
    expectRefused(vdb(['chunk', 'add', '--lib', 'docs', '--stdin'], { db, input: `{"text": "ok"}\n{"text": "x", "metadata": ${DEEP}}\n` }), 3, new RegExp(`^vdb: error: line 2: ${DEEP_MESSAGE.source}`));
    expectRefused(vdb(['chunk', 'add', '--lib', 'docs', '--stdin'], { db, input: `{"text": "x", "tags": ${'['.repeat(100000)}${']'.repeat(100000)}}\n` }), 3, /^vdb: error: line 1: the line is nested more than 33 levels deep/);
    expectRefused(vdb(['query', '--lib', 'docs', '--stdin'], { db, input: `{"embedding": ${'['.repeat(100000)}${']'.repeat(100000)}}\n` }), 3, /line 1: the line is nested more than 33 levels deep/);
    expectRefused(vdb(['chunk', 'add', '--lib', 'docs', 'x', '--metadata', JSON.stringify({ ['k'.repeat(1025)]: 1 })], { db }), 3, /metadata has a key of 1025 characters, longer than 1024/);
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it('refuses a library name in the form of a library id, which could never be used as a name', () => {
    expectRefused(vdb(['lib', 'create', 'lib_0123456789abcdef'], { db }), 3, /library name "lib_0123456789abcdef" has the form of a library id/);
    expectRefused(vdb(['lib', 'update', 'docs', '--name', libId], { db }), 3, /has the form of a library id/);
  });

  it('keeps an error about an id with a line break on one line', () => {
    expectRefused(vdb(['chunk', 'get', 'chk_1\nvdb: error: forged'], { db }), 4, /^vdb: error: chunk "chk_1\\nvdb: error: forged" not found/);
  });

  it('refuses a FIFO as --db at once, for commands and for vdb serve, instead of hanging', () => {
    const fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const args of [['lib', 'list'], ['chunk', 'add', '--lib', 'docs', 'x'], ['serve', '--port', '0']]) {
      const r = spawnSync(process.execPath, [VDB, '--db', fifo, ...args], { env: childEnv(), encoding: 'utf8', timeout: 20_000 });
      expectRefused({ code: r.status ?? -1, stderr: r.stderr }, 8, /--db .*fifo is a FIFO \(named pipe\), not a snapshot file/);
    }
  });
});

describe('the REST API', () => {
  let server: Served;
  beforeAll(async () => {
    server = await serve({ db, args: ['--log-level', 'info', '--body-limit', '65536'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  const post = (path: string, body: string, contentType = 'application/json') =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('answers metadata nested thousands deep with a 422 that names the problem and no server path', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/v1/chunks', `{"lib_id": "docs", "text": "x", "metadata": ${DEEP}}`],
      ['POST', '/api/v1/libraries', `{"name": "deep", "metadata": ${DEEP}}`],
      ['PATCH', `/api/v1/libraries/${libId}`, `{"metadata": ${DEEP}}`],
    ]) {
      const r = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body });
      const text = await r.text();
      expect(r.status, text).toBe(422);
      expect(JSON.parse(text).error.message).toMatch(DEEP_MESSAGE);
      expect(text).not.toContain(tmp.dir);
    }
  });

  it('refuses a body declared in another charset than UTF-8 with a 415', async () => {
    const r = await post('/api/v1/libraries', '{"name": "x"}', 'application/json; charset=utf-16');
    expect(r.status).toBe(415);
    expect((await r.json()).error.message).toMatch(/charset utf-16 is not supported; send the JSON body as UTF-8/);
    expect((await post('/api/v1/libraries', '{"name": "utf8 ok"}', 'application/json; charset=UTF-8')).status).toBe(201);
  });

  it('answers a body over the limit, sent with its Content-Length, with a 413 the client can read', async () => {
    const size = 4 << 20;
    // The whole body is sent, as a client that set Content-Length does: no EPIPE or reset on the way.
    const { status, body, error } = await new Promise<{ status: number; body: string; error?: string }>((done) => {
      let status = 0;
      let text = '';
      let error: string | undefined;
      const req = request(`${server.url}/api/v1/libraries`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': size } }, (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (d) => (text += d));
      });
      req.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
      req.on('close', () => done({ status, body: text, error }));
      const piece = Buffer.alloc(64 << 10, 0x20);
      for (let sent = 0; sent < size; sent += piece.length) req.write(piece);
      req.end();
    });
    expect(error).toBeUndefined();
    expect(status).toBe(413);
    expect(JSON.parse(body).error).toMatchObject({ code: 'payload_too_large' });
  });

  it('never logs the value of a credential-like query parameter', async () => {
    await (await fetch(`${server.url}/api/v1/libraries?api_key=SeCrEt-1&access_token=SeCrEt-2&offset=0`)).text();
    await server.waitUntil((s) => s.includes('api_key=[REDACTED]'));
    expect(server.stderr()).toContain('access_token=[REDACTED]&offset=0');
    expect(server.stderr()).not.toMatch(/SeCrEt/);
  });
});
