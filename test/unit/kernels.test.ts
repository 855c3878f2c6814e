import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { METRICS, adoptSharedRows, allocRows, distance, dot, l2sq, prepareData, prepareQuery, prepareRows, scan, shareRows, shareRowsFromStart } from '../../src/index/kernels.js';
import { TopK } from '../../src/index/topk.js';
import { INDEX_KINDS } from '../../src/index/registry.js';
import { BLOCK_QUERIES, WasmF32, blockScratch, interleaveQueries, sharedSimdAvailable, simdAvailable } from '../../src/index/simd.js';

/** Float64 reference loops; also Σ|terms| to scale the float32-lane tolerance. */
function naive(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): { dot: number; l2: number; absDot: number } {
  let d = 0;
  let l = 0;
  let abs = 0;
  for (let i = 0; i < n; i++) {
    const x = a[aOff + i];
    const y = b[bOff + i];
    d += x * y;
    abs += Math.abs(x * y);
    l += (x - y) * (x - y);
  }
  return { dot: d, l2: l, absDot: abs };
}

const r = seededRandom('kernels');
const gauss = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => scale * r.gaussian());

describe('JS kernels (float64 accumulation)', () => {
  it('match a naive float64 loop for dims 1..67 at any offsets', () => {
    for (let dim = 1; dim <= 67; dim++) {
      for (const scale of [1e-3, 1, 1e3]) {
        const a = gauss(dim + 5, scale);
        const b = gauss(dim + 9, scale);
        const aOff = dim % 5;
        const bOff = dim % 9;
        const want = naive(a, aOff, b, bOff, dim);
        // Exact products, float64 sums in a different order: a few ulps of Σ|terms|.
        expect(Math.abs(dot(a, aOff, b, bOff, dim) - want.dot)).toBeLessThanOrEqual(want.absDot * 1e-14);
        expect(Math.abs(l2sq(a, aOff, b, bOff, dim) - want.l2)).toBeLessThanOrEqual(want.l2 * 1e-14);
      }
    }
  });

  it('distance() applies each metric on top of them', () => {
    const q = gauss(13);
    const x = gauss(26);
    expect(distance('l2', q, x, 13, 13)).toBe(Math.sqrt(l2sq(q, 0, x, 13, 13)));
    expect(distance('cosine', q, x, 13, 13)).toBe(1 - dot(q, 0, x, 13, 13));
    expect(distance('dot', q, x, 13, 13)).toBe(-dot(q, 0, x, 13, 13));
    expect(distance('l2', q, q, 0, 13)).toBe(0);
  });

  it('handle dim 0', () => {
    expect(dot(new Float32Array(0), 0, new Float32Array(0), 0, 0)).toBe(0);
    expect(l2sq(new Float32Array(0), 0, new Float32Array(0), 0, 0)).toBe(0);
  });
});

