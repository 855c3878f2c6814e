/**
 * HNSW builds on worker threads (src/index/build-threads.ts): with a seed the
 * index is byte for byte the same for any thread count, the one-thread build
 * from the TypeScript sources included, and keeps its recall. The digests are
 * pinned to those of the build that linked each batch in order on one thread
 * (main at 72c3e4c, before linking ran on the threads), so the split of the
 * linking into phases is shown to change no byte. The threaded
 * builds run the compiled modules (dist/, built by `npm test`; `npm run build`
 * first when running this file alone), whose worker script sits beside them.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import type { Random } from '../../src/domain/random.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { simdAvailable } from '../../src/index/simd.js';
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

/** The pinned digests hold for the WebAssembly kernels (the JS fallback rounds otherwise). */
const PINNED = simdAvailable();

/** Levels by position (0 elsewhere) for `drawLevel` with this m: u = 1 - m^-(l + 1/2) draws level l. */
function levelsAt(m: number, levels: Map<number, number>): Random {
  let i = 0;
  const base = seededRandom('levels');
  return {
    next: () => {
      const l = levels.get(i++) ?? 0;
      return l === 0 ? 0 : 1 - m ** -(l + 0.5);
    },
    gaussian: () => base.gaussian(),
  };
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
    if (PINNED) expect(one).toBe('f3b1b6951b8e2326dbe33952b42ced831920fb99fd610e514955c910b18d85bb');
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

  it('links a batch whose elements rise above the top level it started from as one element at a time would', async () => {
    const { HnswIndex: Compiled } = (await import(`${DIST}/hnsw.js`)) as { HnswIndex: typeof HnswIndex };
    // Top level 2 until the batch [4119, 4375): there 4300 rises to 4, and 4305 links level 3 to its batch-mate 4300 only.
    const dim = 12;
    const space = makeSpace('cosine', clustered(4400, dim, 20, 0.25, 5), dim);
    const params = { m: 6, ef_construction: 24 };
    const levels = new Map([[0, 2], [1, 1], [4300, 4], [4303, 1], [4305, 3], [4310, 2]]);
    const one = HnswIndex.build(space, params, { random: levelsAt(6, levels), threads: 1 }).serialize();
    expect(one.params.entry).toBe(4300);
    expect(Array.from(one.arrays.levels as Int32Array, (l, e) => (l > 0 ? `${e}:${l}` : '')).filter(Boolean)).toEqual(['0:2', '1:1', '4300:4', '4303:1', '4305:3', '4310:2']);
    if (PINNED) expect(digest(one)).toBe('1cc93bdf4d872a31dfc17a8f5ab8a131c1377103d8a4fc74032b60889c1c289b');
    for (const threads of [1, 2]) expect(digest(Compiled.build(space, params, { random: levelsAt(6, levels), threads }).serialize()), `${threads} threads`).toBe(digest(one));
  });
});
