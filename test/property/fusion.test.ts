import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuse, RRF_K, type ScoredKey } from '../../src/text/fusion.js';

/** A ranked list: distinct keys, scores descending with ties. */
const list = fc
  .uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 20 })
  .chain((keys) => fc.array(fc.integer({ min: 0, max: 4 }), { minLength: keys.length, maxLength: keys.length }).map((s) => ({ keys, s })))
  .map(({ keys, s }) => {
    const scores = [...s].sort((a, b) => b - a);
    return keys.map((key, i): ScoredKey => ({ key, score: scores[i] / 2 }));
  });

describe('fusion', () => {
  it('orders by the fused score, then best rank, then key, for both methods', () => {
    fc.assert(
      fc.property(list, list, fc.integer({ min: 0, max: 45 }), fc.constantFrom('rrf' as const, 'score' as const), fc.double({ min: 0, max: 1, noNaN: true }), (v, t, k, method, alpha) => {
        const got = fuse(v, t, k, { method, alpha });
        // The reference: every key of either list, scored from scratch.
        const keys = [...new Set([...v.map((h) => h.key), ...t.map((h) => h.key)])];
        const scale = (l: ScoredKey[]) => {
          const s = l.map((h) => h.score);
          const min = Math.min(...s);
          const max = Math.max(...s);
          return (x: number) => (max > min ? (x - min) / (max - min) : 1);
        };
        const sv = scale(v);
        const st = scale(t);
        const want = keys
          .map((key) => {
            const iv = v.findIndex((h) => h.key === key);
            const it = t.findIndex((h) => h.key === key);
            const score =
              method === 'rrf'
                ? (iv >= 0 ? 1 / (RRF_K + iv + 1) : 0) + (it >= 0 ? 1 / (RRF_K + it + 1) : 0)
                : alpha * (iv >= 0 ? sv(v[iv].score) : 0) + (1 - alpha) * (it >= 0 ? st(t[it].score) : 0);
            const best = Math.min(iv >= 0 ? iv : Infinity, it >= 0 ? it : Infinity);
            return { key, score, best, vector: iv >= 0 ? { rank: iv + 1, score: v[iv].score } : null, text: it >= 0 ? { rank: it + 1, score: t[it].score } : null };
          })
          .sort((a, b) => b.score - a.score || a.best - b.best || a.key - b.key)
          .slice(0, k)
          .map(({ key, score, vector, text }) => ({ key, score, vector, text }));
        expect(got).toEqual(want);
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('rewards agreement, and alpha moves score fusion between the modes', () => {
    const vector = [{ key: 1, score: -0.1 }, { key: 2, score: -0.2 }, { key: 3, score: -0.9 }];
    const text = [{ key: 3, score: 9 }, { key: 2, score: 5 }, { key: 4, score: 1 }];
    // Being in both lists beats topping one: 2 (ranks 2, 2) and 3 (3, 1) before 1 (1, -).
    expect(fuse(vector, text, 10, { method: 'rrf', alpha: 0.5 }).map((h) => h.key)).toEqual([3, 2, 1, 4]);
    expect(fuse(vector, text, 10, { method: 'score', alpha: 1 }).map((h) => h.key)).toEqual([1, 2, 3, 4]);
    // Text only: 4 scales to 0 (its list's minimum) and ties with 1, which has the better best rank.
    expect(fuse(vector, text, 10, { method: 'score', alpha: 0 }).map((h) => h.key)).toEqual([3, 2, 1, 4]);
    const [top] = fuse(vector, text, 1, { method: 'rrf', alpha: 0.5 });
    expect(top).toEqual({ key: 3, score: 1 / (RRF_K + 3) + 1 / (RRF_K + 1), vector: { rank: 3, score: -0.9 }, text: { rank: 1, score: 9 } });
    // Equal fused scores: the better best rank wins, then the smaller key.
    expect(fuse([{ key: 9, score: 1 }, { key: 8, score: 0 }], [{ key: 8, score: 1 }, { key: 9, score: 0 }], 2, { method: 'rrf', alpha: 0.5 }).map((h) => h.key)).toEqual([8, 9]);
    expect(() => fuse(vector, text, 3, { method: 'score', alpha: 1.5 })).toThrow(/alpha/);
    expect(() => fuse([{ key: 1, score: 1 }, { key: 1, score: 0 }], [], 3, { method: 'rrf', alpha: 0 })).toThrow(/twice/);
  });
});
