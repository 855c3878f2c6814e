/**
 * Hand-assembled WebAssembly SIMD (f32x4) kernels, for indexes that keep their
 * own vectors in a `WasmF32` block. No toolchain: the module is the bytes
 * below, assembled when this file loads. Per kernel (dot shown; l2sq is the
 * same with a f32x4.sub and a square):
 *
 *   (func (param $a i32) (param $b i32) (param $n i32) (result f32)
 *     ;; $a, $b: byte offsets into the imported memory; $n: floats
 *     end16 = a + (n & ~15) * 4 ; 4 accumulators of 4 lanes
 *     while a < end16: acc0..3 += load(a + 0/16/32/48) * load(b + ...); a += 64; b += 64
 *     acc0 = (acc0 + acc1) + (acc2 + acc3)
 *     end4 = a + (n & 12) * 4 ; while a < end4: acc0 += load(a) * load(b); a += 16; b += 16
 *     s = (lane0 + lane1) + (lane2 + lane3)
 *     end = a + (n & 3) * 4  ; while a < end: s += f32(a) * f32(b); a += 4; b += 4
 *     return s)
 *
 * Lanes accumulate in float32, so results differ from the float64-accumulating
 * JS kernels by rounding (relative ~1e-6). Callers that must agree with
 * `distance()` to the bit (exact indexes, the oracle, the final ranking) use
 * the JS kernels or their float64 twins dotx/l2sqx; these are for navigation,
 * and (dotq/l2sqq, many queries per row) for batch.ts's filter, whose error
 * bound leaves the final ranking to the exact kernels.
 */

import { compiledOnce, prebuiltOr, section, sleb, uleb, wasmName as name } from './wasm-asm.js';
import type { PrebuiltBytes } from './wasm-asm.js';

const LOCAL_A = 0;
const LOCAL_B = 1;
const LOCAL_N = 2;
const LOCAL_END = 3;
const ACC = [4, 5, 6, 7];
const LOCAL_S = 8;
const TMP_V = 9;
const TMP_F = 10;

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const F64 = 0x7c;

const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const I32_ADD = 0x6a;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const I32_GE_U = 0x4f;
const F32_ADD = 0x92;
const F32_SUB = 0x93;
const F32_MUL = 0x94;
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const V128_LOAD = (offset: number): number[] => simd(0x00, 4, ...uleb(offset));
const F32X4_EXTRACT = (lane: number): number[] => simd(0x1f, lane);
const F32X4_ADD = simd(0xe4);
const F32X4_SUB = simd(0xe5);
const F32X4_MUL = simd(0xe6);
const F32_LOAD = [0x2a, 2, 0];

/** end = a + (n & mask) * 4 */
function setEnd(mask: number): number[] {
  return [...get(LOCAL_A), ...get(LOCAL_N), ...i32c(mask), I32_AND, ...i32c(2), I32_SHL, I32_ADD, ...set(LOCAL_END)];
}

/** a += step; b += step */
function advance(step: number): number[] {
  return [...get(LOCAL_A), ...i32c(step), I32_ADD, ...set(LOCAL_A), ...get(LOCAL_B), ...i32c(step), I32_ADD, ...set(LOCAL_B)];
}

/** block loop (br_if a >= end) body; advance; br 0 end end */
function loop(body: number[], step: number): number[] {
  return [0x02, 0x40, 0x03, 0x40, ...get(LOCAL_A), ...get(LOCAL_END), I32_GE_U, 0x0d, 1, ...body, ...advance(step), 0x0c, 0, 0x0b, 0x0b];
}

