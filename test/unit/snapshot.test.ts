import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptSnapshot } from '../../src/domain/errors.js';
import { Database, Library } from '../../src/domain/model.js';
import { seededRandom } from '../../src/domain/random.js';
import { INDEX_KINDS } from '../../src/index/registry.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/store/snapshot.js';

function libraryWith(vectors: Float32Array, dim: number): Library {
  const lib = new Library({ id: 'lib_a', name: 'a', dim, metric: 'l2', embedder: null, metadata: { k: [1, 'x'] }, created_at: 't0', updated_at: 't1', nextSeq: 0 });
  const n = vectors.length / dim;
  lib.append(
    Array.from({ length: n }, (_, i) => ({ id: `chk_${i}`, text: `t${i} "quoted" ✓`, metadata: { i }, tags: ['x'], created_at: 't', updated_at: 't', seq: 0 })),
    Array.from({ length: n }, (_, i) => vectors.slice(i * dim, (i + 1) * dim)),
  );
  return lib;
}

describe('snapshot encoding', () => {
  it('round-trips every finite float32 bit pattern exactly, and re-encodes to the same text', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 90 }), (values) => {
        const dim = 3;
        const raw = Float32Array.from(values.slice(0, values.length - (values.length % dim)));
        const db = new Database();
        db.libraries.push(libraryWith(raw, dim));
        const text = encodeSnapshot(db);
        const back = decodeSnapshot(text, 'mem');
        const got = back.libraries[0].vectors();
        expect(new Uint32Array(got.buffer, got.byteOffset, got.length)).toEqual(new Uint32Array(raw.buffer));
        expect(encodeSnapshot(back)).toBe(text);
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  it('keeps a built index across a round trip', () => {
    const dim = 4;
    const raw = Float32Array.from({ length: 40 * dim }, (_, i) => Math.sin(i));
    const db = new Database();
    const lib = libraryWith(raw, dim);
    const index = INDEX_KINDS.lsh.build(lib.searchSpace(), { tables: 3, bits: 4 }, { random: seededRandom(3) });
    lib.setIndex({ type: 'lsh', built_at: 't', coveredBelowSeq: lib.nextSeq, slotSeqs: Uint32Array.from(lib.chunks, (c) => c.seq), index });
    db.libraries.push(lib);
    const text = encodeSnapshot(db);
    const back = decodeSnapshot(text, 'mem').libraries[0];
    expect(back.indexView()).toEqual(lib.indexView());
    expect(encodeSnapshot(decodeSnapshot(text, 'mem'))).toBe(text);
  });
});

describe('corrupt snapshots are rejected with a clear message', () => {
  const db = new Database();
  db.libraries.push(libraryWith(Float32Array.from([1, 2, 3, 4, 5, 6]), 3));
  const good = encodeSnapshot(db);
  const doc = () => JSON.parse(good);
  const cases: [string, string, RegExp][] = [
    ['truncated', good.slice(0, good.length / 2), /not valid JSON.*truncated/],
    ['empty file', '', /not valid JSON/],
    ['not a snapshot', '{"hello": 1}', /not a vdb snapshot/],
    ['newer version', JSON.stringify({ ...doc(), version: 99 }), /format version 99, newer than this vdb reads/],
    ['unknown version', JSON.stringify({ ...doc(), version: 'x' }), /unknown format version/],
    ['vector rows missing', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], vectors: { dtype: 'f32', base64: 'AACAPw==' } }] }), /holds 0\.\d+ rows for 2 chunks|rows for 2 chunks/],
    ['bad base64', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], vectors: { dtype: 'f32', base64: '!!!!' } }] }), /not base64/],
    ['duplicate chunk id', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], chunks: [doc().libraries[0].chunks[0], doc().libraries[0].chunks[0]] }] }), /duplicate id/],
    ['absurd next_seq', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], next_seq: 1e15 }] }), /next_seq is beyond 2\^32/],
    ['unknown metric', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], metric: 'manhattan' }] }), /metric is unknown/],
    ['bad index', JSON.stringify({ ...doc(), libraries: [{ ...doc().libraries[0], index: { type: 'kdtree', params: {}, arrays: {} } }] }), /index/],
  ];
  it.each(cases)('%s', (_name, text, pattern) => {
    let err: unknown;
    try {
      decodeSnapshot(text, 'db.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorruptSnapshot);
    expect((err as CorruptSnapshot).display).toMatch(pattern);
    expect((err as CorruptSnapshot).display).not.toMatch(/\n/);
  });
});
