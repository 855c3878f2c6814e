import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ascendingBelow, upperLayout } from '../../src/index/passes.js';

/** The same layout and checks, written out plainly: the oracle. */
function oracle(levels: Int32Array, upper: Int32Array, m: number, maxLevel: number): { words: number; top: number; offsets: number[] } | string {
  const offsets: number[] = [];
  let off = 0;
  let top = -1;
  for (let e = 0; e < levels.length; e++) {
    const level = levels[e];
    if (level < 0 || level > maxLevel) return 'hnsw level out of range';
    offsets.push(off);
    if (level === 0) continue;
    if (off + level * (1 + m) > upper.length) return 'hnsw upper links have the wrong length';
    for (let l = 1; l <= level; l++) {
      const at = off + (l - 1) * (1 + m);
      const count = upper[at];
      if (count < 0 || count > m) return 'hnsw link count out of range';
      for (let j = 1; j <= count; j++) {
        const nb = upper[at + j];
        if (nb < 0 || nb >= levels.length || levels[nb] < l) return 'hnsw link points to a missing node';
      }
    }
    off += level * (1 + m);
    top = Math.max(top, level);
  }
  return { words: off, top: levels.length > 0 ? Math.max(top, 0) : -1, offsets };
}

describe('passes (WebAssembly)', () => {
  it('upperLayout lays out and checks as the plain loop does, on valid and damaged arrays', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 60 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        fc.option(fc.record({ level: fc.boolean(), at: fc.nat(), value: fc.integer({ min: -2, max: 64 }) })),
        (m, rawLevels, draws, damage) => {
          const levels = Int32Array.from(rawLevels);
          const words = levels.reduce((s, l) => s + l * (1 + m), 0);
          // Lists drawn to fit (count ≤ m, neighbours that reach the level), then maybe one word or level damaged.
          const upper = new Int32Array(words);
          let at = 0;
          for (let e = 0; e < levels.length; e++) {
            for (let l = 1; l <= levels[e]; l++, at += 1 + m) {
              const fit = Array.from(levels.keys()).filter((nb) => levels[nb] >= l);
              const count = Math.min(m, fit.length, draws[at % draws.length] % (m + 1));
              upper[at] = count;
              for (let j = 1; j <= count; j++) upper[at + j] = fit[draws[(at + j) % draws.length] % fit.length];
            }
          }
          if (damage && damage.level && levels.length > 0) levels[damage.at % levels.length] = damage.value % 6;
          else if (damage && upper.length > 0) upper[damage.at % upper.length] = damage.value;
          const want = oracle(levels, upper, m, 3);
          const offsets = new Int32Array(levels.length);
          if (typeof want === 'string') {
            expect(() => upperLayout(levels, upper, m, 3, offsets)).toThrow(want);
          } else {
            const got = upperLayout(levels, upper, m, 3, offsets);
            expect({ ...got, offsets: Array.from(offsets) }).toEqual(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ascendingBelow', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 80 }), fc.integer({ min: 0, max: 2 ** 33 }), (values, limit) => {
        const want = values.every((v, i) => i === 0 || values[i - 1] < v) && (values.length === 0 || values[values.length - 1] < limit);
        expect(ascendingBelow(Uint32Array.from(values), limit)).toBe(want);
      }),
    );
    expect(ascendingBelow(Uint32Array.from({ length: 70000 }, (_, i) => i * 3), 210000)).toBe(true);
    expect(ascendingBelow(Uint32Array.from({ length: 70000 }, (_, i) => (i === 69999 ? 5 : i * 3)), 2 ** 32)).toBe(false);
  });
});