function kernelBody(squared: boolean): number[] {
  const vecTerm = (offset: number): number[] =>
    squared
      ? [...get(LOCAL_A), ...V128_LOAD(offset), ...get(LOCAL_B), ...V128_LOAD(offset), ...F32X4_SUB, 0x22, TMP_V, ...get(TMP_V), ...F32X4_MUL]
      : [...get(LOCAL_A), ...V128_LOAD(offset), ...get(LOCAL_B), ...V128_LOAD(offset), ...F32X4_MUL];
  const scalarTerm = squared
    ? [...get(LOCAL_A), ...F32_LOAD, ...get(LOCAL_B), ...F32_LOAD, F32_SUB, 0x22, TMP_F, ...get(TMP_F), F32_MUL]
    : [...get(LOCAL_A), ...F32_LOAD, ...get(LOCAL_B), ...F32_LOAD, F32_MUL];
  const acc = (i: number, offset: number): number[] => [...get(ACC[i]), ...vecTerm(offset), ...F32X4_ADD, ...set(ACC[i])];
  const body: number[] = [
    ...setEnd(~15),
    ...loop([...acc(0, 0), ...acc(1, 16), ...acc(2, 32), ...acc(3, 48)], 64),
    ...get(ACC[0]), ...get(ACC[1]), ...F32X4_ADD, ...get(ACC[2]), ...get(ACC[3]), ...F32X4_ADD, ...F32X4_ADD, ...set(ACC[0]),
    ...setEnd(12),
    ...loop(acc(0, 0), 16),
    ...get(ACC[0]), ...F32X4_EXTRACT(0), ...get(ACC[0]), ...F32X4_EXTRACT(1), F32_ADD,
    ...get(ACC[0]), ...F32X4_EXTRACT(2), ...get(ACC[0]), ...F32X4_EXTRACT(3), F32_ADD, F32_ADD, ...set(LOCAL_S),
    ...setEnd(3),
    ...loop([...get(LOCAL_S), ...scalarTerm, F32_ADD, ...set(LOCAL_S)], 4),
    ...get(LOCAL_S),
    0x0b,
  ];
  // locals after the 3 params: end i32, acc0..3 v128, s f32, tmp v128, tmp f32
  const locals = [5, 1, I32, 4, V128, 1, F32, 1, V128, 1, F32];
  const fn = [...locals, ...body];
  return [...uleb(fn.length), ...fn];
}

/**
 * dot4/l2sq4 (param $q $a $b $c $d $n4 $out): the distances from q to four
 * vectors at once, written as 4 f32 at $out. One accumulator per vector, so
 * the four streams of cache misses overlap. $n4 is a multiple of 4: callers
 * zero-pad their rows to it, so there is no scalar tail.
 */
function batchBody(squared: boolean): number[] {
  const Q = 0;
  const N4 = 5;
  const OUT = 6;
  const END = 7;
  const acc = [8, 9, 10, 11];
  const QV = 12;
  const T = 13;
  const ptr = [1, 2, 3, 4];
  const term = (i: number): number[] =>
    squared
      ? [...get(acc[i]), ...get(QV), ...get(ptr[i]), ...V128_LOAD(0), ...F32X4_SUB, 0x22, T, ...get(T), ...F32X4_MUL, ...F32X4_ADD, ...set(acc[i])]
      : [...get(acc[i]), ...get(QV), ...get(ptr[i]), ...V128_LOAD(0), ...F32X4_MUL, ...F32X4_ADD, ...set(acc[i])];
  const bump = (local: number): number[] => [...get(local), ...i32c(16), I32_ADD, ...set(local)];
  const hsum = (i: number): number[] => [
    ...get(acc[i]), ...F32X4_EXTRACT(0), ...get(acc[i]), ...F32X4_EXTRACT(1), F32_ADD,
    ...get(acc[i]), ...F32X4_EXTRACT(2), ...get(acc[i]), ...F32X4_EXTRACT(3), F32_ADD, F32_ADD,
  ];
  const body: number[] = [
    ...get(Q), ...get(N4), ...i32c(2), I32_SHL, I32_ADD, ...set(END),
    0x02, 0x40, 0x03, 0x40, ...get(Q), ...get(END), I32_GE_U, 0x0d, 1,
    ...get(Q), ...V128_LOAD(0), ...set(QV),
    ...term(0), ...term(1), ...term(2), ...term(3),
    ...bump(Q), ...bump(1), ...bump(2), ...bump(3), ...bump(4),
    0x0c, 0, 0x0b, 0x0b,
  ];
  for (let i = 0; i < 4; i++) body.push(...get(OUT), ...hsum(i), 0x38, 2, ...uleb(4 * i));
  body.push(0x0b);
  // locals after the 7 params: end i32, acc0..3 v128, qv v128, tmp v128
  const fn = [2, 1, I32, 6, V128, ...body];
  return [...uleb(fn.length), ...fn];
}

