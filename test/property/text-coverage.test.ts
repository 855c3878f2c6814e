import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../../src/text/bm25.js';
import { refreshTextIndex, textCoverage, textsBy } from '../../src/text/coverage.js';
import { analyze } from '../../src/text/tokenizer.js';

const WORDS = ['red', 'green', 'blue', 'cats', 'cat', 'dogs', 'the', 'running', 'runs'];
const text = fc.array(fc.constantFrom(...WORDS), { maxLength: 8 }).map((w) => w.join(' '));
const op = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), text }),
  fc.record({ kind: fc.constant('edit' as const), at: fc.nat(), text }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('persist' as const) }),
);

describe('full-text coverage', () => {
  it('a refreshed index answers as one built from the current rows', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }), (ops, query) => {
        // The library: rows of (seq, text); every write takes a fresh seq.
        let rows: { seq: number; text: string }[] = [];
        let nextSeq = 0;
        let persisted = Bm25Index.create().serialize();
        for (const o of ops) {
          if (o.kind === 'add') rows.push({ seq: nextSeq++, text: o.text });
          else if (o.kind === 'edit' && rows.length > 0) rows[o.at % rows.length] = { seq: nextSeq++, text: o.text };
          else if (o.kind === 'delete' && rows.length > 0) rows = rows.filter((_, i) => i !== o.at % rows.length);
          else if (o.kind === 'persist') {
            const index = Bm25Index.from(persisted);
            refreshTextIndex(index, Uint32Array.from(rows, (r) => r.seq), textsBy((r) => rows[r].text));
            persisted = index.serialize();
          }
        }
        const seqs = Uint32Array.from(rows, (r) => r.seq);
        const stale = Bm25Index.from(persisted);
        const before = textCoverage(stale, seqs);
        const asked: number[] = [];
        const { added, removed } = refreshTextIndex(stale, seqs, textsBy((r) => (asked.push(r), rows[r].text)));
        expect(asked).toEqual(before.unindexedRows);
        expect([added, removed]).toEqual([before.unindexedRows.length, before.staleKeys.length]);
        expect(textCoverage(stale, seqs)).toEqual({ indexed: rows.length, unindexedRows: [], staleKeys: [] });
        const fresh = Bm25Index.create();
        rows.forEach((r) => fresh.add(r.seq, analyze(r.text)));
        expect(stale.search(analyze(query.join(' ')), 50)).toEqual(fresh.search(analyze(query.join(' ')), 50));
        expect(stale.serialize()).toEqual(fresh.serialize());
      }),
      { seed: 3, numRuns: 200 },
    );
  });
});
