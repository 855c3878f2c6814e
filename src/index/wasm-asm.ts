/**
 * A small structured assembler for hand-written WebAssembly (walk.ts): named
 * locals, structured control (block/loop/if with labels resolved by name),
 * and the handful of opcodes the walk needs. It emits the binary format
 * directly; no toolchain at install or run time.
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Code: a flat list of bytes, built from the helpers below. */
export type Code = number[];

/**
 * One function body. Locals are declared by name; `block`/`loop`/`when`
 * take a label, and `br(label)` counts the enclosing depth itself, so the
 * code reads like the structured source it is.
 */
export class Func {
  private readonly names = new Map<string, number>();
  private readonly types: ValType[] = [];
  private readonly labels: string[] = [];
  readonly code: Code = [];

  constructor(
    readonly params: [string, ValType][],
    readonly results: ValType[],
  ) {
    params.forEach(([name], i) => this.names.set(name, i));
  }

  /** Declares locals (after the params). */
  locals(type: ValType, ...names: string[]): this {
    for (const n of names) {
      if (this.names.has(n)) throw new Error(`wasm-asm: local ${n} declared twice`);
      this.names.set(n, this.params.length + this.types.length);
      this.types.push(type);
    }
    return this;
  }

  private idx(name: string): number {
    const i = this.names.get(name);
    if (i === undefined) throw new Error(`wasm-asm: no local ${name}`);
    return i;
  }

  /** Appends raw code. */
  emit(...parts: Code[]): this {
    for (const p of parts) for (const b of p) this.code.push(b);
    return this;
  }

  get(name: string): Code {
    return [0x20, ...uleb(this.idx(name))];
  }

  set(name: string, ...value: Code[]): Code {
    return [...value.flat(), 0x21, ...uleb(this.idx(name))];
  }

  tee(name: string, ...value: Code[]): Code {
    return [...value.flat(), 0x22, ...uleb(this.idx(name))];
  }

  /** block $label … end; `body` is called with the label pushed, so br(label) inside it resolves. */
  block(label: string, body: () => Code[]): Code {
    return this.structured(0x02, label, body);
  }

  loop(label: string, body: () => Code[]): Code {
    return this.structured(0x03, label, body);
  }

  /** if (cond) body end */
  when(cond: Code, body: () => Code[]): Code {
    return [...cond, ...this.structured(0x04, '', body)];
  }

  /** if (cond) then else otherwise end */
  ifElse(cond: Code, then: () => Code[], otherwise: () => Code[]): Code {
    this.labels.push('');
    const a = then().flat();
    const b = otherwise().flat();
    this.labels.pop();
    return [...cond, 0x04, 0x40, ...a, 0x05, ...b, 0x0b];
  }

  private structured(op: number, label: string, body: () => Code[]): Code {
    this.labels.push(label);
    const inner = body().flat();
    this.labels.pop();
    return [op, 0x40, ...inner, 0x0b];
  }

  private depth(label: string): number {
    const i = this.labels.lastIndexOf(label);
    if (i < 0) throw new Error(`wasm-asm: no enclosing label ${label}`);
    return this.labels.length - 1 - i;
  }

  br(label: string): Code {
    return [0x0c, ...uleb(this.depth(label))];
  }

  brIf(label: string, cond: Code): Code {
    return [...cond, 0x0d, ...uleb(this.depth(label))];
  }

  /** The body as the code section wants it: size, local declarations, code, end. */
  body(): Code {
    const groups: number[] = [];
    let n = 0;
    for (let i = 0; i < this.types.length; i++) {
      if (i > 0 && this.types[i] === this.types[i - 1]) {
        groups[groups.length - 2]++;
        continue;
      }
      groups.push(1, this.types[i]);
      n++;
    }
    const fn = [...uleb(n), ...groups.flatMap((g, i) => (i % 2 === 0 ? uleb(g) : [g])), ...this.code, 0x0b];
    return [...uleb(fn.length), ...fn];
  }
}