/**
 * dotx/l2sqx (param $a $b $n) (result f64): bit-identical to `dot`/`l2sq` of
 * kernels.ts. Those keep four float64 sums s0..s3 of lanes i mod 4 (products
 * of float32 are exact in float64), a scalar tail into s0, and return
 * (s0 + s1) + (s2 + s3). Here s0,s1 and s2,s3 are the two lanes of two
 * f64x2 accumulators fed by promoted float32 pairs: the same roundings in the
 * same order, two lanes per instruction.
 */
function exactBody(squared: boolean): number[] {
  const A = 0;
  const B = 1;
  const N = 2;
  const END = 3;
  const ACC01 = 4;
  const ACC23 = 5;
  const T = 6;
  const S0 = 7;
  const TS = 8;
  const pair = (offset: number): number[] => [
    ...get(A), ...simd(0x5d, 3, ...uleb(offset)), ...simd(0x5f),
    ...get(B), ...simd(0x5d, 3, ...uleb(offset)), ...simd(0x5f),
    ...(squared ? [...simd(0xf1), 0x22, T, ...get(T), ...simd(0xf2)] : simd(0xf2)),
  ];
  const body: number[] = [
    ...setEnd(~3),
    ...loop([...get(ACC01), ...pair(0), ...simd(0xf0), ...set(ACC01), ...get(ACC23), ...pair(8), ...simd(0xf0), ...set(ACC23)], 16),
    ...get(ACC01), ...simd(0x21, 0), ...set(S0),
    ...setEnd(3),
    ...loop(
      [
        ...get(S0),
        ...get(A), ...F32_LOAD, 0xbb, ...get(B), ...F32_LOAD, 0xbb,
        ...(squared ? [0xa1, 0x22, TS, ...get(TS), 0xa2] : [0xa2]),
        0xa0, ...set(S0),
      ],
      4,
    ),
    ...get(S0), ...get(ACC01), ...simd(0x21, 1), 0xa0,
    ...get(ACC23), ...simd(0x21, 0), ...get(ACC23), ...simd(0x21, 1), 0xa0,
    0xa0,
    0x0b,
  ];
  void N;
  // locals after the 3 params: end i32, acc01 acc23 tmp v128, s0 tmp f64
  const fn = [3, 1, I32, 3, V128, 2, F64, ...body];
  return [...uleb(fn.length), ...fn];
}

/**
 * idot4 (param $q $a $b $c $d $n16 $out): integer dot products of int8 rows,
 * q against four at once, written as 4 i32 at $out. Per 16 bytes: widen to
 * i16 (low and high halves), i32x4.dot_i16x8_s, add. $n16 is a multiple of
 * 16 bytes (rows are zero-padded). |sum| ≤ n·127², far from i32 overflow.
 */
function int8Body(): number[] {
  const Q = 0;
  const N16 = 5;
  const OUT = 6;
  const END = 7;
  const acc = [8, 9, 10, 11];
  const QLO = 12;
  const QHI = 13;
  const X = 14;
  const ptr = [1, 2, 3, 4];
  const EXT_LO = simd(0x87);
  const EXT_HI = simd(0x88);
  const DOT = simd(0xba);
  const ADD = simd(0xae);
  const term = (i: number): number[] => [
    ...get(ptr[i]), ...V128_LOAD(0), ...set(X),
    ...get(acc[i]),
    ...get(QLO), ...get(X), ...EXT_LO, ...DOT,
    ...get(QHI), ...get(X), ...EXT_HI, ...DOT,
    ...ADD, ...ADD, ...set(acc[i]),
  ];
  const bump = (local: number): number[] => [...get(local), ...i32c(16), I32_ADD, ...set(local)];
  const hsum = (i: number): number[] => [
    ...get(acc[i]), ...simd(0x1b, 0), ...get(acc[i]), ...simd(0x1b, 1), I32_ADD,
    ...get(acc[i]), ...simd(0x1b, 2), ...get(acc[i]), ...simd(0x1b, 3), I32_ADD, I32_ADD,
  ];
  const body: number[] = [
    ...get(Q), ...get(N16), I32_ADD, ...set(END),
    0x02, 0x40, 0x03, 0x40, ...get(Q), ...get(END), I32_GE_U, 0x0d, 1,
    ...get(Q), ...V128_LOAD(0), 0x22, X, ...EXT_LO, ...set(QLO), ...get(X), ...EXT_HI, ...set(QHI),
    ...term(0), ...term(1), ...term(2), ...term(3),
    ...bump(Q), ...bump(1), ...bump(2), ...bump(3), ...bump(4),
    0x0c, 0, 0x0b, 0x0b,
  ];
  for (let i = 0; i < 4; i++) body.push(...get(OUT), ...hsum(i), 0x36, 2, ...uleb(4 * i));
  body.push(0x0b);
  // locals after the 7 params: end i32, acc0..3 qlo qhi x v128
  const fn = [2, 1, I32, 7, V128, ...body];
  return [...uleb(fn.length), ...fn];
}