describe('WebAssembly SIMD kernels (float32 lanes)', () => {
  it('are available on this runtime', () => {
    expect(simdAvailable()).toBe(true);
  });

  it('dot/l2sq match a naive float64 loop within float32 rounding, dims 1..67, unaligned offsets', () => {
    const w = new WasmF32(4096);
    for (let dim = 1; dim <= 67; dim++) {
      w.f32.set(gauss(4096));
      const aOff = 3 + (dim % 7);
      const bOff = 1000 + (dim % 11);
      const want = naive(w.f32, aOff, w.f32, bOff, dim);
      const u = 2 * (dim + 2) * 2 ** -24;
      expect(Math.abs(w.dot(aOff, bOff, dim) - want.dot)).toBeLessThanOrEqual(u * want.absDot + 1e-30);
      expect(Math.abs(w.l2sq(aOff, bOff, dim) - want.l2)).toBeLessThanOrEqual(u * want.l2 + 1e-30);
    }
  });

  it('dot4/l2sq4 give four distances per call over n4 (a multiple of 4) floats', () => {
    const w = new WasmF32(8192);
    for (let n4 = 4; n4 <= 68; n4 += 4) {
      w.f32.set(gauss(8192));
      const offs = [0, 700, 2001, 4003, 6005];
      const [q, ...xs] = offs;
      const out = 8000;
      const check = (squared: boolean): void => {
        const got = Array.from(w.f32.subarray(out, out + 4));
        xs.forEach((x, i) => {
          const want = naive(w.f32, q, w.f32, x, n4);
          const u = 2 * (n4 + 2) * 2 ** -24;
          if (squared) expect(Math.abs(got[i] - want.l2)).toBeLessThanOrEqual(u * want.l2 + 1e-30);
          else expect(Math.abs(got[i] - want.dot)).toBeLessThanOrEqual(u * want.absDot + 1e-30);
        });
      };
      w.dot4(q * 4, xs[0] * 4, xs[1] * 4, xs[2] * 4, xs[3] * 4, n4, out * 4);
      check(false);
      w.l2sq4(q * 4, xs[0] * 4, xs[1] * 4, xs[2] * 4, xs[3] * 4, n4, out * 4);
      check(true);
    }
  });

  it('dotBlock/l2sqBlock score every row against BLOCK_QUERIES interleaved queries, within the bound batch.ts assumes', () => {
    for (let dim = 1; dim <= 67; dim++) {
      const rows = 7;
      const layout = blockScratch(dim);
      const w = new WasmF32(layout.floats + rows * dim);
      const scale = [1e-3, 1, 1e3][dim % 3];
      w.f32.set(gauss(rows * dim, scale), layout.floats);
      // One query short of a full group: the missing one must not disturb the others.
      const qs = Array.from({ length: BLOCK_QUERIES - 1 }, () => gauss(dim, scale));
      w.f32.set(interleaveQueries(qs, dim), layout.group);
      const m = (dim >> 2) + (dim & 3) + 4;
      const gamma = (m * 2 ** -24) / (1 - m * 2 ** -24);
      const queryBlock = new Float32Array(qs.length * dim);
      qs.forEach((q, j) => queryBlock.set(q, j * dim));
      for (const squared of [false, true]) {
        (squared ? w.l2sqBlock : w.dotBlock)(layout.group * 4, layout.floats * 4, rows, dim * 4, dim, layout.out * 4);
        for (let r = 0; r < rows; r++) {
          qs.forEach((_, j) => {
            const got = w.f32[layout.out + r * BLOCK_QUERIES + j];
            const want = naive(queryBlock, j * dim, w.f32, layout.floats + r * dim, dim);
            if (squared) expect(Math.abs(got - want.l2)).toBeLessThanOrEqual(gamma * want.l2 + 2 ** -120);
            else expect(Math.abs(got - want.dot)).toBeLessThanOrEqual(gamma * want.absDot + 2 ** -120);
          });
        }
      }
    }
  });

  it('keep their memory fixed: views never detach', () => {
    const w = new WasmF32(100);
    const view = w.f32;
    for (let i = 0; i < 10; i++) new WasmF32(100_000);
    expect(view.length).toBe(100);
    expect(w.f32).toBe(view);
  });
});

describe('scan over allocRows blocks (f64x2 lanes)', () => {
  it('offers exactly the numbers distance() gives, every metric, dims 1..67', () => {
    for (let dim = 1; dim <= 67; dim += 3) {
      const rows = Math.ceil(20000 / dim);
      const plain = gauss(rows * dim, 0.5);
      const resident = allocRows(rows * dim, dim);
      resident.set(plain);
      expect(resident.byteOffset).toBeGreaterThan(0); // after the query scratch of a wasm memory
      for (const metric of METRICS) {
        const q = gauss(dim);
        const k = 25;
        const viaScan = new TopK(k);
        scan(metric, q, resident, dim, 3, rows, viaScan);
        const oracle = new TopK(k);
        for (let row = 3; row < rows; row++) oracle.push(distance(metric, q, plain, row * dim, dim), row);
        expect(viaScan.drain()).toEqual(oracle.drain());
      }
    }
  });

  it('bit-identical to dot/l2sq on every row (not only the top k)', () => {
    const dim = 61;
    const rows = 400;
    const resident = prepareData('cosine', gauss(rows * dim), dim);
    const q = prepareData('cosine', gauss(dim), dim);
    const all = new TopK(rows);
    scan('dot', q, resident, dim, 0, rows, all);
    const { keys, dists } = all.drain();
    keys.forEach((row, i) => expect(dists[i]).toBe(-dot(q, 0, resident, row * dim, dim)));
    const l2 = new TopK(rows);
    scan('l2', q, resident, dim, 0, rows, l2);
    const got = l2.drain();
    got.keys.forEach((row, i) => expect(got.dists[i]).toBe(Math.sqrt(l2sq(q, 0, resident, row * dim, dim))));
  });

  it('unit rows of an allocRows block (SIMD norms) equal those of a plain array, bit for bit', () => {
    for (const dim of [7, 384]) {
      const rows = Math.ceil(40000 / dim);
      const raw = gauss(rows * dim);
      const resident = allocRows(rows * dim, dim);
      resident.set(raw);
      expect(resident.byteOffset).toBeGreaterThan(0);
      const plain = Float32Array.from(raw);
      prepareRows('cosine', resident, dim, 0, rows);
      prepareRows('cosine', plain, dim, 0, rows);
      expect(Buffer.from(resident.buffer, resident.byteOffset, resident.byteLength).equals(Buffer.from(plain.buffer))).toBe(true);
    }
  });

  it('falls back to the JS kernels for plain arrays and small blocks', () => {
    const dim = 5;
    const small = allocRows(50, dim);
    small.set(gauss(50));
    const q = gauss(dim);
    const top = new TopK(3);
    scan('l2', q, small, dim, 0, 10, top);
    const want = new TopK(3);
    for (let r = 0; r < 10; r++) want.push(distance('l2', q, small, r * dim, dim), r);
    expect(top.drain()).toEqual(want.drain());
  });
});

