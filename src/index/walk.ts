/**
 * The level-0 beam search of HnswIndex (`searchLayer`) in WebAssembly: one
 * call per search walks the block where it lives (hnsw.ts's layout), with the
 * visit tags, the two heaps and the batch of neighbour ids in a region of the
 * same memory per thread, and the distance kernels of simd.ts imported from
 * that thread's kernel instance. The JS walk stays for blocks without SIMD;
 * this one gives the same heap contents in the same order (the same
 * distances in float64, the same heap moves, ties included), so results and
 * seeded builds are byte-identical either way.
 *
 * Walk region of a thread (byte offsets in a descriptor of 12 i32 at `desc`):
 *
 *   [0] base     slot 0            [6] candId  cand heap ids (i32 · slots+1)
 *   [1] stride   bytes per slot    [7] resD    res heap keys (f64 · slots+1)
 *   [2] vecOff   vector in a slot  [8] resId   res heap ids
 *   [3] vlen     kernel length     [9] sq      squared norms (f32 · slots)
 *   [4] tags     u16 · slots       [10] batch  neighbour ids of one expansion
 *   [5] candD    f64 · slots+1     [11] out    the kernel's 4 results
 *
 * walk(q, ep, ef, epoch, step, desc, dead) → the res heap's size: q the
 * query's byte offset, step the int8 query step (unused for float32),
 * dead the byte offset of a bitmap of slots to walk through but never return,
 * or -1. Heaps are binary heaps over (f64 key, i32 id), as hnsw.ts's Heap.
 */
import { F64, Func, I32, OP, call, compiledOnce, f32Load, f64Load, f64Store, f64c, i32Load, i32Load16u, i32Store, i32Store16, i32c, moduleBytes, prebuiltOr } from './wasm-asm.js';
import type { Code, PrebuiltBytes } from './wasm-asm.js';
import type { WasmF32, WasmMemory } from './simd.js';

/** Descriptor fields (i32 indexes). */
export const DESC = { base: 0, stride: 1, vecOff: 2, vlen: 3, tags: 4, candD: 5, candId: 6, resD: 7, resId: 8, sq: 9, batch: 10, out: 11 } as const;
export const DESC_WORDS = 16;
/** Where the touched words are folded (so the loads stay). */
const SINK = 12;

type Variant = { int8: boolean; ip: boolean };
const VARIANTS: (Variant & { name: string })[] = [
  { name: 'i8ip', int8: true, ip: true },
  { name: 'i8l2', int8: true, ip: false },
  { name: 'f32ip', int8: false, ip: true },
  { name: 'f32l2', int8: false, ip: false },
];
/** Imported kernels (simd.ts), in function-index order. */
const KERNELS = ['idot4', 'dot4', 'l2sq4'] as const;
const kernelIndex = (v: Variant): number => (v.int8 ? 0 : v.ip ? 1 : 2);