/** Queries per call of the block kernels: 6 accumulators, 6 query vectors and a row fill 13 of the 16 SIMD registers V8 uses on x64; 8 spill. */
export const BLOCK_QUERIES = 6;

/**
 * dotq/l2sqq (param $qb $x $rows $stride $n $out): `$rows` rows of `$n`
 * floats, `$stride` bytes apart from $x, each against BLOCK_QUERIES queries
 * at once, so a row loaded once serves them all. The queries are interleaved
 * at $qb (`interleaveQueries`): for each 4-float step, query j's four floats at
 * $qb + step·96 + j·16; then for each of the n mod 4 tail floats, 16 bytes
 * per query, the float in lane 0 and zeros after it. Per (row, query) one
 * float32 result at $out, row-major; rows need no padding.
 *
 * Four float32 lanes accumulate i mod 4, the tail goes into lane 0, then
 * (l0 + l1) + (l2 + l3): each product (and, for l2sqq, difference) meets at
 * most ⌊n/4⌋ + (n mod 4) + 2 additions, which is what batch.ts's error bound counts.
 */
function blockBody(squared: boolean): number[] {
  const Q = BLOCK_QUERIES;
  const [QB, X, ROWS, STRIDE, N, OUT, XP, QP, END] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const acc = Array.from({ length: Q }, (_, i) => 9 + i);
  const XV = 9 + Q;
  const T = XV + 1;
  // acc += (row - query)² or row·query, the query vector at qp + offset
  const term = (a: number, offset: number): number[] => [
    ...get(a),
    ...get(XV), ...get(QP), ...V128_LOAD(offset),
    ...(squared ? [...F32X4_SUB, 0x22, T, ...get(T), ...F32X4_MUL] : F32X4_MUL),
    ...F32X4_ADD, ...set(a),
  ];
  const terms = acc.flatMap((a, j) => term(a, 16 * j));
  const bump = (local: number, by: number[]): number[] => [...get(local), ...by, I32_ADD, ...set(local)];
  const whileBelowEnd = (body: number[]): number[] => [0x02, 0x40, 0x03, 0x40, ...get(XP), ...get(END), I32_GE_U, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
  const endAfter = (mask: number): number[] => [...get(XP), ...get(N), ...i32c(mask), I32_AND, ...i32c(2), I32_SHL, I32_ADD, ...set(END)];
  const lane = (a: number, i: number): number[] => [...get(a), ...F32X4_EXTRACT(i)];
  const store = (j: number): number[] => [
    ...get(OUT), ...lane(acc[j], 0), ...lane(acc[j], 1), F32_ADD, ...lane(acc[j], 2), ...lane(acc[j], 3), F32_ADD, F32_ADD, 0x38, 2, ...uleb(4 * j),
  ];
  const V128_ZERO = simd(0x0c, ...new Array(16).fill(0));
  const V128_LOAD32_ZERO = simd(0x5c, 2, 0);

  const body: number[] = [
    // while rows != 0
    0x02, 0x40, 0x03, 0x40, ...get(ROWS), 0x45, 0x0d, 1,
    ...acc.flatMap((a) => [...V128_ZERO, ...set(a)]),
    ...get(X), ...set(XP), ...get(QB), ...set(QP),
    ...endAfter(~3),
    ...whileBelowEnd([...get(XP), ...V128_LOAD(0), ...set(XV), ...terms, ...bump(XP, i32c(16)), ...bump(QP, i32c(16 * Q))]),
    ...endAfter(3),
    ...whileBelowEnd([...get(XP), ...V128_LOAD32_ZERO, ...set(XV), ...terms, ...bump(XP, i32c(4)), ...bump(QP, i32c(16 * Q))]),
    ...acc.flatMap((_, j) => store(j)),
    ...bump(OUT, i32c(4 * Q)), ...bump(X, get(STRIDE)), ...get(ROWS), ...i32c(1), 0x6b, ...set(ROWS),
    0x0c, 0, 0x0b, 0x0b,
    0x0b,
  ];
  // locals after the 6 params: xp qp end i32; the accumulators, the row vector and a temporary v128
  const fn = [2, 3, I32, Q + 2, V128, ...body];
  return [...uleb(fn.length), ...fn];
}

/**
 * Queries in the block kernels' layout (see `blockBody`): per 4-float
 * step, BLOCK_QUERIES vectors of 4; then per tail float, one vector per query
 * with the float in lane 0. Missing queries (a short last group) stay zero.
 */
export function interleaveQueries(queries: Float32Array[], dim: number): Float32Array {
  const Q = BLOCK_QUERIES;
  const n4 = dim & ~3;
  const out = new Float32Array(Q * (n4 + 4 * (dim & 3)));
  queries.forEach((q, j) => {
    for (let i = 0; i < n4; i++) out[(i >> 2) * 4 * Q + 4 * j + (i & 3)] = q[i];
    for (let t = 0; t < (dim & 3); t++) out[Q * n4 + 4 * (t * Q + j)] = q[n4 + t];
  });
  return out;
}

/**
 * bitdot4/bitdot1 (param $codes $q $cb $list $n $out): for each of the $n
 * slots listed (i32s at $list), K = Σ_p 2^p · popcount(code & plane_p), the
 * dot product of a 1-bit code with a query of 4 bits (or 1) given as bit
 * planes, and from it one f32 at $out: f · (a·K + c) + b · g (signcodes.ts).
 * Slot e's record, cb + 16 bytes at $codes + e·(cb + 16), is its code ($cb
 * bytes, a multiple of 16), then f and g (f32). At $q: a, b, c (f32), a word
 * of padding, then the planes, interleaved per 16 bytes of code: for chunk
 * c, plane p at $q + 16 + 16·(P·c + p). Per chunk and plane: and,
 * i8x16.popcnt, i8x16.add into a byte accumulator per plane (≤ 8 a chunk, so
 * exact while $cb ≤ 496); then widen to i16, shift by the plane, add, widen
 * to i32, sum the lanes. Each f32 operation rounds once, in this order:
 * a·K, + c, f·, b·g, +.
 */
function bitdotBody(planes: 1 | 4): number[] {
  const [CODES, Q, CB, LIST, N, OUT] = [0, 1, 2, 3, 4, 5];
  const [END, P, PEND, QP, STRIDE] = [6, 7, 8, 9, 10];
  const acc = Array.from({ length: planes }, (_, i) => 11 + i);
  const X = 11 + planes;
  const S = X + 1;
  const [KA, KB, KC] = [S + 1, S + 2, S + 3];
  const AND = simd(0x4e);
  const POPCNT = simd(0x62);
  const ADD8 = simd(0x6e);
  const WIDEN8 = simd(0x7d);
  const WIDEN16 = simd(0x7f);
  const SHL16 = simd(0x8b);
  const ADD16 = simd(0x8e);
  const V128_ZERO = simd(0x0c, ...new Array(16).fill(0));
  const f32load = (offset: number): number[] => [0x2a, 2, ...uleb(offset)];
  const plane = (p: number): number[] => [...get(acc[p]), ...get(X), ...get(QP), ...V128_LOAD(16 * p), ...AND, ...POPCNT, ...ADD8, ...set(acc[p])];
  const widened = (p: number): number[] => [...get(acc[p]), ...WIDEN8, ...(p === 0 ? [] : [...i32c(p), ...SHL16])];
  const sum = planes === 4 ? [...widened(0), ...widened(1), ...ADD16, ...widened(2), ...widened(3), ...ADD16, ...ADD16] : widened(0);
  const lane = (i: number): number[] => [...get(S), ...simd(0x1b, i)];
  const body: number[] = [
    ...get(Q), ...f32load(0), ...set(KA), ...get(Q), ...f32load(4), ...set(KB), ...get(Q), ...f32load(8), ...set(KC),
    ...get(CB), ...i32c(16), I32_ADD, ...set(STRIDE),
    ...get(LIST), ...get(N), ...i32c(2), I32_SHL, I32_ADD, ...set(END),
    0x02, 0x40, 0x03, 0x40, ...get(LIST), ...get(END), I32_GE_U, 0x0d, 1,
    ...get(CODES), ...get(LIST), 0x28, 2, 0, ...get(STRIDE), 0x6c, I32_ADD, 0x22, P, ...get(CB), I32_ADD, ...set(PEND),
    ...get(Q), ...i32c(16), I32_ADD, ...set(QP),
    ...acc.flatMap((a) => [...V128_ZERO, ...set(a)]),
    0x02, 0x40, 0x03, 0x40, ...get(P), ...get(PEND), I32_GE_U, 0x0d, 1,
    ...get(P), ...V128_LOAD(0), ...set(X),
    ...acc.flatMap((_, p) => plane(p)),
    ...get(P), ...i32c(16), I32_ADD, ...set(P), ...get(QP), ...i32c(16 * planes), I32_ADD, ...set(QP),
    0x0c, 0, 0x0b, 0x0b,
    ...sum, ...WIDEN16, ...set(S),
    // out = f · (a·K + c) + b · g
    ...get(OUT),
    ...get(PEND), ...f32load(0),
    ...get(KA), ...lane(0), ...lane(1), I32_ADD, ...lane(2), ...lane(3), I32_ADD, I32_ADD, 0xb2, F32_MUL, ...get(KC), F32_ADD,
    F32_MUL,
    ...get(KB), ...get(PEND), ...f32load(4), F32_MUL,
    F32_ADD,
    0x38, 2, 0,
    ...get(OUT), ...i32c(4), I32_ADD, ...set(OUT), ...get(LIST), ...i32c(4), I32_ADD, ...set(LIST),
    0x0c, 0, 0x0b, 0x0b,
    0x0b,
  ];
  // locals after the 6 params: end p pend qp stride i32; the accumulators, x and s v128; a b c f32
  const fn = [3, 5, I32, planes + 2, V128, 3, F32, ...body];
  return [...uleb(fn.length), ...fn];
}

/**
 * scalex (param $a $n $inv f64): f32[a..a+n) *= inv, each product in
 * float64 and rounded to float32, two at a time: bit-identical to the JS
 * loop `data[i] *= inv` on a Float32Array (promote, multiply, demote).
 */
function scaleBody(): number[] {
  const A = 0;
  const N = 1;
  const INV = 2;
  const END = 3;
  const SPLAT = 4;
  const body: number[] = [
    ...get(A), ...get(N), ...i32c(~1), I32_AND, ...i32c(2), I32_SHL, I32_ADD, ...set(END),
    ...get(INV), ...simd(0x14), ...set(SPLAT),
    0x02, 0x40, 0x03, 0x40, ...get(A), ...get(END), I32_GE_U, 0x0d, 1,
    ...get(A),
    ...get(A), ...simd(0x5d, 3, 0), ...simd(0x5f), ...get(SPLAT), ...simd(0xf2), ...simd(0x5e),
    ...simd(0x5b, 3, 0, 0),
    ...get(A), ...i32c(8), I32_ADD, ...set(A),
    0x0c, 0, 0x0b, 0x0b,
    // An odd count leaves one float.
    ...get(N), ...i32c(1), I32_AND, 0x04, 0x40,
    ...get(A), ...get(A), ...F32_LOAD, 0xbb, ...get(INV), 0xa2, 0xb6, 0x38, 2, 0,
    0x0b,
    0x0b,
  ];
  // locals after the 3 params: end i32, splat v128
  const fn = [2, 1, I32, 1, V128, ...body];
  return [...uleb(fn.length), ...fn];
}

/** Rows per block-kernel call: a tile of about 512 KiB stays in L2 while every query group passes over it. */
export function blockTileRows(dim: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 ** 17 / dim)));
}

