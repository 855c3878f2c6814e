/**
 * An index built on a worker thread (what `vdb serve` does) is the index built
 * in place, byte for byte, and the calling thread goes on meanwhile. Runs the
 * compiled worker (dist/index/build-worker.js, made by `npm test`'s build).
 */
import { describe, expect, it } from 'vitest';
import { Library } from '../../src/domain/model.js';
import { seededRandom } from '../../src/domain/random.js';
import { refreshIndex } from '../../src/service/service.js';
import { runBuildJob, runBuildJobOffThread } from '../../src/index/build-job.js';
import type { BuildJob } from '../../src/index/build-job.js';
import { ROOT } from '../helpers/cli.js';

const WORKER = new URL(`file://${ROOT}/dist/index/build-worker.js`);

function library(rows: number, dim: number): Library {
  const lib = new Library({ id: 'lib_1', name: 'v', dim, metric: 'cosine', embedder: null, metadata: {}, created_at: 't', updated_at: 't', nextSeq: 0 });
  const rnd = seededRandom(3);
  const chunks = Array.from({ length: rows }, (_, i) => ({ id: `chk_${i}`, text: '', metadata: {}, tags: [], created_at: 't', updated_at: 't', seq: 0 }));
  lib.append(chunks, chunks.map(() => Float32Array.from({ length: dim }, () => rnd.next() - 0.5)));
  return lib;
}

function bytes(index: { serialize(): { params: object; arrays: Record<string, ArrayBufferView> } }): string {
  const s = index.serialize();
  return JSON.stringify(s.params) + Object.entries(s.arrays).map(([k, a]) => `${k}:${Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')}`).join();
}

describe('index builds on a worker thread', () => {
  it('give the index of a build in place, full and incremental, while this thread runs on', async () => {
    const lib = library(1500, 16);
    refreshIndex(lib, 'hnsw', { m: 8, ef_construction: 32 }, { builtAt: 't', randomKey: () => 'first' });
    lib.append(
      Array.from({ length: 40 }, (_, i) => ({ id: `chk_new${i}`, text: '', metadata: {}, tags: [], created_at: 't', updated_at: 't', seq: 0 })),
      Array.from({ length: 40 }, (_, i) => Float32Array.from({ length: 16 }, (_, d) => Math.sin(i + d))),
    );
    lib.preload(true);
    const space = lib.searchSpace();
    const current = lib.indexState!.index;
    const jobs: BuildJob[] = [
      { type: 'hnsw', params: { m: 8, ef_construction: 32 }, randomKey: 'full', space: { ...space, slotToRow: null }, reason: 'test' },
      { type: 'hnsw', params: { m: 8, ef_construction: 32 }, randomKey: 'update', space, update: { index: current, added: lib.unindexedRows() }, reason: '' },
      { type: 'lsh', params: { tables: 3 }, randomKey: 'lsh', space: { ...space, slotToRow: null }, reason: 'test' },
    ];
    for (const job of jobs) {
      const here = runBuildJob(job);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const progress: number[] = [];
      const there = await runBuildJobOffThread(job, (done) => progress.push(done), WORKER);
      clearInterval(timer);
      expect(there.mode).toBe(here.mode);
      expect([there.inserted, there.removed]).toEqual([here.inserted, here.removed]);
      expect(bytes(there.index)).toBe(bytes(here.index));
      // The event loop turned while the worker built (and progress crossed over).
      expect(ticks).toBeGreaterThan(0);
      if (job.type === 'hnsw') expect(progress.length).toBeGreaterThan(0);
    }
    expect(jobs[1].update && runBuildJob(jobs[1]).mode).toBe('incremental');
  });

  it('reports a failure of the worker as an error', async () => {
    const lib = library(10, 4);
    const job: BuildJob = { type: 'hnsw', params: { m: 1 }, randomKey: 1, space: lib.searchSpace(), reason: 'test' };
    await expect(runBuildJobOffThread(job, undefined, WORKER)).rejects.toThrow(/hnsw m must be an integer in 2\.\.256/);
  });
});
