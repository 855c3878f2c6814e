/** /openapi.json as clients read it, `vdb serve`'s readable logs, and its start-up refusals. */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import { formatLogLine } from '../../src/server/log-pretty.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdb } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const service = new VdbService({ path: join(tmp.dir, 'vdb.json') });

describe('/openapi.json', () => {
  it('marks defaulted query parameters optional, documents auth, errors and every response, and says text or embedding', async () => {
    const app = await buildApp({ service });
    const doc = JSON.parse((await app.inject('/openapi.json')).body);
    await app.close();
    const list = doc.paths['/api/v1/libraries/{lib}/chunks'].get;
    expect(Object.fromEntries(list.parameters.map((p: { name: string; required: boolean }) => [p.name, p.required]))).toEqual({ offset: false, limit: false, with_embedding: false, filter: false, where: false, lib: true });
    // No key on this server: the bearer scheme is optional; /healthz never needs it.
    expect(doc.security).toEqual([{}, { bearer: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    for (const [path, item] of Object.entries<Record<string, { responses: Record<string, { description: string }> }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, res] of Object.entries(op.responses)) expect(res.description, `${method} ${path} ${status}`).not.toBe('Default Response');
        if (path.startsWith('/api/')) expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['400', '401', '404', '422', '500', '503']));
      }
    }
    const query = doc.paths['/api/v1/libraries/{lib}/query'].post.requestBody.content['application/json'];
    expect(query.schema.oneOf).toEqual([{ required: ['text'] }, { required: ['embedding'] }]);
    // Swagger UI's "try it out" body is one of these, and the server takes both.
    const lib = await service.createLibrary({ name: 'ex', dim: 3, embedder: null });
    const modes = new Set<string | undefined>();
    for (const { value } of Object.values<{ value: { text?: string; mode?: string } }>(query.examples)) {
      modes.add(value.mode);
      if (value.text === undefined) expect((await service.query(lib.id, value)).hits).toEqual([]);
      else if (value.mode === undefined) expect(value).toEqual({ text: expect.any(String), k: expect.any(Number) });
      // A text mode needs no embedder: the server answers it on this library.
      else expect((await service.query(lib.id, { ...value, mode: 'text' })).hits).toEqual([]);
    }
    expect(modes).toContain('hybrid');
  });
});

describe('vdb serve logs', () => {
  it('pretty: one line per request, the path without its query string', async () => {
    let log = '';
    const logStream = new Writable({ write: (chunk, _enc, done) => ((log += chunk), done()) });
    const app = await buildApp({ service, logLevel: 'info', logStream, logFormat: 'pretty' });
    await app.inject('/api/v1/libraries/nope?api_key=s3cret');
    await app.inject('/healthz');
    await app.close();
    const lines = log.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d GET \/api\/v1\/libraries\/nope 404 \d+ ms$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d GET \/healthz 200 \d+ ms$/);
    expect(log).not.toContain('s3cret');
    expect(formatLogLine('{"level":50,"time":0,"msg":"request failed","err":{"message":"disk full"}}')).toBe('00:00:00 error request failed: disk full\n');
    expect(formatLogLine('not json')).toBe('not json\n');
  });
});

describe('vdb serve start-up', () => {
  it('exits 8 with one line when the snapshot directory is missing or the port is taken', async () => {
    const missing = vdb(['--db', join(tmp.dir, 'no-such-dir', 'x.json'), 'serve', '--port', '0']);
    expect(missing.code).toBe(8);
    expect(missing.stderr).toMatch(/^vdb: error: cannot serve .*x\.json: directory .*no-such-dir does not exist \(create it \(mkdir -p .*\) or choose another --db\)\n$/);
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    try {
      const { port } = taken.address() as AddressInfo;
      const r = vdb(['--db', join(tmp.dir, 'served.json'), 'serve', '--port', String(port)]);
      expect(r.code).toBe(8);
      expect(r.stderr).toMatch(new RegExp(`vdb: error: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use \\(stop the other server or choose another --port\\)\\n$`));
    } finally {
      taken.close();
    }
  });
});
