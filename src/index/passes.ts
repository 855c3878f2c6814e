/**
 * Passes over every slot or row that a cold query makes before it can search,
 * in WebAssembly: an HNSW index's upper-level layout with its checks
 * (hnsw.ts) and the check that stored seqs ascend (store/snapshot.ts). The
 * same loops in JavaScript ran in V8's interpreter, not yet optimised when a
 * one-query process needs them: ~4-5 and ~3 ms on 100k slots, here ~0.3 ms
 * with the copies in and out.
 */
import { Func, I32, OP, compiledOnce, i32Load, i32Store, i32c, moduleBytes, prebuiltOr } from './wasm-asm.js';
import type { Code, PrebuiltBytes } from './wasm-asm.js';

/** Why `layout` refused the arrays, by its negative status. */
const LAYOUT_ERRORS: Record<number, string> = {
  [-1]: 'hnsw level out of range',
  [-2]: 'hnsw upper links have the wrong length',
  [-3]: 'hnsw link count out of range',
  [-4]: 'hnsw link points to a missing node',
};

const add = (a: Code, b: Code): Code => [...a, ...b, ...OP.i32Add];
const at4 = (f: Func, base: string, i: Code): Code => add(f.get(base), [...i, ...i32c(2), ...OP.i32Shl]);

/**
 * layout(lv, off, n, width, maxLevel, up, upLen, maxM, out) → 0, or a key of
 * LAYOUT_ERRORS: for each slot e, off[e] = the word where its upper lists
 * start (width = 1 + m words per level), levels within [0, maxLevel], each
 * list's count ≤ maxM and its neighbours slots that reach its level; writes
 * the words used and the top level to out[0], out[1]. Byte offsets, i32s.
 */
function layoutFunc(): Func {
  const f = new Func(
    [['lv', I32], ['off', I32], ['n', I32], ['width', I32], ['maxLevel', I32], ['up', I32], ['upLen', I32], ['maxM', I32], ['out', I32]],
    [I32],
  );
  f.locals(I32, 'e', 'level', 'o', 'top', 'l', 'at', 'count', 'j', 'end', 'nb');
  const g = (n: string): Code => f.get(n);
  const fail = (code: number): Code => [...i32c(code), ...OP.ret];
  const inc = (n: string, by: Code = i32c(1)): Code => f.set(n, add(g(n), by));
  f.emit(
    f.set('o', i32c(0)),
    f.set('top', i32c(-1)),
    f.set('e', i32c(0)),
    f.block('done', () => [
      f.loop('slot', () => [
        f.brIf('done', [...g('e'), ...g('n'), ...OP.i32GeS]),
        f.set('level', at4(f, 'lv', g('e')), i32Load()),
        // Unsigned: a negative level is out of range too.
        f.when([...g('maxLevel'), ...g('level'), ...OP.i32LtU], () => [fail(-1)]),
        at4(f, 'off', g('e')),
        g('o'),
        i32Store(),
        f.when(g('level'), () => [
          f.when([...g('upLen'), ...add(g('o'), [...g('level'), ...g('width'), ...OP.i32Mul]), ...OP.i32LtU], () => [fail(-2)]),
          f.set('l', i32c(1)),
          f.set('at', g('o')),
          f.loop('list', () => [
            f.set('count', at4(f, 'up', g('at')), i32Load()),
            f.when([...g('maxM'), ...g('count'), ...OP.i32LtU], () => [fail(-3)]),
            f.set('j', add(g('at'), i32c(1))),
            f.set('end', add(g('at'), g('count'))),
            f.block('listed', () => [
              f.loop('nbs', () => [
                f.brIf('listed', [...g('end'), ...g('j'), ...OP.i32LtS]),
                f.set('nb', at4(f, 'up', g('j')), i32Load()),
                f.when([...g('nb'), ...g('n'), ...OP.i32GeU], () => [fail(-4)]),
                f.when([...at4(f, 'lv', g('nb')), ...i32Load(), ...g('l'), ...OP.i32LtS], () => [fail(-4)]),
                inc('j'),
                f.br('nbs'),
              ]),
            ]),
            inc('l'),
            inc('at', g('width')),
            f.brIf('list', [...g('level'), ...g('l'), ...OP.i32LtS, ...OP.i32Eqz]),
          ]),
          inc('o', [...g('level'), ...g('width'), ...OP.i32Mul]),
          f.when([...g('top'), ...g('level'), ...OP.i32LtS], () => [f.set('top', g('level'))]),
        ]),
        inc('e'),
        f.br('slot'),
      ]),
    ]),
    [...g('out'), ...g('o'), ...i32Store()],
    [...g('out'), ...g('top'), ...i32Store(4)],
    i32c(0),
  );
  return f;
}

