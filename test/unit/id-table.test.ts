import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildIdTable, hashesByRow, idHash, idRowsBy, idTableProblem, idTableRows } from '../../src/store/id-table.js';

const idArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.uuid(),
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => `chk_${n.toString(16).padStart(16, "0")}`),
);

describe('id tables', () => {
  it('find every id at its row and nothing else, against a map (ids with repeats, any form)', () => {
    fc.assert(
      fc.property(fc.array(idArb, { maxLength: 300 }), fc.array(idArb, { maxLength: 30 }), (ids, probes) => {
        const table = buildIdTable(ids.length, (r) => ids[r]);
        expect(idTableProblem(table, ids.length)).toBeNull();
        const rowsOf = new Map<string, number[]>();
        ids.forEach((id, r) => rowsOf.set(id, [...(rowsOf.get(id) ?? []), r]));
        for (const id of [...ids, ...probes]) {
          // Candidates are the rows whose id hashes alike: all rows of the id, ascending, plus collisions (none here).
          expect(idTableRows(table, id)).toEqual(rowsOf.get(id) ?? []);
        }
        const byRow = hashesByRow(table);
        ids.forEach((id, r) => expect([byRow[r * 2], byRow[r * 2 + 1]]).toEqual(idHash(id)));
      }),
      { seed: 11, numRuns: 80 },
    );
  });

  it('sorts by the 64-bit hash, high word first, across all four radix digits', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i}`);
    const table = buildIdTable(ids.length, (r) => ids[r]);
    const keys = Array.from({ length: ids.length }, (_, i) => (BigInt(table[i * 3 + 1]) << 32n) | BigInt(table[i * 3]));
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    // Sequential ids spread over the hash space: no two of these 5000 collide.
    expect(new Set(keys).size).toBe(ids.length);
  });

  it('reports a table that does not fit its records', () => {
    const table = buildIdTable(4, (r) => `x${r}`);
    expect(idTableProblem(table, 5)).toMatch(/holds 4 entries for 5 records/);
    const swapped = table.slice();
    swapped.set(table.subarray(0, 3), 3);
    swapped.set(table.subarray(3, 6), 0);
    expect(idTableProblem(swapped, 4)).toMatch(/out of order/);
    const repeated = table.slice();
    repeated[5] = repeated[2];
    expect(idTableProblem(repeated, 4)).toMatch(/repeated/);
  });

  it('answer lookups entry by entry as from the whole table, reading about log2(n) entries, and refuse entries out of order on the way', () => {
    const ids = Array.from({ length: 4096 }, (_, i) => `row-${i}`);
    const table = buildIdTable(ids.length, (r) => ids[r]);
    let reads = 0;
    const read = (t: Uint32Array) => (i: number, out: Uint32Array) => {
      reads++;
      out.set(t.subarray(i * 3, i * 3 + 3));
    };
    for (const id of [...ids.slice(0, 300), 'absent', 'row-4096', '']) {
      reads = 0;
      expect(idRowsBy(ids.length, read(table), id)).toEqual(idTableRows(table, id));
      expect(reads).toBeLessThanOrEqual(14);
    }
    // A search for an id in the first quarter goes below the middle entry, then probes the quarter entry: made
    // larger than the middle one, it is out of order with what the search passed, and the lookup says so.
    const n = ids.length;
    const target = ids[table[5 * 3 + 2]];
    const damaged = table.slice();
    damaged.set(table.subarray((n - 1) * 3, n * 3), (n >>> 2) * 3);
    expect(() => idRowsBy(n, read(damaged), target)).toThrow(/entry 1024 is out of order/);
    expect(idRowsBy(n, read(table), target)).toEqual([table[5 * 3 + 2]]);
  });
});
