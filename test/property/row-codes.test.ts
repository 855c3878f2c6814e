import fc from 'fast-check';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { seededRandom } from '../../src/domain/random.js';
import { METRICS, distance } from '../../src/index/kernels.js';
import { CodedRows, codeStride, makeRowCodes } from '../../src/index/rowcodes.js';
import { TopK } from '../../src/index/topk.js';
import { nearestRows, VdbService } from '../../src/service/service.js';
import type { StoreTuning } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';
import { makeSpace, oracle, prepareQuery } from '../helpers/oracle.js';


/** Small integer coordinates (duplicates, exact ties) or Gaussian ones of any scale. */
const dataset = fc
  .record({
    dim: fc.integer({ min: 1, max: 48 }),
    n: fc.integer({ min: 1, max: 300 }),
    k: fc.integer({ min: 1, max: 40 }),
    seed: fc.integer({ min: 0, max: 1e9 }),
    ints: fc.boolean(),
    scale: fc.constantFrom(1e-3, 1, 1e4),
  })
  .map(({ dim, n, k, seed, ints, scale }) => {
    const rnd = seededRandom(seed);
    const value = () => (ints ? Math.floor(rnd.next() * 7) - 3 : scale * rnd.gaussian());
    const raw = Float32Array.from({ length: n * dim }, value);
    if (ints) for (let r = 1; r < n; r += 3) raw.copyWithin(r * dim, (r - 1) * dim, r * dim);
    for (let r = 0; r < n; r++) if (raw.subarray(r * dim, (r + 1) * dim).every((x) => x === 0)) raw[r * dim] = 1;
    const q = Float32Array.from({ length: dim }, value);
    if (q.every((x) => x === 0)) q[0] = 2;
    return { dim, n, k, raw, q };
  });

