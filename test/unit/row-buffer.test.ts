import fc from 'fast-check';
import { expect, it } from 'vitest';
import { RowBuffer } from '../../src/transfer/format.js';

it('RowBuffer keeps rows bit for bit, in its growable buffer and past it in blocks', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 300 }), (dim, rows, maxRows) => {
      const buf = new RowBuffer(dim, maxRows * dim * 4);
      const want = Float32Array.from({ length: rows * dim }, (_, i) => (i % 5 === 0 ? -0 : Math.fround(Math.sin(i) * 1e30)));
      for (let r = 0; r < rows; r++) buf.push(want.subarray(r * dim, (r + 1) * dim));
      expect(buf.length).toBe(rows);
      const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
      expect(bits(buf.all())).toEqual(bits(want));
      for (let r = 0; r < rows; r += 37) expect(bits(buf.row(r))).toEqual(bits(want.subarray(r * dim, (r + 1) * dim)));
    }),
    { seed: 7, numRuns: 60 },
  );
});
