/**
 * The stdin reader's number scanner in WebAssembly (embedding-line.ts calls
 * it first): `n, n, …]` read from bytes copied into its memory, each number's
 * significant digits into an exact u64 (at most 19 of them), scaled by the
 * double nearest 10^e, rounded to float32 and kept only when both ends of a
 * ±2^-46 interval around the estimate round to the same float32, as
 * embedding-line.ts's JS reader does. Anything else it does not settle (a
 * number near a float32 rounding boundary, more digits, a far exponent, bad
 * syntax) it gives back to that reader, which decides, so the values and what
 * is refused are the JS reader's, bit for bit; this only does its common case
 * in fewer instructions: a u64 instead of a double multiply-add, and the
 * fraction's digits eight or four at a time (a float32 as JSON.stringify
 * writes it has ~17 of them: 27.7 → 16.5 ns a number).
 *
 * Memory: POW10 (309 f64) at 0, the `]` offset (i32) at CLOSE_AT, the line's
 * bytes from IN, the float32 values as f64 from OUT.
 */
import { F32, F64, Func, I32, I64, OP, f64Load, f64Store, f64c, i32Load8u, i32LoadU, i32Store, i32c, i64LoadU, i64c, i64cBig, moduleBytes, prebuiltOr } from '../index/wasm-asm.js';
import type { Code, PrebuiltBytes } from '../index/wasm-asm.js';
import { CLOSE_BRACKET, COMMA, DOT, DOWN, LOWER_E, MAX_DIGITS, MINUS, NINE, PLUS, POW10, SPACE, TAB, UP, UPPER_E, ZERO } from './json-number.js';

const CLOSE_AT = 2560;
const IN = 4096;
/** scan's results other than a count: give the line to the JS reader. */
const GIVE_BACK = -1;

