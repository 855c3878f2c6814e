/**
 * HNSW builds on worker threads (src/index/build-threads.ts): with a seed the
 * index is byte for byte the same for any thread count, the one-thread build
 * from the TypeScript sources included, and keeps its recall. The threaded
 * builds run the compiled modules (dist/, built by `npm test`; `npm run build`
 * first when running this file alone), whose worker script sits beside them.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { TopK } from '../../src/index/topk.js';
import type { SerializedIndex } from '../../src/index/types.js';
import { ROOT } from '../helpers/cli.js';
import { clustered, makeSpace, oracle, prepareQuery } from '../helpers/oracle.js';

const DIST = `${ROOT}/dist/index`;

function digest(s: SerializedIndex): string {
  const h = createHash('sha256').update(JSON.stringify(s.params));
  for (const [name, a] of Object.entries(s.arrays)) h.update(name).update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

describe.runIf(existsSync(`${DIST}/build-thread-worker.js`))('hnsw build threads', () => {
  it('gives the same bytes on 1, 2 and 3 threads as the one-thread build, with the recall of the index', async () => {
    const { HnswIndex: Compiled } = (await import(`${DIST}/hnsw.js`)) as { HnswIndex: typeof HnswIndex };
    // 6,200 rows: threads need 2,048 rows each (3 here); batches of up to 256 from the 4,096th row on.
    const dim = 12;
    const raw = clustered(6200, dim, 20, 0.25, 3);
    const space = makeSpace('l2', raw, dim);
    const params = { m: 6, ef_construction: 24 };
    const one = digest(HnswIndex.build(space, params, { random: seededRandom('bt'), threads: 1 }).serialize());
    for (const threads of [1, 2, 3]) expect(digest(Compiled.build(space, params, { random: seededRandom('bt'), threads }).serialize()), `${threads} threads`).toBe(one);
    const index = Compiled.build(space, params, { random: seededRandom('bt'), threads: 2 });
    const rnd = seededRandom('bt-q');
    let found = 0;
    for (let i = 0; i < 100; i++) {
      const q = prepareQuery('l2', raw.slice(((i * 41) % 6200) * dim, (((i * 41) % 6200) + 1) * dim).map((x) => x + 0.05 * rnd.gaussian()));
      const top = new TopK(10);
      index.search(q, space, top, 32);
      const got = new Set(top.drain().keys);
      found += oracle(space, q, 10).rows.filter((r) => got.has(r)).length;
    }
    expect(found / 1000).toBeGreaterThanOrEqual(0.9);
  });
});