/**
 * Float offsets of the scratch in front of an `allocRows` block: the single
 * query of `dotExact`/`l2sqExact` at 0, then one interleaved query group for
 * the block kernels, then their results for a tile of rows.
 */
export function blockScratch(dim: number): { group: number; out: number; floats: number } {
  const group = (dim + 3) & ~3;
  const out = group + BLOCK_QUERIES * ((dim & ~3) + 4 * (dim & 3));
  return { group, out, floats: out + blockTileRows(dim) * BLOCK_QUERIES };
}

/**
 * The module's bytes: imports memory "k"."m", exports the kernels. `shared`:
 * the import is a shared memory (threads proposal limits flag 3, maximum
 * 65536 pages), which worker threads can all bind their own instance to.
 */
export function kernelModuleBytes(shared = false): Uint8Array {
  const memoryImport = shared ? [0x02, 0x03, 0x00, ...uleb(65536)] : [0x02, 0x00, 0x00];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [5, 0x60, 3, I32, I32, I32, 1, F32, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 0, 0x60, 3, I32, I32, I32, 1, F64, 0x60, 6, I32, I32, I32, I32, I32, I32, 0, 0x60, 3, I32, I32, F64, 0]),
    ...section(2, [1, ...name('k'), ...name('m'), ...memoryImport]),
    ...section(3, [12, 0, 0, 1, 1, 2, 2, 1, 3, 3, 4, 3, 3]),
    ...section(7, [
      12,
      ...name('dot'), 0x00, 0, ...name('l2sq'), 0x00, 1, ...name('dot4'), 0x00, 2, ...name('l2sq4'), 0x00, 3,
      ...name('dotx'), 0x00, 4, ...name('l2sqx'), 0x00, 5, ...name('idot4'), 0x00, 6,
      ...name('dotq'), 0x00, 7, ...name('l2sqq'), 0x00, 8, ...name('scalex'), 0x00, 9, ...name('bitdot4'), 0x00, 10,
      ...name('bitdot1'), 0x00, 11,
    ]),
    ...section(10, [
      12,
      ...kernelBody(false), ...kernelBody(true), ...batchBody(false), ...batchBody(true), ...exactBody(false), ...exactBody(true), ...int8Body(),
      ...blockBody(false), ...blockBody(true), ...scaleBody(), ...bitdotBody(4), ...bitdotBody(1),
    ]),
  ];
  return new Uint8Array(bytes);
}