export const i32c = (v: number): Code => [0x41, ...sleb(v | 0)];
/** An i64 constant of an i32's range (its signed LEB128 is the same). */
export const i64c = (v: number): Code => [0x42, ...sleb(v | 0)];
/** Any i64 constant (a bigint: a number loses the low bits of a 64-bit mask). */
export const i64cBig = (v: bigint): Code => {
  const out: number[] = [0x42];
  let n = BigInt.asIntN(64, v);
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
export const f64c = (v: number): Code => {
  const b = new Uint8Array(new Float64Array([v]).buffer);
  return [0x44, ...b];
};

const memarg = (align: number, offset: number): Code => [align, ...uleb(offset)];
export const i32Load = (offset = 0): Code => [0x28, ...memarg(2, offset)];
export const i32Load8u = (offset = 0): Code => [0x2d, ...memarg(0, offset)];
/** Unaligned loads (alignment hint 1 byte): the number scanner reads digits wherever they are. */
export const i32LoadU = (offset = 0): Code => [0x28, ...memarg(0, offset)];
export const i64LoadU = (offset = 0): Code => [0x29, ...memarg(0, offset)];
export const i32Load16u = (offset = 0): Code => [0x2f, ...memarg(1, offset)];
export const f32Load = (offset = 0): Code => [0x2a, ...memarg(2, offset)];
export const f64Load = (offset = 0): Code => [0x2b, ...memarg(3, offset)];
export const i32Store = (offset = 0): Code => [0x36, ...memarg(2, offset)];
export const i32Store16 = (offset = 0): Code => [0x3b, ...memarg(1, offset)];
export const f64Store = (offset = 0): Code => [0x39, ...memarg(3, offset)];

export const OP = {
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtS: [0x48],
  i32LtU: [0x49],
  i32GtS: [0x4a],
  i32LeS: [0x4c],
  i32GeS: [0x4e],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Or: [0x72],
  i32Xor: [0x73],
  i32Shl: [0x74],
  i32ShrS: [0x75],
  i32ShrU: [0x76],
  i64Eq: [0x51],
  i64Add: [0x7c],
  i64Sub: [0x7d],
  i64Mul: [0x7e],
  i64And: [0x83],
  i64Or: [0x84],
  i64ShrU: [0x88],
  i64ExtendI32U: [0xad],
  f32Eq: [0x5b],
  f64Lt: [0x63],
  f64Gt: [0x64],
  f64Le: [0x65],
  f64Ge: [0x66],
  f64Neg: [0x9a],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f64ConvertI32S: [0xb7],
  f64ConvertI64U: [0xba],
  f32DemoteF64: [0xb6],
  f64PromoteF32: [0xbb],
  drop: [0x1a],
  select: [0x1b],
  ret: [0x0f],
} satisfies Record<string, Code>;

export const call = (fn: number): Code => [0x10, ...uleb(fn)];

/** A module section: id, size, payload. */
export function section(id: number, payload: Code): Code {
  return [id, ...uleb(payload.length), ...payload];
}

/** A name as the binary format spells it: length, then the characters. */
export function wasmName(s: string): Code {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

function funcType(params: ValType[], results: ValType[]): Code {
  return [0x60, ...uleb(params.length), ...params, ...uleb(results.length), ...results];
}

/**
 * A module importing memory "k"."m" (shared or not) and functions "k".<name>,
 * defining `funcs` (exported under their names). Function indexes: the
 * imports first, in order, then `funcs`.
 */
export function moduleBytes(
  shared: boolean,
  imports: { name: string; params: ValType[]; results: ValType[] }[],
  funcs: { name: string; fn: Func }[],
): Uint8Array {
  const types: Code[] = [];
  const typeOf = (t: Code): number => {
    const key = t.join(',');
    let i = types.findIndex((x) => x.join(',') === key);
    if (i < 0) i = types.push(t) - 1;
    return i;
  };
  const importTypes = imports.map((f) => typeOf(funcType(f.params, f.results)));
  const funcTypes = funcs.map(({ fn }) => typeOf(funcType(fn.params.map(([, t]) => t), fn.results)));
  const memory = shared ? [0x02, 0x03, 0x00, ...uleb(65536)] : [0x02, 0x00, 0x00];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(types.length), ...types.flat()]),
    ...section(2, [
      ...uleb(1 + imports.length),
      ...wasmName('k'), ...wasmName('m'), ...memory,
      ...imports.flatMap((f, i) => [...wasmName('k'), ...wasmName(f.name), 0x00, ...uleb(importTypes[i])]),
    ]),
    ...section(3, [...uleb(funcs.length), ...funcTypes.flatMap((t) => uleb(t))]),
    ...section(7, [...uleb(funcs.length), ...funcs.flatMap(({ name: n }, i) => [...wasmName(n), 0x00, ...uleb(imports.length + i)])]),
    ...section(10, [...uleb(funcs.length), ...funcs.flatMap(({ fn }) => fn.body())]),
  ];
  return new Uint8Array(bytes);
}

// The project's lib settings (ES2022, node types) do not declare WebAssembly.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  function validate(bytes: Uint8Array): boolean;
}

/** A module's bytes, plain and shared, as base64: what scripts/bundle.mjs assembles into the CLI bundle. */
export interface PrebuiltBytes {
  plain: string;
  shared: string;
}

/**
 * `bytesOf`, unless the bundle carries the module's bytes already (`prebuilt`,
 * undefined outside it): assembling them at every start costs a cold query
 * milliseconds (the walk's, ~0.1 s).
 */
export function prebuiltOr(prebuilt: PrebuiltBytes | undefined, bytesOf: (shared: boolean) => Uint8Array): (shared: boolean) => Uint8Array {
  return (shared) => (prebuilt ? Buffer.from(shared ? prebuilt.shared : prebuilt.plain, 'base64') : bytesOf(shared));
}

/**
 * Compiles a module's plain and shared variants once each, on first use;
 * null for a variant this engine cannot validate or compile (no SIMD, no threads).
 */
export function compiledOnce(bytesOf: (shared: boolean) => Uint8Array): (shared: boolean) => WebAssembly.Module | null {
  const compiled: { plain?: WebAssembly.Module | null; shared?: WebAssembly.Module | null } = {};
  return (shared) => {
    const which = shared ? 'shared' : 'plain';
    if (compiled[which] === undefined) {
      try {
        const bytes = bytesOf(shared);
        compiled[which] = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
      } catch {
        compiled[which] = null;
      }
    }
    return compiled[which] ?? null;
  };
}
