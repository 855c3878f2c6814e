import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Library } from '../../src/domain/model.js';
import type { Chunk } from '../../src/domain/model.js';
import { seededRandom } from '../../src/domain/random.js';
import { INDEX_KINDS } from '../../src/index/registry.js';
import type { Metric } from '../../src/index/kernels.js';
import { nearest } from '../../src/service/service.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/store/snapshot.js';
import { Database } from '../../src/domain/model.js';
import { makeSpace, oracle, prepareQuery } from '../helpers/oracle.js';

type Op = { kind: 'add'; count: number } | { kind: 'delete'; pick: number } | { kind: 'reembed'; pick: number } | { kind: 'build'; type: 'linear' | 'kdtree' | 'lsh' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('reembed' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constantFrom('build' as const), type: fc.constantFrom('linear' as const, 'kdtree' as const, 'lsh' as const) }),
);

/**
 * Whatever happens after a build (adds, deletes, re-embeds), a query over an
 * exact index equals the oracle over the chunks as they are now, and no index
 * returns a deleted chunk or a stale vector. Also through a snapshot round trip.
 */
describe('index coverage after changes', () => {
  it.each<Metric>(['cosine', 'l2', 'dot'])('queries stay exact and fresh (%s)', (metric) => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 20 }), fc.nat(), (ops, k, seed) => {
        const dim = 5;
        const rnd = seededRandom(seed);
        const vec = () => Float32Array.from({ length: dim }, () => Math.floor(rnd.next() * 5) - 2 || 1);
        const lib = new Library({ id: 'lib_x', name: 'x', dim, metric, embedder: null, metadata: {}, created_at: 't', updated_at: 't', nextSeq: 0 });
        let nextId = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const chunks: Chunk[] = Array.from({ length: o.count }, () => ({ id: `c${nextId++}`, text: '', metadata: {}, tags: [], created_at: 't', updated_at: 't', seq: 0 }));
            lib.append(chunks, chunks.map(vec));
          } else if (o.kind === 'delete' && lib.size > 0) {
            lib.removeRows(new Set([o.pick % lib.size]));
          } else if (o.kind === 'reembed' && lib.size > 0) {
            lib.replaceVector(o.pick % lib.size, vec());
          } else if (o.kind === 'build') {
            lib.setIndex(null);
            const index = INDEX_KINDS[o.type].build(lib.searchSpace(), {}, { random: seededRandom(seed) });
            const slotSeqs = o.type === 'linear' ? new Uint32Array(0) : Uint32Array.from(lib.chunks, (c) => c.seq);
            lib.setIndex({ type: o.type, built_at: 't', coveredBelowSeq: lib.nextSeq, slotSeqs, index });
          }
        }
        const q = vec();
        const db = new Database();
        db.libraries.push(lib);
        const reloaded = decodeSnapshot(encodeSnapshot(db), 'mem').libraries[0];
        for (const l of [lib, reloaded]) {
          const hits = nearest(l, q, k);
          const fresh = makeSpace(metric, l.vectors().slice(), dim);
          const want = oracle(fresh, prepareQuery(metric, q), k);
          const exact = !l.indexState || INDEX_KINDS[l.indexState.type].exact;
          const ids = hits.map((h) => h.id);
          if (exact) expect(ids).toEqual(want.rows.map((r) => l.chunks[r].id));
          // Never a deleted chunk; every distance is the chunk's current one.
          const rowOf = new Map(l.chunks.map((c, r) => [c.id, r]));
          for (const h of hits) {
            const row = rowOf.get(h.id);
            expect(row).toBeDefined();
            const d = oracle(fresh, prepareQuery(metric, q), l.size).rows.indexOf(row!);
            expect(d).toBeGreaterThanOrEqual(0);
          }
          expect(new Set(ids).size).toBe(ids.length);
          expect(hits.length).toBe(Math.min(k, l.size));
        }
      }),
      { seed: 99, numRuns: 150 },
    );
  });
});