type Kernel = (a: number, b: number, n: number) => number;
type Kernel4 = (q: number, a: number, b: number, c: number, d: number, n4: number, out: number) => void;
/** (qb, x, rows, stride, n, out), byte offsets but rows and n; see blockBody. */
export type BlockKernel = (qb: number, x: number, rows: number, stride: number, n: number, out: number) => void;

// The project's lib settings (ES2022, node types) do not declare WebAssembly.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(desc: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  class Instance {
    constructor(mod: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}

/** kernelModuleBytes' base64 as scripts/bundle.mjs defines it in the CLI bundle; undefined outside it. */
declare const __VDB_KERNEL_BYTES__: PrebuiltBytes | undefined;

const compiledKernels = compiledOnce(prebuiltOr(typeof __VDB_KERNEL_BYTES__ === 'undefined' ? undefined : __VDB_KERNEL_BYTES__, kernelModuleBytes));

function kernelModule(shared = false): WebAssembly.Module | null {
  return compiledKernels(shared);
}

/** A WebAssembly memory, as posted to worker threads (only shared ones can be). */
export type WasmMemory = WebAssembly.Memory;

let enabled = true;

/**
 * Turns the SIMD kernels off (or back on) for blocks allocated from now on;
 * for tests and benchmarks of the JS fallback. Navigation rounding differs,
 * so an HNSW built without SIMD is valid but not byte-identical.
 */
