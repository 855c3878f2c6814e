import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertGlove } from '../../src/embed/glove-convert.js';
import { decodeHeader } from '../../src/embed/glove-format.js';
import { GloveTable } from '../../src/embed/glove.js';

describe('GloVe conversion', () => {
  it('every word is found at its rank, rows within int8 rounding, the rest is unknown; the same input gives the same bytes', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z]{1,3})?$/), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 1000 }), (words, seed) => {
        const dim = 100;
        let s = seed;
        const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
        const vectors = Object.fromEntries(words.map((w) => [w, Array.from({ length: dim }, rnd)]));
        const raw = { dimensions: dim, words, vectors };
        const bytes = convertGlove(structuredClone(raw));
        expect(convertGlove(structuredClone(raw)).equals(bytes)).toBe(true);
        const dir = mkdtempSync(join(tmpdir(), 'vdb-glove-'));
        try {
          writeFileSync(join(dir, 't.bin'), bytes);
          const t = GloveTable.open(join(dir, 't.bin'));
          const header = decodeHeader(bytes);
          expect(header?.count).toBe(words.length);
          words.forEach((w, rank) => {
            expect(t.lookup(w)).toBe(rank);
            const row = new Float64Array(dim);
            t.addRow(rank, 1, row);
            const max = Math.max(...vectors[w].map(Math.abs));
            row.forEach((x, j) => expect(Math.abs(x - vectors[w][j])).toBeLessThanOrEqual(max / 254 + 1e-6));
          });
          expect(t.lookup('UNKNOWN')).toBe(-1);
          expect(Math.hypot(...t.component)).toBeCloseTo(1, 5);
          t.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 12, seed: 17 },
    );
  });
});