function walkFunc(v: Variant): Func {
  const f = new Func(
    [['q', I32], ['ep', I32], ['ef', I32], ['epoch', I32], ['step', F64], ['desc', I32], ['dead', I32]],
    [I32],
  );
  f.locals(I32, 'base', 'stride', 'vecOff', 'vlen', 'tags', 'cD', 'cI', 'rD', 'rI', 'sq', 'batch', 'out');
  f.locals(I32, 'cs', 'rs', 'c', 'at', 'count', 'j', 'nb', 'nb4', 'i', 'hi', 'hp', 'hl', 'hr', 'hc', 'hs', 's0', 's1', 's2', 's3', 'ok', 'sink', 'va', 'vbytes', 'o', 've', 'ta');
  f.locals(F64, 'bound', 'd', 'cd', 'hx', 'hpd', 'k');
  const g = (n: string): Code => f.get(n);
  const add = (a: Code, b: Code): Code => [...a, ...b, ...OP.i32Add];
  const shl = (a: Code, s: number): Code => [...a, ...i32c(s), ...OP.i32Shl];
  const at8 = (arr: string, i: Code): Code => add(g(arr), shl(i, 3));
  const at4 = (arr: string, i: Code): Code => add(g(arr), shl(i, 2));
  const above = (max: boolean, a: Code, b: Code): Code => [...a, ...b, ...(max ? OP.f64Gt : OP.f64Lt)];

  /** hnsw.ts Heap.push(dist, slot) on the heap (D, I) of size SZ. */
  const push = (D: string, I: string, SZ: string, max: boolean, dist: string, slot: string): Code => [
    ...f.set('hi', g(SZ)),
    ...f.set(SZ, add(g(SZ), i32c(1))),
    ...f.block('pushed', () => [
      f.loop('up', () => [
        f.brIf('pushed', [...g('hi'), ...OP.i32Eqz]),
        f.set('hp', [...g('hi'), ...i32c(1), ...OP.i32Sub, ...i32c(1), ...OP.i32ShrU]),
        f.set('hpd', at8(D, g('hp')), f64Load()),
        f.brIf('pushed', [...above(max, g(dist), g('hpd')), ...OP.i32Eqz]),
        [...at8(D, g('hi')), ...g('hpd'), ...f64Store()],
        [...at4(I, g('hi')), ...at4(I, g('hp')), ...i32Load(), ...i32Store()],
        f.set('hi', g('hp')),
        f.br('up'),
      ]),
    ]),
    ...at8(D, g('hi')), ...g(dist), ...f64Store(),
    ...at4(I, g('hi')), ...g(slot), ...i32Store(),
  ];

  /** hnsw.ts Heap.pop() on the heap (D, I) of size SZ. */
  const pop = (D: string, I: string, SZ: string, max: boolean): Code => [
    ...f.set(SZ, [...g(SZ), ...i32c(1), ...OP.i32Sub]),
    ...f.when([...g(SZ), ...i32c(0), ...OP.i32Ne], () => [
      f.set('hx', at8(D, g(SZ)), f64Load()),
      f.set('hs', at4(I, g(SZ)), i32Load()),
      f.set('hi', i32c(0)),
      f.block('placed', () => [
        f.loop('down', () => [
          f.set('hl', [...shl(g('hi'), 1), ...i32c(1), ...OP.i32Add]),
          f.brIf('placed', [...g('hl'), ...g(SZ), ...OP.i32GeS]),
          f.set('hr', [...g('hl'), ...i32c(1), ...OP.i32Add]),
          f.set('hc', g('hl')),
          f.when([...g('hr'), ...g(SZ), ...OP.i32LtS], () => [
            f.when(above(max, [...at8(D, g('hr')), ...f64Load()], [...at8(D, g('hl')), ...f64Load()]), () => [f.set('hc', g('hr'))]),
          ]),
          f.set('hpd', at8(D, g('hc')), f64Load()),
          f.brIf('placed', [...above(max, g('hpd'), g('hx')), ...OP.i32Eqz]),
          [...at8(D, g('hi')), ...g('hpd'), ...f64Store()],
          [...at4(I, g('hi')), ...at4(I, g('hc')), ...i32Load(), ...i32Store()],
          f.set('hi', g('hc')),
          f.br('down'),
        ]),
      ]),
      [...at8(D, g('hi')), ...g('hx'), ...f64Store()],
      [...at4(I, g('hi')), ...g('hs'), ...i32Store()],
    ]),
  ];

  const vecAddr = (s: string): Code => [...g('base'), ...g(s), ...g('stride'), ...OP.i32Mul, ...OP.i32Add, ...g('vecOff'), ...OP.i32Add];
  /** The kernel over s0..s3 into out. */
  const kernel4: Code = [...g('q'), ...vecAddr('s0'), ...vecAddr('s1'), ...vecAddr('s2'), ...vecAddr('s3'), ...g('vlen'), ...g('out'), ...call(kernelIndex(v))];
  /**
   * Distance t of the last kernel call into d, as hnsw.ts dist4 computes it
   * in float64: -step·x, |x|² - (2·step)·x, -f or f (k holds -step or 2·step).
   */
  const distT = (t: number): Code => {
    if (v.int8) {
      const x = [...g('out'), ...i32Load(4 * t), ...OP.f64ConvertI32S];
      if (v.ip) return f.set('d', g('k'), x, OP.f64Mul);
      return f.set('d', [...at4('sq', g(`s${t}`)), ...f32Load(), ...OP.f64PromoteF32], g('k'), x, OP.f64Mul, OP.f64Sub);
    }
    const x = [...g('out'), ...f32Load(4 * t), ...OP.f64PromoteF32];
    return f.set('d', x, v.ip ? OP.f64Neg : []);
  };
  /** ok = 1 when slot `s` may enter the result: no dead bitmap, or its bit clear (the load only with a bitmap). */
  const live = (s: string): Code => [
    ...f.set('ok', i32c(1)),
    ...f.when([...g('dead'), ...i32c(0), ...OP.i32GeS], () => [
      f.set('ok', [
        ...g('dead'), ...g(s), ...i32c(5), ...OP.i32ShrU, ...i32c(2), ...OP.i32Shl, ...OP.i32Add, ...i32Load(),
        ...g(s), ...OP.i32ShrU, ...i32c(1), ...OP.i32And, ...OP.i32Eqz,
      ]),
    ]),
    ...g('ok'),
  ];
  /** The JS walk's offer of (d, nb): into cand, and into res if live, keeping ef. */
  const offer: Code = f.when([...g('rs'), ...g('ef'), ...OP.i32LtS, ...g('d'), ...g('bound'), ...OP.f64Lt, ...OP.i32Or], () => [
    push('cD', 'cI', 'cs', false, 'd', 'nb'),
    f.when(live('nb'), () => [
      push('rD', 'rI', 'rs', true, 'd', 'nb'),
      f.when([...g('rs'), ...g('ef'), ...OP.i32GtS], () => [pop('rD', 'rI', 'rs', true)]),
      f.set('bound', g('rD'), f64Load()),
    ]),
  ]);
  /** Loads one word of each 64-byte line of the `bytes` from `from` (folded into sink, so the loads stay). */
  const touchLines = (label: string, from: Code, bytes: Code): Code => [
    ...f.set('va', from),
    ...f.set('ve', g('va'), bytes, OP.i32Add),
    ...f.set('o', g('va'), i32c(-64), OP.i32And),
    ...f.loop(label, () => [
      f.set('sink', g('sink'), g('o'), i32Load(), OP.i32Xor),
      f.set('o', g('o'), i32c(64), OP.i32Add),
      f.brIf(label, [...g('o'), ...g('ve'), ...OP.i32LtU]),
    ]),
  ];
  const field = (name: string, i: number): Code => f.set(name, g('desc'), i32Load(4 * i));
  const slotAt = (i: Code): Code => [...g('batch'), ...shl(i, 2), ...OP.i32Add, ...i32Load()];
  /** s_t = i + t < nb4 ? batch[i + t] : s0 (a short batch repeats its first slot, as dist4 does). */
  const pad = (t: number): Code => f.set(`s${t}`, slotAt([...g('i'), ...i32c(t), ...OP.i32Add]), g('s0'), [...g('i'), ...i32c(t), ...OP.i32Add, ...g('nb4'), ...OP.i32LtS], [0x1b]);

  f.emit(
    field('base', DESC.base), field('stride', DESC.stride), field('vecOff', DESC.vecOff), field('vlen', DESC.vlen),
    field('tags', DESC.tags), field('cD', DESC.candD), field('cI', DESC.candId), field('rD', DESC.resD), field('rI', DESC.resId),
    field('sq', DESC.sq), field('batch', DESC.batch), field('out', DESC.out),
    v.ip ? f.set('k', g('step'), OP.f64Neg) : f.set('k', f64c(2), g('step'), OP.f64Mul),
    f.set('vbytes', v.int8 ? g('vlen') : shl(g('vlen'), 2)),
    // The entry: scored, tagged, offered to both heaps.
    f.set('s0', g('ep')), f.set('s1', g('ep')), f.set('s2', g('ep')), f.set('s3', g('ep')),
    kernel4, distT(0),
    [...g('tags'), ...g('ep'), ...i32c(1), ...OP.i32Shl, ...OP.i32Add, ...g('epoch'), ...i32Store16()],
    f.set('nb', g('ep')),
    push('cD', 'cI', 'cs', false, 'd', 'nb'),
    f.set('bound', f64c(Infinity)),
    f.when(live('nb'), () => [push('rD', 'rI', 'rs', true, 'd', 'nb'), f.set('bound', g('d'))]),
    f.block('done', () => [
      f.loop('expand', () => [
        f.brIf('done', [...g('cs'), ...OP.i32Eqz]),
        f.set('cd', g('cD'), f64Load()),
        f.set('c', g('cI'), i32Load()),
        f.brIf('done', [...g('cd'), ...g('bound'), ...OP.f64Gt, ...g('rs'), ...g('ef'), ...OP.i32GeS, ...OP.i32And]),
        pop('cD', 'cI', 'cs', false),
        // The link list of the candidate likely expanded next (the heap's top after this pop, unless this
        // expansion finds a nearer one), touched now so that its miss overlaps this expansion rather than
        // starting the next one: in process, 7–8 % less CPU on glove100, 2–3 % on the 384-dim sets.
        f.when([...g('cs'), ...i32c(0), ...OP.i32GtS], () => [
          touchLines('next', [...g('base'), ...g('cI'), ...i32Load(), ...g('stride'), ...OP.i32Mul, ...OP.i32Add], g('vecOff')),
        ]),
        f.set('at', [...g('base'), ...g('c'), ...g('stride'), ...OP.i32Mul, ...OP.i32Add]),
        f.set('count', g('at'), i32Load()),
        f.set('nb4', i32c(0)),
        f.set('j', i32c(0)),
        // The unvisited neighbours, tagged now, into batch: without a branch on the tag (a visited one is written
        // over by the next), since which neighbours were visited is a coin toss the branch predictor keeps
        // losing, and each miss discarded the loads in flight behind it (in process: synth100k −9 % CPU,
        // glove100 −4 to −7 %, wordnet ±0).
        f.block('listed', () => [
          f.loop('links', () => [
            f.brIf('listed', [...g('j'), ...g('count'), ...OP.i32GeS]),
            f.set('j', [...g('j'), ...i32c(1), ...OP.i32Add]),
            f.set('nb', [...g('at'), ...shl(g('j'), 2), ...OP.i32Add, ...i32Load()]),
            f.set('ta', [...g('tags'), ...shl(g('nb'), 1), ...OP.i32Add]),
            f.set('ok', [...g('ta'), ...i32Load16u(), ...g('epoch'), ...OP.i32Ne]),
            [...g('ta'), ...g('epoch'), ...i32Store16()],
            [...g('batch'), ...shl(g('nb4'), 2), ...OP.i32Add, ...g('nb'), ...i32Store()],
            f.set('nb4', [...g('nb4'), ...g('ok'), ...OP.i32Add]),
            f.br('links'),
          ]),
        ]),
        // Each 64-byte line of their vectors, touched once now so the misses of the whole batch overlap:
        // WebAssembly has no prefetch, and these AMD cores fetch no adjacent line (touching every other
        // line left the rest to miss one by one in the kernel). A touch past the vector fetched the next
        // slot's lines for nothing (glove100's 112-byte vectors).
        f.set('i', i32c(0)),
        f.block('touched', () => [
          f.loop('touch', () => [
            f.brIf('touched', [...g('i'), ...g('nb4'), ...OP.i32GeS]),
            f.set('nb', slotAt(g('i'))),
            touchLines('lines', vecAddr('nb'), g('vbytes')),
            f.set('i', [...g('i'), ...i32c(1), ...OP.i32Add]),
            f.br('touch'),
          ]),
        ]),
        f.set('i', i32c(0)),
        f.block('scored', () => [
          f.loop('fours', () => [
            f.brIf('scored', [...g('i'), ...g('nb4'), ...OP.i32GeS]),
            f.set('s0', slotAt(g('i'))),
            pad(1), pad(2), pad(3),
            kernel4,
            distT(0), f.set('nb', g('s0')), offer,
            ...[1, 2, 3].map((t) =>
              f.when([...g('i'), ...i32c(t), ...OP.i32Add, ...g('nb4'), ...OP.i32LtS], () => [distT(t), f.set('nb', g(`s${t}`)), offer]),
            ),
            f.set('i', [...g('i'), ...i32c(4), ...OP.i32Add]),
            f.br('fours'),
          ]),
        ]),
        f.br('expand'),
      ]),
    ]),
    [...g('desc'), ...g('sink'), ...i32Store(4 * SINK)],
    g('rs'),
  );
  return f;
}