export function useSimd(on: boolean): void {
  enabled = on;
}

/** True when this runtime runs the SIMD module (Node ≥ 16.4 does) and it is enabled. */
export function simdAvailable(): boolean {
  return enabled && kernelModule() !== null;
}

/** True when the SIMD module also runs on shared memories, so worker threads can share blocks. */
export function sharedSimdAvailable(): boolean {
  return simdAvailable() && kernelModule(true) !== null;
}

/**
 * A Float32Array of fixed length in its own WebAssembly memory (never grown,
 * so the view never detaches), with the kernels bound to that memory.
 * Offsets passed to `dot`/`l2sq` are float indexes into `f32`; `dot4`/`l2sq4`/
 * `idot4` take byte offsets.
 */
export class WasmF32 {
  readonly f32: Float32Array;
  private readonly dotK: Kernel;
  private readonly l2K: Kernel;
  /** Raw batch kernels over byte offsets; see batchBody. */
  readonly dot4: Kernel4;
  readonly l2sq4: Kernel4;
  readonly idot4: Kernel4;
  private readonly dotX: Kernel;
  private readonly l2X: Kernel;
  /** Block kernels over byte offsets; see blockBody. */
  readonly dotBlock: BlockKernel;
  readonly l2sqBlock: BlockKernel;
  private readonly scaleX: (a: number, n: number, inv: number) => void;
  /** (codes, q, cb, list, n, out), byte offsets; see bitdotBody: 4 query planes, and 1. */
  readonly bitdot4: BlockKernel;
  readonly bitdot1: BlockKernel;
  /** The memory; with `shared`, one a worker thread can bind with `WasmF32.over`. */
  readonly memory: WebAssembly.Memory;

