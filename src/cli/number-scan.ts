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
 * in fewer instructions (a u64 per digit instead of a double multiply-add).
 *
 * Memory: POW10 (309 f64) at 0, the `]` offset (i32) at CLOSE_AT, the line's
 * bytes from IN, the float32 values as f64 from OUT.
 */
import { F32, F64, Func, I32, I64, OP, f64Load, f64Store, f64c, i32Load8u, i32Store, i32c, i64c, moduleBytes, prebuiltOr } from '../index/wasm-asm.js';
import type { Code, PrebuiltBytes } from '../index/wasm-asm.js';
import { CLOSE_BRACKET, COMMA, DOT, DOWN, LOWER_E, MAX_DIGITS, MINUS, NINE, PLUS, POW10, SPACE, TAB, UP, UPPER_E, ZERO } from './json-number.js';

const CLOSE_AT = 2560;
const IN = 4096;
/** scan's results other than a count: give the line to the JS reader. */
const GIVE_BACK = -1;

/** scan(p, end, out) → numbers read (the `]` offset at CLOSE_AT), or GIVE_BACK; p, end: byte offsets; out: where the f64 go. */
function scanFunc(): Func {
  const f = new Func([['p', I32], ['end', I32], ['out', I32]], [I32]);
  f.locals(I32, 'n', 'c', 'neg', 'digits', 'exp10', 'e', 'esign');
  f.locals(I64, 'm');
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
        f.loop('frac', () => [
          // Zeros before the first significant digit only scale it.
          f.ifElse([...g('digits'), ...OP.i32Eqz, ...is(ZERO), ...OP.i32And], () => [f.set('exp10', [...g('exp10'), ...i32c(1), ...OP.i32Sub])], () => [digit(true)]),
          next,
          f.brIf('frac', isDigit),
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
