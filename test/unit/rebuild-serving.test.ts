/**
 * While a library's index is built again from scratch off the main thread,
 * the index it had goes on answering the queries of a session on that same
 * library (a Node program writing through the service it queries: the build
 * changes the objects the session holds), and the new one replaces it when
 * done. (`vdb serve` reads while it writes: its writes change a private copy.)
 * Runs the compiled modules: the build runs the compiled build worker (`npm
 * test` builds it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/cli.js';
import { clustered } from '../helpers/oracle.js';
import type { QueryResult } from '../../src/domain/types.js';

const DIST = `${ROOT}/dist`;
const tmp = tempDir('vdb-rebuild-');
afterAll(() => tmp.cleanup());

describe.runIf(existsSync(`${DIST}/index/build-worker.js`))('a rebuild off the main thread', () => {
  it('leaves the old index answering until the new one is done', async () => {
    const { VdbService } = await import(`${DIST}/service/service.js`);
    const svc = new VdbService({ path: join(tmp.dir, 'db.json'), seed: 'rebuild', buildsOffThread: true });
    const dim = 16;
    const rows = 3000;
    await svc.createLibrary({ name: 'p', dim, metric: 'cosine', embedder: null });
    const raw = clustered(rows, dim, 8, 0.3, 5);
    await svc.addChunks('p', Array.from({ length: rows }, (_, i) => ({ embedding: Array.from(raw.subarray(i * dim, (i + 1) * dim)) })));
    await svc.buildIndex('p', { type: 'hnsw', m: 8, ef_construction: 64 });
    const session = await svc.querySession('p');
    const ask = (): Promise<QueryResult> => session.query({ embedding: Array.from(raw.subarray(0, dim)), k: 3, explain: true });
    const before = await ask();
    expect(before.explain).toMatchObject({ plan: 'index', index: 'hnsw' });
    // Asked once the build worker reports progress: the build is under way.
    let during: QueryResult | undefined;
    let asked: Promise<void> | undefined;
    await svc.buildIndex('p', { type: 'hnsw', full: true, params: { ef_construction: 96 } }, () => {
      asked ??= ask().then((r) => void (during = r));
    });
    await asked;
    expect(during?.explain).toMatchObject({ plan: 'index', index: 'hnsw' });
    expect(during?.hits).toEqual(before.hits);
    expect((await ask()).explain).toMatchObject({ plan: 'index', index: 'hnsw' });
    await session.close();
    expect((await svc.getLibrary('p')).index).toMatchObject({ type: 'hnsw', params: expect.objectContaining({ ef_construction: 96 }) });
  }, 60_000);
});
