/**
 * Many parallel queries interleaved with writes from the server and from
 * separate `bin/vdb` processes on the same snapshot; after a restart, every
 * acknowledged write is there and nothing else is.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VdbClient } from '../../src/client/client.js';
import { seededRandom } from '../../src/domain/random.js';
import { tempDir, vdbAsync } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

const DIM = 4;

describe('vdb serve under concurrent readers and writers', () => {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'vdb.json');
  afterAll(cleanup);

  it('keeps every acknowledged write from the server and from CLI writers', async () => {
    const random = seededRandom('server-concurrency');
    const vec = () => Array.from({ length: DIM }, () => Math.round(random.next() * 1000) / 100);
    let server = await serve({ db });
    const client = new VdbClient(server.url);
    const lib = await client.createLibrary({ name: 'c', dim: DIM, metric: 'l2' });
    const seeded = await client.addChunks(lib.id, Array.from({ length: 8 }, (_, i) => ({ text: `seed ${i}`, embedding: vec() })));

    const queries = Array.from({ length: 60 }, () => client.query(lib.id, { embedding: vec(), k: 5 }));
    const singles = Array.from({ length: 10 }, (_, i) => client.addChunk({ lib_id: lib.id, text: `server ${i}`, embedding: vec() }).then((c) => [c.id]));
    const bulks = Array.from({ length: 4 }, (_, b) =>
      client.addChunks(lib.id, [0, 1, 2].map((i) => ({ text: `bulk ${b}.${i}`, embedding: vec() }))).then((cs) => cs.map((c) => c.id)),
    );
    const build = client.buildIndex(lib.id, { type: 'kdtree', leaf_size: 4 });
    const cli = Array.from({ length: 3 }, (_, p) => {
      const input = [0, 1, 2, 3, 4].map((i) => JSON.stringify({ text: `cli ${p}.${i}`, embedding: vec() })).join('\n');
      return vdbAsync(['chunk', 'add', '--lib', 'c', '--stdin'], { db, input }).then((r) => {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        return r.stdout.trim().split('\n');
      });
    });

    const answers = await Promise.all(queries);
    for (const a of answers) {
      expect(a.hits.length).toBe(5);
      expect(a.hits.map((h) => h.distance)).toEqual([...a.hits.map((h) => h.distance)].sort((x, y) => x - y));
    }
    expect((await build).type).toBe('kdtree');
    const acked = [...seeded.map((c) => c.id), ...(await Promise.all([...singles, ...bulks, ...cli])).flat()];
    expect(acked).toHaveLength(8 + 10 + 12 + 15);
    expect(new Set(acked).size).toBe(acked.length);

    // The running server sees the CLI's writes made underneath it…
    expect((await client.listChunks(lib.id, { limit: 1000 })).chunks.map((c) => c.id).sort()).toEqual([...acked].sort());
    // …and after a restart, so does a fresh one reading the file.
    expect(await server.stop('SIGTERM')).toBe(0);
    server = await serve({ db });
    try {
      const after = await new VdbClient(server.url).listChunks(lib.id, { limit: 1000 });
      expect(after.total).toBe(acked.length);
      expect(after.chunks.map((c) => c.id).sort()).toEqual([...acked].sort());
      const { hits } = await new VdbClient(server.url).query('c', { embedding: vec(), k: 100 });
      expect(hits).toHaveLength(acked.length);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
