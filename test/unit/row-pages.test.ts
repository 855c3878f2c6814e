/**
 * RowPages (src/index/row-pages.ts): rows paged from a vectors sidecar into a
 * prepared block, page by page, in any order and any mix of single rows and
 * whole passes, must leave exactly the block a whole read and preparation
 * gives (no row prepared twice, none left raw); a damaged page is reported
 * each time it is needed, and the pages around it still serve.
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { allocRows, prepareRows } from '../../src/index/kernels.js';
import { RowPages } from '../../src/index/row-pages.js';
import { PAGE_BYTES } from '../../src/store/sidecar.js';
import type { PageSource } from '../../src/store/sidecar.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// 96-byte rows: many straddle two pages.
const DIM = 24;
const ROWS = 700;

function rowsFile(name: string, damagePage?: number): { source: PageSource; raw: Float32Array; close: () => void } {
  const raw = Float32Array.from({ length: ROWS * DIM }, (_, i) => Math.sin(i * 0.37) * 3 + (i % 7) - 3);
  const bytes = new Uint8Array(raw.buffer.slice(0));
  const table = new Uint32Array(Math.ceil(bytes.byteLength / PAGE_BYTES));
  for (let p = 0; p < table.length; p++) table[p] = crc32(bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES));
  if (damagePage !== undefined) bytes[damagePage * PAGE_BYTES + 17] ^= 0x40;
  const file = join(tmp.dir, name);
  writeFileSync(file, bytes);
  const fd = openSync(file, 'r');
  return { source: { fd, file: name, bytes: bytes.byteLength, table }, raw, close: () => closeSync(fd) };
}

function expected(raw: Float32Array): Float32Array {
  const out = allocRows(raw.length, DIM);
  out.set(raw);
  prepareRows('cosine', out, DIM, 0, ROWS);
  return out;
}

const refuse = (what: string): never => {
  throw new Error(`damaged: ${what}`);
};

describe('RowPages', () => {
  it('single rows in any order, then a whole pass, give the block a whole read and preparation gives, bit for bit', () => {
    const { source, raw, close } = rowsFile('rows.f32');
    const prepared = expected(raw);
    const want = new Uint8Array(prepared.buffer.slice(0));
    fc.assert(
      fc.property(fc.array(fc.nat(ROWS - 1), { maxLength: 300 }), (rows) => {
        const data = allocRows(ROWS * DIM, DIM);
        const pages = RowPages.open(source, ROWS, DIM, 'cosine', data, refuse, () => () => undefined);
        for (const r of rows) {
          pages.fill(r);
          // Filling again changes nothing: a row is prepared once.
          pages.fill(r);
          expect(data.subarray(r * DIM, (r + 1) * DIM)).toEqual(prepared.subarray(r * DIM, (r + 1) * DIM));
        }
        pages.fillAll();
        expect(new Uint8Array(data.buffer, data.byteOffset, ROWS * DIM * 4)).toEqual(want.subarray(data.byteOffset, data.byteOffset + ROWS * DIM * 4));
      }),
      { numRuns: 25 },
    );
    close();
  });

  it('reports a damaged page every time a row on it is needed; rows elsewhere still fill', () => {
    const { source, raw, close } = rowsFile('damaged.f32', 3);
    const data = allocRows(ROWS * DIM, DIM);
    const pages = RowPages.open(source, ROWS, DIM, 'cosine', data, refuse, () => () => undefined);
    const onPage3 = Math.ceil((3 * PAGE_BYTES) / (DIM * 4));
    for (let i = 0; i < 2; i++) expect(() => pages.fill(onPage3)).toThrow('damaged: sidecar damaged.f32 fails its checksum (damaged)');
    pages.fill(0);
    expect(data.subarray(0, DIM)).toEqual(expected(raw).subarray(0, DIM));
    expect(() => pages.fillAll()).toThrow('fails its checksum');
    expect(() => pages.fillAll()).toThrow('fails its checksum');
    close();
  });

  it("gives back only the claims of the holder named: another worker's claim, mid-read, stays its own", () => {
    const { source, raw, close } = rowsFile('holders.f32');
    const data = new Float32Array(new SharedArrayBuffer(ROWS * DIM * 4));
    const pages = RowPages.open(source, ROWS, DIM, 'cosine', data, refuse, () => () => undefined);
    // Two pools' workers over the same claims (one closing as the next starts) never share a name.
    const [first, second] = [pages.newHolder(), pages.newHolder()];
    expect(new Set([0, first, second]).size).toBe(3);
    const worker = RowPages.adopt(pages.share, data, second) as unknown as { readPages: (from: number, to: number) => void; fill: (row: number) => void };
    const read = worker.readPages.bind(worker);
    let during = 0;
    worker.readPages = (from, to) => {
      // The first holder's thread stopped while this one reads: releasing its claims leaves this one's held.
      pages.releaseClaimsOf(first);
      during = pages.share.pageStates[from];
      read(from, to);
    };
    worker.fill(0);
    expect(during).toBeLessThan(0);
    expect(pages.share.pageStates[0]).toBe(2);
    expect(data.subarray(0, DIM)).toEqual(expected(raw).subarray(0, DIM));
    close();
  });

  it('claims in shared memory only when the block is shared', () => {
    const { source, close } = rowsFile('plain.f32');
    const pages = RowPages.open(source, ROWS, DIM, 'l2', new Float32Array(ROWS * DIM), refuse, () => () => undefined);
    expect(pages.shared).toBe(false);
    const shared = new Float32Array(new SharedArrayBuffer(ROWS * DIM * 4));
    expect(RowPages.open(source, ROWS, DIM, 'l2', shared, refuse, () => () => undefined).shared).toBe(true);
    close();
  });
});