describe('exact indexes over allocRows blocks', () => {
  it('linear and kdtree equal the oracle on plain arrays, bit for bit', () => {
    for (const [dim, metric] of [[3, 'l2'], [17, 'cosine'], [40, 'dot']] as const) {
      const rows = Math.ceil(30000 / dim);
      const raw = gauss(rows * dim);
      // Duplicates, so ties are broken by row.
      raw.copyWithin(dim * 5, 0, dim * 5);
      const data = metric === 'cosine' ? prepareData(metric, raw, dim) : allocRows(rows * dim, dim);
      if (metric !== 'cosine') data.set(raw);
      expect(data.byteOffset).toBeGreaterThan(0);
      const plain = Float32Array.from(data);
      const space = { metric, dim, data, rows, slotToRow: null };
      for (const type of ['linear', 'kdtree'] as const) {
        const index = INDEX_KINDS[type].build(space, {}, { random: { next: () => 0.5, gaussian: () => 0 } });
        for (let t = 0; t < 5; t++) {
          const q = prepareQuery(metric, t === 0 ? plain.slice(0, dim) : gauss(dim));
          const got = new TopK(12);
          index.search(q, space, got);
          const want = new TopK(12);
          for (let r = 0; r < rows; r++) want.push(distance(metric, q, plain, r * dim, dim), r);
          expect(got.drain(), `${type} ${metric}`).toEqual(want.drain());
        }
      }
    }
  });
});

describe('rows allocated shared (shareRowsFromStart)', () => {
  it('a pool adopts the block as it is: no copy, worker regions after the rows, the same scan results', () => {
    if (!sharedSimdAvailable()) return;
    const dim = 37;
    const rows = 600;
    const plain = gauss(rows * dim, 0.5);
    // Test files share this module's state (isolate: false): another may have called shareRowsFromStart already.
    expect(shareRows(plain, dim, 2)!.memory.buffer).not.toBe(plain.buffer); // a plain block is copied
    shareRowsFromStart(2);
    const block = allocRows(rows * dim, dim);
    block.set(plain);
    const shared = shareRows(block, dim, 2)!;
    expect(shared.memory.buffer).toBe(block.buffer);
    expect(shared.queries.every((at) => at >= shared.base + rows * dim)).toBe(true);
    expect(shareRows(block, dim, 1000)!.memory.buffer).not.toBe(block.buffer); // more workers than regions: a copy
    const view = adoptSharedRows(shared, 2);
    const q = gauss(dim);
    for (const metric of METRICS) {
      const a = new TopK(10);
      const b = new TopK(10);
      scan(metric, q, view, dim, 0, rows, a);
      scan(metric, q, block, dim, 0, rows, b);
      expect(a.drain()).toEqual(b.drain());
    }
    expect(Array.from(block)).toEqual(Array.from(plain));
  });
});