describe('row codes', () => {
  it.each(METRICS)('leave every row of the exact top k among their candidates (%s), ties included', (metric) => {
    fc.assert(
      fc.property(dataset, ({ dim, n, k, raw, q }) => {
        const { codes, params } = makeRowCodes(metric, raw, dim, n);
        const coded = new CodedRows(metric, dim, n, params);
        coded.codeBytes.set(new Uint8Array(codes.buffer));
        const space = makeSpace(metric, raw, dim);
        const pq = prepareQuery(metric, q);
        const top = new TopK(Math.min(k, n));
        const candidates = coded.candidates(pq, k);
        for (const r of candidates) top.push(distance(metric, pq, space.data, r * dim, dim), r);
        const { keys, dists } = top.drain();
        const truth = oracle(space, pq, k);
        expect(Array.from(keys)).toEqual(truth.rows);
        expect(Array.from(dists)).toEqual(truth.dists);
        for (let r = 0; r < n; r++) expect(coded.matches(r, space.data, r * dim)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it.each(METRICS)('give the same candidates streamed a window at a time as held whole (%s)', (metric) => {
    fc.assert(
      fc.property(dataset, fc.integer({ min: 1, max: 64 }), ({ dim, n, k, raw, q }, windowRows) => {
        const { codes, params } = makeRowCodes(metric, raw, dim, n);
        const held = new CodedRows(metric, dim, n, params);
        held.codeBytes.set(new Uint8Array(codes.buffer));
        const bytes = new Uint8Array(codes.buffer);
        const windows: number[] = [];
        const source = {
          scan: (window: Uint8Array, each: (filled: Uint8Array, offset: number) => void) => {
            for (let off = 0; off < bytes.length; off += window.length) {
              const filled = window.subarray(0, Math.min(window.length, bytes.length - off));
              filled.set(bytes.subarray(off, off + filled.length));
              windows.push(filled.length);
              each(filled, off);
            }
          },
          readRange: (into: Uint8Array, offset: number) => into.set(bytes.subarray(offset, offset + into.length)),
        };
        const streamed = new CodedRows(metric, dim, n, params, source, windowRows);
        const pq = prepareQuery(metric, q);
        expect(Array.from(streamed.candidates(pq, k))).toEqual(Array.from(held.candidates(pq, k)));
        // A window of rows at a time (when k leaves anything to rule out), never more.
        if (k < n) expect(windows).toHaveLength(Math.ceil(n / windowRows));
        expect(Math.max(0, ...windows)).toBeLessThanOrEqual(windowRows * codeStride(dim));
        for (const r of [0, n - 1]) expect(Array.from(streamed.code(r))).toEqual(Array.from(held.code(r)));
      }),
      { numRuns: 60 },
    );
  });

  it('rule most rows out on clustered data', () => {
    const dim = 64;
    const n = 4000;
    const rnd = seededRandom(3);
    const raw = Float32Array.from({ length: n * dim }, () => rnd.gaussian());
    const { codes, params } = makeRowCodes('cosine', raw, dim, n);
    const coded = new CodedRows('cosine', dim, n, params);
    coded.codeBytes.set(new Uint8Array(codes.buffer));
    expect(coded.candidates(prepareQuery('cosine', raw.slice(0, dim)), 10).length).toBeLessThan(n / 10);
  });
});

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SIDECARS: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
const NOW = () => '2023-11-14T22:13:20.000Z';

describe('a cold exact query through the row codes', () => {
  const rnd = seededRandom(11);
  const dim = 24;
  const rows = Array.from({ length: 500 }, (_, i) => Array.from({ length: dim }, () => (i % 5 === 4 ? 1 : Math.floor(rnd.next() * 9) - 4)));
  const queries = Array.from({ length: 6 }, () => Array.from({ length: dim }, () => rnd.gaussian()));

  it.each(METRICS)('answers as the scan of every row does (%s), rows appended since included', async (metric) => {
    const path = join(tmp.dir, `${metric}.json`);
    const first = new VdbService({ path, seed: 'codes', now: NOW, storage: SIDECARS });
    await first.createLibrary({ name: 'docs', dim, metric });
    await first.addChunks('docs', rows.slice(0, 450).map((embedding, i) => ({ id: `c${i}`, text: `row ${i}`, embedding })));
    await first.compact();
    // Log records on top of the generation: rows in memory, scanned exactly beside the codes' candidates.
    await first.addChunks('docs', rows.slice(450).map((embedding, i) => ({ id: `c${450 + i}`, text: `row ${450 + i}`, embedding })));
    const cold = new VdbService({ path, storage: SIDECARS }).store.read().library('docs');
    const warm = new VdbService({ path, storage: SIDECARS }).store.read().library('docs');
    warm.prepared();
    for (const q of queries) {
      for (const k of [1, 10, 600]) {
        const got = nearestRows(cold, Float32Array.from(q), k);
        expect(got.explain.search).toMatch(/row codes/);
        const want = nearestRows(warm, Float32Array.from(q), k);
        expect(want.explain.search).toBeNull();
        expect(Array.from(got.rows)).toEqual(Array.from(want.rows));
        expect(Array.from(got.distances)).toEqual(Array.from(want.distances));
      }
    }
  });

  it('refuses damaged codes or params (CorruptSnapshot) at the query and at a read of every row', async () => {
    const path = join(tmp.dir, 'damaged.json');
    const svc = new VdbService({ path, seed: 'codes', now: NOW, storage: SIDECARS });
    await svc.createLibrary({ name: 'docs', dim });
    await svc.addChunks('docs', rows.map((embedding, i) => ({ id: `c${i}`, text: `row ${i}`, embedding })));
    await svc.compact();
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const ref = manifest.libraries[0].row_codes;
    expect(ref).toMatchObject({ rows: 500, stride: 32 });
    const names = readdirSync(`${path}.d`);
    for (const file of [ref.file, ref.params.file]) {
      expect(names).toContain(file);
      const original = readFileSync(join(`${path}.d`, file));
      const bad = Buffer.from(original);
      bad[Math.floor(bad.length / 3)] ^= 4;
      writeFileSync(join(`${path}.d`, file), bad);
      const lib = () => new VdbService({ path, storage: SIDECARS }).store.read().library('docs');
      expect(() => nearestRows(lib(), Float32Array.from(queries[0]), 5)).toThrow(CorruptSnapshot);
      expect(() => lib().chunks).toThrow(CorruptSnapshot);
      writeFileSync(join(`${path}.d`, file), original);
    }
    expect(nearestRows(new VdbService({ path, storage: SIDECARS }).store.read().library('docs'), Float32Array.from(queries[0]), 5).rows.length).toBe(5);
  });
});