/** scan(p, end, out) → numbers read (the `]` offset at CLOSE_AT), or GIVE_BACK; p, end: byte offsets; out: where the f64 go. */
function scanFunc(): Func {
  const f = new Func([['p', I32], ['end', I32], ['out', I32]], [I32]);
  f.locals(I32, 'n', 'c', 'neg', 'digits', 'exp10', 'e', 'esign', 'w4');
  f.locals(I64, 'm', 'w');
  f.locals(F64, 'x', 'v');
  f.locals(F32, 'r');
  const g = (name: string): Code => f.get(name);
  /** c = p < end ? byte at p : -1 */
  const load: Code = f.set('c', [...g('p'), ...i32Load8u(), ...i32c(-1), ...g('p'), ...g('end'), ...OP.i32LtS, ...OP.select]);
  const next: Code = [...f.set('p', [...g('p'), ...i32c(1), ...OP.i32Add]), ...load];
  const isDigit: Code = [...g('c'), ...i32c(ZERO), ...OP.i32GeS, ...g('c'), ...i32c(NINE), ...OP.i32LeS, ...OP.i32And];
  const is = (ch: number): Code => [...g('c'), ...i32c(ch), ...OP.i32Eq];
  const giveBack: Code = [...i32c(GIVE_BACK), ...OP.ret];
  const skipSpace: Code = [
    ...load,
    ...f.block('spaced', () => [
      f.loop('space', () => [f.brIf('spaced', [...is(SPACE), ...is(TAB), ...OP.i32Or, ...OP.i32Eqz]), next, f.br('space')]),
    ]),
  ];
  /**
   * One more significant digit into m (and, after the point, one place less:
   * `frac`). Past 19 of them a zero changes nothing but the scale (JSON.stringify
   * writes a large float32 as 20 digits, zeros last), any other digit is given back.
   */
  const digit = (frac: boolean): Code => [
    ...f.ifElse(
      [...g('digits'), ...i32c(MAX_DIGITS), ...OP.i32LtS],
      () => [
        f.set('m', [...g('m'), ...i64c(10), ...OP.i64Mul, ...g('c'), ...i32c(ZERO), ...OP.i32Sub, ...OP.i64ExtendI32U, ...OP.i64Add]),
        f.set('digits', [...g('digits'), ...i32c(1), ...OP.i32Add]),
        frac ? f.set('exp10', [...g('exp10'), ...i32c(1), ...OP.i32Sub]) : [],
      ],
      () => [f.when([...is(ZERO), ...OP.i32Eqz], () => [giveBack]), frac ? [] : f.set('exp10', [...g('exp10'), ...i32c(1), ...OP.i32Add])],
    ),
  ];
  const pow10 = (k: Code): Code => [...k, ...i32c(3), ...OP.i32Shl, ...f64Load()];
  /**
   * n (8 or 4) fraction digits at p taken in one step when all n bytes are
   * digits, the first of them is significant (past a leading zero) and m has room for them
   * (what n steps of digit(true) would do); then on to the next run, or out
   * of the fraction. SWAR as in Lemire's fast_float: 0x30..0x39 in every byte
   * is a high nibble of 3 both before and after adding 6 to each.
   */
  const fracRun = (n: 8 | 4): Code =>
    f.when(
      [
        ...g('digits'), ...OP.i32Eqz, ...OP.i32Eqz, ...is(ZERO), ...OP.i32Eqz, ...OP.i32Or,
        ...g('digits'), ...i32c(MAX_DIGITS - n), ...OP.i32LeS, ...OP.i32And,
        ...g('p'), ...i32c(n), ...OP.i32Add, ...g('end'), ...OP.i32LeS, ...OP.i32And,
      ],
      () => [
        n === 8 ? f.set('w', g('p'), i64LoadU()) : f.set('w4', g('p'), i32LoadU()),
        f.when(n === 8 ? eightDigits : fourDigits, () => [
          f.set('m', g('m'), i64c(10 ** n), OP.i64Mul, n === 8 ? eightValue : [...fourValue, ...OP.i64ExtendI32U], OP.i64Add),
          f.set('digits', g('digits'), i32c(n), OP.i32Add),
          f.set('exp10', g('exp10'), i32c(n), OP.i32Sub),
          f.set('p', g('p'), i32c(n), OP.i32Add),
          load,
          f.brIf('frac', isDigit),
          f.br('fracEnd'),
        ]),
      ],
    );
  const HI8 = i64cBig(0xf0f0f0f0f0f0f0f0n);
  const eightDigits: Code = [
    ...g('w'), ...HI8, ...OP.i64And,
    ...g('w'), ...i64cBig(0x0606060606060606n), ...OP.i64Add, ...HI8, ...OP.i64And, ...i64c(4), ...OP.i64ShrU,
    ...OP.i64Or, ...i64cBig(0x3333333333333333n), ...OP.i64Eq,
  ];
  /** The eight digits' value: bytes less '0', then pairs, then the two halves (fast_float's parse_eight_digits_unrolled). */
  const eightValue: Code = [
    ...f.set('w', g('w'), i64cBig(0x3030303030303030n), OP.i64Sub),
    ...f.set('w', g('w'), i64c(10), OP.i64Mul, g('w'), i64c(8), OP.i64ShrU, OP.i64Add),
    ...g('w'), ...i64cBig(0x000000ff000000ffn), ...OP.i64And, ...i64cBig(100n + (1000000n << 32n)), ...OP.i64Mul,
    ...g('w'), ...i64c(16), ...OP.i64ShrU, ...i64cBig(0x000000ff000000ffn), ...OP.i64And, ...i64cBig(1n + (10000n << 32n)), ...OP.i64Mul,
    ...OP.i64Add, ...i64c(32), ...OP.i64ShrU,
  ];
  const fourDigits: Code = [
    ...g('w4'), ...i32c(0xf0f0f0f0), ...OP.i32And,
    ...g('w4'), ...i32c(0x06060606), ...OP.i32Add, ...i32c(0xf0f0f0f0), ...OP.i32And, ...i32c(4), ...OP.i32ShrU,
    ...OP.i32Or, ...i32c(0x33333333), ...OP.i32Eq,
  ];
  /** The four digits' value: bytes less '0', pairs (d0·10+d1 in byte 0, d2·10+d3 in byte 2), then hundreds. */
  const fourValue: Code = [
    ...f.set('w4', g('w4'), i32c(0x30303030), OP.i32Sub),
    ...f.set('w4', g('w4'), i32c(10), OP.i32Mul, g('w4'), i32c(8), OP.i32ShrU, OP.i32Add),
    ...g('w4'), ...i32c(0xff), ...OP.i32And, ...i32c(100), ...OP.i32Mul,
    ...g('w4'), ...i32c(16), ...OP.i32ShrU, ...i32c(0xff), ...OP.i32And, ...OP.i32Add,
  ];
  f.emit(
    f.set('n', i32c(0)),
    skipSpace,
    f.when(is(CLOSE_BRACKET), () => [[...i32c(CLOSE_AT), ...g('p'), ...i32Store()], [...i32c(0), ...OP.ret]]),
    f.loop('number', () => [
      f.set('neg', is(MINUS)),
      f.when(g('neg'), () => [next]),
      f.set('m', i64c(0)),
      f.set('digits', i32c(0)),
      f.set('exp10', i32c(0)),
      f.ifElse(
        is(ZERO),
        () => [next, f.when(isDigit, () => [giveBack])],
        () => [
          f.when([...isDigit, ...OP.i32Eqz], () => [giveBack]),
          f.loop('int', () => [digit(false), next, f.brIf('int', isDigit)]),
        ],
      ),
      f.when(is(DOT), () => [
        next,
        f.when([...isDigit, ...OP.i32Eqz], () => [giveBack]),
        f.block('fracEnd', () => [
          f.loop('frac', () => [
            // From the first significant digit on, eight or four digits a step while they fit in m's 19.
            fracRun(8),
            fracRun(4),
            // Zeros before the first significant digit only scale it.
            f.ifElse([...g('digits'), ...OP.i32Eqz, ...is(ZERO), ...OP.i32And], () => [f.set('exp10', [...g('exp10'), ...i32c(1), ...OP.i32Sub])], () => [digit(true)]),
            next,
            f.brIf('frac', isDigit),
          ]),
        ]),
      ]),
      f.when([...is(LOWER_E), ...is(UPPER_E), ...OP.i32Or], () => [
        next,
        f.set('esign', i32c(1)),
        f.when([...is(PLUS), ...is(MINUS), ...OP.i32Or], () => [f.when(is(MINUS), () => [f.set('esign', i32c(-1))]), next]),
        f.when([...isDigit, ...OP.i32Eqz], () => [giveBack]),
        f.set('e', i32c(0)),
        f.loop('exp', () => [
          f.when([...g('e'), ...i32c(100_000), ...OP.i32LtS], () => [f.set('e', [...g('e'), ...i32c(10), ...OP.i32Mul, ...g('c'), ...i32c(ZERO), ...OP.i32Sub, ...OP.i32Add])]),
          next,
          f.brIf('exp', isDigit),
        ]),
        f.set('exp10', [...g('exp10'), ...g('e'), ...g('esign'), ...OP.i32Mul, ...OP.i32Add]),
      ]),
      f.ifElse(
        [...g('digits'), ...OP.i32Eqz],
        () => [f.set('v', f64c(0))],
        () => [
          f.when([...g('exp10'), ...i32c(308), ...OP.i32GtS, ...g('exp10'), ...i32c(-308), ...OP.i32LtS, ...OP.i32Or], () => [giveBack]),
          f.set('x', [...g('m'), ...OP.f64ConvertI64U]),
          f.ifElse(
            [...g('exp10'), ...i32c(0), ...OP.i32GeS],
            () => [f.set('x', g('x'), pow10(g('exp10')), OP.f64Mul)],
            () => [f.set('x', g('x'), pow10([...i32c(0), ...g('exp10'), ...OP.i32Sub]), OP.f64Div)],
          ),
          // Far from double underflow (the error bound is relative) and from float32's largest.
          f.when([...g('x'), ...f64c(1e-300), ...OP.f64Ge, ...g('x'), ...f64c(3e38), ...OP.f64Le, ...OP.i32And, ...OP.i32Eqz], () => [giveBack]),
          f.set('r', g('x'), OP.f32DemoteF64),
          f.when(
            [
              ...g('x'), ...f64c(UP), ...OP.f64Mul, ...OP.f32DemoteF64, ...g('r'), ...OP.f32Eq,
              ...g('x'), ...f64c(DOWN), ...OP.f64Mul, ...OP.f32DemoteF64, ...g('r'), ...OP.f32Eq,
              ...OP.i32And, ...OP.i32Eqz,
            ],
            () => [giveBack],
          ),
          f.set('v', g('r'), OP.f64PromoteF32),
        ],
      ),
      [...g('out'), ...g('n'), ...i32c(3), ...OP.i32Shl, ...OP.i32Add, ...g('v'), ...OP.f64Neg, ...g('v'), ...g('neg'), ...OP.select, ...f64Store()],
      f.set('n', [...g('n'), ...i32c(1), ...OP.i32Add]),
      skipSpace,
      f.when(is(COMMA), () => [next, skipSpace, f.br('number')]),
      f.when(is(CLOSE_BRACKET), () => [[...i32c(CLOSE_AT), ...g('p'), ...i32Store()], [...g('n'), ...OP.ret]]),
      giveBack,
    ]),
    giveBack,
  );
  return f;
}