/** ascending(at, n) → 1 when the n u32 at byte offset `at` strictly ascend, else 0. */
function ascendingFunc(): Func {
  const f = new Func(
    [['at', I32], ['n', I32]],
    [I32],
  );
  f.locals(I32, 'i', 'prev', 'cur');
  const g = (n: string): Code => f.get(n);
  f.emit(
    f.when([...g('n'), ...OP.i32Eqz], () => [i32c(1), OP.ret]),
    f.set('prev', g('at'), i32Load()),
    f.set('i', i32c(1)),
    f.block('done', () => [
      f.loop('next', () => [
        f.brIf('done', [...g('i'), ...g('n'), ...OP.i32GeS]),
        f.set('cur', at4(f, 'at', g('i')), i32Load()),
        f.when([...g('prev'), ...g('cur'), ...OP.i32LtU, ...OP.i32Eqz], () => [i32c(0), OP.ret]),
        f.set('prev', g('cur')),
        f.set('i', add(g('i'), i32c(1))),
        f.br('next'),
      ]),
    ]),
    i32c(1),
  );
  return f;
}

/** The module's bytes (one memory, imported; never shared). */
export function passesModuleBytes(): Uint8Array {
  return moduleBytes(false, [], [
    { name: 'layout', fn: layoutFunc() },
    { name: 'ascending', fn: ascendingFunc() },
  ]);
}

// The project's lib settings (ES2022, node types) do not declare WebAssembly.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(desc: { initial: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(mod: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}

/** passesModuleBytes' base64 as scripts/bundle.mjs defines it in the CLI bundle; undefined outside it. */
declare const __VDB_PASSES_BYTES__: PrebuiltBytes | undefined;

const passesModule = compiledOnce(prebuiltOr(typeof __VDB_PASSES_BYTES__ === 'undefined' ? undefined : __VDB_PASSES_BYTES__, passesModuleBytes));

interface Passes {
  layout(lv: number, off: number, n: number, width: number, maxLevel: number, up: number, upLen: number, maxM: number, out: number): number;
  ascending(at: number, n: number): number;
}

/** An instance over a fresh memory of at least `bytes` (plain WebAssembly, which every Node vdb runs on has). */
function instance(bytes: number): { passes: Passes; memory: ArrayBuffer } {
  const mod = passesModule(false);
  if (mod === null) throw new Error('WebAssembly does not compile here');
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
  const inst = new WebAssembly.Instance(mod, { k: { m: memory } });
  return { passes: inst.exports as unknown as Passes, memory: memory.buffer };
}

/**
 * Lays out the upper-level lists of HNSW slots with `levels` (each list
 * 1 + m words: count, neighbours) into `offsets`, checking `upper` against
 * them: levels within [0, maxLevel], counts ≤ m, neighbours that exist and
 * reach the list's level, and no more words than `upper` holds.
 * Returns the words the levels call for and the top level (-1 without slots).
 * @throws Error naming what does not fit
 */
export function upperLayout(levels: Int32Array, upper: Int32Array, m: number, maxLevel: number, offsets: Int32Array): { words: number; top: number } {
  const n = levels.length;
  const wasm = instance(8 + 8 * n + 4 * upper.length);
  const view = new Int32Array(wasm.memory);
  const lv = 2;
  const off = lv + n;
  const up = off + n;
  view.set(levels, lv);
  view.set(upper, up);
  const status = wasm.passes.layout(lv * 4, off * 4, n, 1 + m, maxLevel, up * 4, upper.length, m, 0);
  if (status !== 0) throw new Error(LAYOUT_ERRORS[status]);
  offsets.set(view.subarray(off, off + n));
  return { words: view[0], top: n > 0 ? Math.max(view[1], 0) : -1 };
}

/** Whether `values` strictly ascend with the last below `limit` (true for none). */
export function ascendingBelow(values: Uint32Array, limit: number): boolean {
  const n = values.length;
  if (n > 0 && !(values[n - 1] < limit)) return false;
  const wasm = instance(4 * n);
  new Uint32Array(wasm.memory).set(values);
  return wasm.passes.ascending(0, n) === 1;
}
