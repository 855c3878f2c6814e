import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildIdTable, hashesByRow, idHash, idRowsBy, idTableProblem, idTableRows, INTERPOLATED_PROBES, rowsByHash, tableRowsByHash } from '../../src/store/id-table.js';

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

  it('answer lookups entry by entry as from the whole table, reading a few entries of uniform hashes, and refuse entries out of order on the way', () => {
    const ids = Array.from({ length: 4096 }, (_, i) => `row-${i}`);
    const table = buildIdTable(ids.length, (r) => ids[r]);
    let reads = 0;
    const probed: number[] = [];
    const read = (t: Uint32Array) => (i: number, out: Uint32Array) => {
      reads++;
      probed.push(i);
      out.set(t.subarray(i * 3, i * 3 + 3));
    };
    const counts: number[] = [];
    for (const id of [...ids.slice(0, 300), 'absent', 'row-4096', '']) {
      reads = 0;
      expect(idRowsBy(ids.length, read(table), id)).toEqual(idTableRows(table, id));
      counts.push(reads);
    }
    // Halving reads 13 or 14 entries here; aiming at the hash, the median lookup reads 6 (seen: at most 10).
    counts.sort((x, y) => x - y);
    expect(counts[counts.length >> 1]).toBeLessThanOrEqual(7);
    expect(counts[counts.length - 1]).toBeLessThanOrEqual(INTERPOLATED_PROBES);
    // Damage the entry a lookup probes second so that it is out of order with the first: the lookup says so.
    const n = ids.length;
    const target = ids[table[5 * 3 + 2]];
    probed.length = 0;
    idRowsBy(n, read(table), target);
    const [first, second] = probed;
    const damaged = table.slice();
    const wentDown = second < first;
    // Past the first probe's hash on the side the search left behind: larger than it if the search went below it.
    damaged.set(table.subarray(wentDown ? (n - 1) * 3 : 0, wentDown ? n * 3 : 3), second * 3);
    expect(() => idRowsBy(n, read(damaged), target)).toThrow(new RegExp(`entry ${second} is out of order`));
    expect(idRowsBy(n, read(table), target)).toEqual([table[5 * 3 + 2]]);
  });

  it('find every hash of a table that is not uniform, within the interpolated probes plus a halving search (and held whole, by halving alone)', () => {
    // Hashes bunched at the bottom of the range, runs of equal ones, and a few far above: aiming misleads here.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(64), fc.nat(3)), { minLength: 1, maxLength: 400 }), fc.array(fc.nat(0xffffffff), { maxLength: 5 }), (small, far) => {
        const keys = [...small.map(([h, l]) => [h, l]), ...far.map((h) => [h, 0])].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        const table = new Uint32Array(keys.length * 3);
        keys.forEach(([h, l], i) => table.set([l, h, i], i * 3));
        let reads = 0;
        const read = (i: number, out: Uint32Array) => {
          reads++;
          out.set(table.subarray(i * 3, i * 3 + 3));
        };
        for (const [h, l] of [...keys, [65, 0], [0, 9], [0xffffffff, 0xffffffff]]) {
          reads = 0;
          const expected = keys.flatMap(([kh, kl], i) => (kh === h && kl === l ? [i] : []));
          expect(rowsByHash(keys.length, read, l, h)).toEqual(expected);
          expect(tableRowsByHash(table, l, h)).toEqual(expected);
          expect(reads).toBeLessThanOrEqual(INTERPOLATED_PROBES + Math.ceil(Math.log2(keys.length + 1)) + expected.length + 1);
        }
      }),
      { seed: 12, numRuns: 100 },
    );
  });
});