// The project's lib settings (ES2022, node types) do not declare WebAssembly.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(desc: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(mod: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

/** Bytes of a line's numbers the scanner takes; a longer line goes to the JS reader. */
const IN_BYTES = 1 << 20;
/** Where the values go: after the input, room for a number per two bytes. */
const OUT = IN + IN_BYTES;
const PAGES = Math.ceil((OUT + (IN_BYTES / 2 + 1) * 8) / 65536);

interface Scanner {
  bytes: Uint8Array;
  floats: Float64Array;
  close: Int32Array;
  scan: (p: number, end: number, out: number) => number;
}

let scanner: Scanner | null | undefined;

/** The scanner module's bytes (never shared: both variants are these). */
export function scanModuleBytes(): Uint8Array {
  return moduleBytes(false, [], [{ name: 'scan', fn: scanFunc() }]);
}

/** scanModuleBytes' base64 as scripts/bundle.mjs defines it in the CLI's bundles; undefined outside them. */
declare const __VDB_SCAN_BYTES__: PrebuiltBytes | undefined;

/** Assembling the module took the reader's first line ~8 ms of cold JavaScript: the bundles carry its bytes. */
const scanBytes = prebuiltOr(typeof __VDB_SCAN_BYTES__ === 'undefined' ? undefined : __VDB_SCAN_BYTES__, scanModuleBytes);