  /**
   * @param length floats
   * @param opts.shared a shared memory (SharedArrayBuffer-backed), for worker threads
   * @param opts.memory bind to this (shared) memory instead of allocating one
   * @throws Error when SIMD (or, for shared, the threads proposal) is unavailable, or out of address space
   */
  constructor(length: number, opts: { shared?: boolean; memory?: WebAssembly.Memory } = {}) {
    const shared = opts.shared === true || opts.memory !== undefined;
    const mod = kernelModule(shared);
    if (mod === null) throw new Error('WebAssembly SIMD is not available');
    const pages = Math.max(1, Math.ceil((length * 4) / 65536));
    const memory = opts.memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, ...(shared ? { shared: true } : {}) });
    this.memory = memory;
    const inst = new WebAssembly.Instance(mod, { k: { m: memory } });
    this.f32 = new Float32Array(memory.buffer, 0, length);
    this.dotK = inst.exports.dot as Kernel;
    this.l2K = inst.exports.l2sq as Kernel;
    this.dot4 = inst.exports.dot4 as Kernel4;
    this.l2sq4 = inst.exports.l2sq4 as Kernel4;
    this.idot4 = inst.exports.idot4 as Kernel4;
    this.dotX = inst.exports.dotx as Kernel;
    this.l2X = inst.exports.l2sqx as Kernel;
    this.dotBlock = inst.exports.dotq as BlockKernel;
    this.l2sqBlock = inst.exports.l2sqq as BlockKernel;
    this.scaleX = inst.exports.scalex as (a: number, n: number, inv: number) => void;
    this.bitdot4 = inst.exports.bitdot4 as BlockKernel;
    this.bitdot1 = inst.exports.bitdot1 as BlockKernel;
  }

  /** f32[a..a+n) *= inv, bit-identical to the JS loop on a Float32Array. */
  scaleExact(a: number, n: number, inv: number): void {
    this.scaleX(a << 2, n, inv);
  }

  /** Dot product of f32[a..a+n) and f32[b..b+n), float32 lanes. */
  dot(a: number, b: number, n: number): number {
    return this.dotK(a << 2, b << 2, n);
  }

  /** Bit-identical to kernels.ts `dot(f32, a, f32, b, n)`, float64 lanes. */
  dotExact(a: number, b: number, n: number): number {
    return this.dotX(a << 2, b << 2, n);
  }

  /** Bit-identical to kernels.ts `l2sq(f32, a, f32, b, n)`. */
  l2sqExact(a: number, b: number, n: number): number {
    return this.l2X(a << 2, b << 2, n);
  }

  /** Squared Euclidean distance of f32[a..a+n) and f32[b..b+n). */
  l2sq(a: number, b: number, n: number): number {
    return this.l2K(a << 2, b << 2, n);
  }
}
