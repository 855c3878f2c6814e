import { describe, expect, it } from 'vitest';
import { VectorArena } from '../../src/domain/arena.js';
import { checkEmbedding } from '../../src/domain/validate.js';
import { encodeRecords } from '../../src/store/snapshot.js';

describe('encodeRecords', () => {
  it('writes the JSON array of the records, each record at its offset', () => {
    for (const records of [[], [{ a: 1 }], [{ id: 'x', text: 'ünïcödé ✓ 𝄞' }, { id: 'y', metadata: { n: [1, 2] } }, { e: '' }]]) {
      const { json, offsets } = encodeRecords(records);
      expect(json.toString('utf8')).toBe(JSON.stringify(records));
      expect(offsets![records.length]).toBe(json.length);
      records.forEach((r, i) => expect(JSON.parse(json.subarray(offsets![i], offsets![i + 1] - 1).toString('utf8'))).toEqual(r));
    }
  });
});

describe('checkEmbedding', () => {
  it('returns a valid Float32Array as it is, converts other input into the vector given', () => {
    const f = new Float32Array([1, 2, 3]);
    expect(checkEmbedding(f, 3)).toBe(f);
    expect(() => checkEmbedding(new Float32Array([1, NaN, 3]), 3, 'line 2')).toThrow('line 2: embedding[1] is NaN');
    const arena = new VectorArena(3);
    const a = checkEmbedding([4, 5, 6], 3, undefined, arena.take());
    const b = checkEmbedding([7, 8, 9], 3, undefined, arena.take());
    expect([...a, ...b]).toEqual([4, 5, 6, 7, 8, 9]);
    expect(a.buffer).toBe(b.buffer);
  });
});