/** Off: every line goes to the JS reader (its tests run both ways). */
export const numberScan = { enabled: true };

function open(): Scanner | null {
  try {
    const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    new Float64Array(memory.buffer, 0, POW10.length).set(POW10);
    const mod = new WebAssembly.Module(scanBytes(false));
    const { scan } = new WebAssembly.Instance(mod, { k: { m: memory } }).exports as { scan: Scanner['scan'] };
    return { bytes: new Uint8Array(memory.buffer), floats: new Float64Array(memory.buffer), close: new Int32Array(memory.buffer, CLOSE_AT, 1), scan };
  } catch {
    // No WebAssembly here: the JS reader reads every line.
    return null;
  }
}

/**
 * Reads `n, n, …]` from p (up to end) into out from at, as embedding-line.ts's
 * readNumbers would: the index of `]` and how many were read; null when this
 * scanner gives the line back (that reader then reads it, and decides).
 */
export function scanNumbers(data: Uint8Array, p: number, end: number, out: Float64Array, at: number): { close: number; count: number } | null {
  if (end - p > IN_BYTES || !numberScan.enabled) return null;
  scanner ??= open();
  if (scanner === null) return null;
  const { bytes, floats, close, scan } = scanner;
  bytes.set(data.subarray(p, end), IN);
  const count = scan(IN, IN + end - p, OUT);
  if (count < 0) return null;
  out.set(floats.subarray(OUT / 8, OUT / 8 + count), at);
  return { close: p + close[0] - IN, count };
}
