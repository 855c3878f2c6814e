/** A local stand-in for the OpenAI and Cohere embedding endpoints, on 127.0.0.1, recording every request. */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';

export interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** What the next request gets instead of vectors; 'hang' never answers, 'pass' answers as usual. */
export type Scripted = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'malformed' | 'pass';

export interface MockEmbed {
  url: string;
  seen: Seen[];
  /** Answers for the next requests, in order; then vectors again. */
  script: Scripted[];
  close(): Promise<void>;
}

/** A deterministic unit-free vector of `dim` numbers for a text (and input type). */
export function fakeVector(text: string, dim: number, salt = ''): number[] {
  const h = createHash('sha256').update(`${salt}\0${text}`).digest();
  return Array.from({ length: dim }, (_, i) => (h[i % 32] - 127.5) / 128 + i / 1000);
}

export async function mockEmbed(opts: { dim?: number } = {}): Promise<MockEmbed> {
  const seen: Seen[] = [];
  const script: Scripted[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const next = script.shift();
      if (next === 'hang') {
        hanging.add(res);
        return;
      }
      if (next === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [{"index": 0}');
        return;
      }
      if (next && next !== 'pass') {
        res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers }).end(next.body ?? JSON.stringify({ error: { message: `scripted ${next.status}` } }));
        return;
      }
      if (req.headers.authorization !== 'Bearer sk-test-SECRET-0123456789') {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7, 14)}***` } }));
        return;
      }
      if (req.url === '/v1/embeddings') {
        const input = body.input as string[];
        const dim = (body.dimensions as number | undefined) ?? opts.dim ?? 8;
        const data = input.map((t, index) => ({ object: 'embedding', index, embedding: fakeVector(t, dim) }));
        // The API says order follows `index`; reversing checks that vdb reads it.
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: data.reverse(), model: body.model }));
      } else if (req.url === '/v2/embed') {
        const texts = body.texts as string[];
        const dim = (body.output_dimension as number | undefined) ?? opts.dim ?? 8;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', embeddings: { float: texts.map((t) => fakeVector(t, dim, String(body.input_type))) } }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'no such route' } }));
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    script,
    close: () =>
      new Promise((res) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

export const TEST_KEY = 'sk-test-SECRET-0123456789';