const KERNEL_PARAMS = [I32, I32, I32, I32, I32, I32, I32] as typeof I32[];

/** The walk module's bytes; `shared` imports a shared memory (see simd.ts kernelModuleBytes). */
export function walkModuleBytes(shared: boolean): Uint8Array {
  return moduleBytes(
    shared,
    KERNELS.map((name) => ({ name, params: KERNEL_PARAMS, results: [] })),
    VARIANTS.map((v) => ({ name: v.name, fn: walkFunc(v) })),
  );
}

// The project's lib settings (ES2022, node types) do not declare WebAssembly.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(mod: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}

/** walkModuleBytes' base64 as scripts/bundle.mjs defines it in the CLI bundle; undefined outside it. */
declare const __VDB_WALK_BYTES__: PrebuiltBytes | undefined;

const walkModule = compiledOnce(prebuiltOr(typeof __VDB_WALK_BYTES__ === 'undefined' ? undefined : __VDB_WALK_BYTES__, walkModuleBytes));

/** (q, ep, ef, epoch, step, desc, dead) → the res heap's size; see the top of this file. */
export type WalkFn = (q: number, ep: number, ef: number, epoch: number, step: number, desc: number, dead: number) => number;

let enabled = true;

/** Turns the WebAssembly walk off (or back on) for blocks bound from now on: tests and benchmarks of the JS walk. */
export function useWasmWalk(on: boolean): void {
  enabled = on;
}

/** True when the walk runs here (the module compiles) and is enabled: blocks then reserve walk regions. */
export function wasmWalkAvailable(): boolean {
  return enabled && walkModule(false) !== null;
}

/** The four variants of one instance, by block format and metric. */
export interface Walks {
  i8ip: WalkFn;
  i8l2: WalkFn;
  f32ip: WalkFn;
  f32l2: WalkFn;
}

/** The walks bound to `wasm`'s memory and kernels: null when disabled or the module does not compile here. */
export function bindWalks(wasm: WasmF32): Walks | null {
  if (!enabled) return null;
  const memory: WasmMemory = wasm.memory;
  const mod = walkModule(typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer);
  if (mod === null) return null;
  const inst = new WebAssembly.Instance(mod, { k: { m: memory, idot4: wasm.idot4, dot4: wasm.dot4, l2sq4: wasm.l2sq4 } });
  const e = inst.exports as unknown as Walks;
  return { i8ip: e.i8ip, i8l2: e.i8l2, f32ip: e.f32ip, f32l2: e.f32l2 };
}
