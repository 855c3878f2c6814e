/**
 * Worker threads that build an HNSW graph's batches with this thread (hnsw.ts
 * `build`), in three phases per batch, each ending when all its items are done:
 *
 *   plan    per element: search the graph as it stood before the batch (PlanBuffer)
 *   select  per element: its own neighbour lists, from its plan and the batch's
 *           earlier elements (LinkBuffer); vectors only, the graph is not read
 *   link    per group of lists (slot % groups): every write of the batch to those
 *           lists, in element order (hnsw.ts linkGroup)
 *
 * A phase's items do not depend on each other, so who does which does not
 * change a byte. The graph (a shared WebAssembly memory and
 * SharedArrayBuffers) is written only in the link phase, each list by the one
 * thread that claimed its group, so the threads read it without locks. The
 * build is synchronous, so hand-offs go through Atomics on a control block
 * rather than messages:
 *
 *   ctrl: [gen | finished | failed | s | e | entry | top | stop | ready | next | phase | count]
 *
 * This thread writes the phase and its batch, resets finished, sets next to
 * (tag, 0) and bumps gen; then every thread, this one included, claims items
 * by a compare-and-swap on next (its high bits tag the phase, so a worker that
 * wakes late claims nothing of a later one) and counts each one done in
 * finished. A thread the scheduler keeps waiting just does fewer. A worker
 * that fails sets failed (its thread number) and writes its message into `error`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorker, workerScript } from './thread.js';
import type { SharedHnsw } from './hnsw.js';
import { sharedSimdAvailable } from './simd.js';

export const CTRL = { gen: 0, finished: 1, failed: 2, s: 3, e: 4, entry: 5, top: 6, stop: 7, ready: 8, next: 9, phase: 10, count: 11 } as const;

/** The phases of a batch (ctrl[CTRL.phase]); see the top of the file. */
export const PHASE = { plan: 0, select: 1, link: 2 } as const;
export type Phase = (typeof PHASE)[keyof typeof PHASE];

/**
 * Claims the next item of the current phase (tagged `tag`) for this
 * thread: its index, or -1 when there is none left (or the phase is another).
 */
export function claim(ctrl: Int32Array, tag: number, count: number): number {
  for (;;) {
    const v = Atomics.load(ctrl, CTRL.next);
    if (v >>> 16 !== tag || (v & 0xffff) >= count) return -1;
    if (Atomics.compareExchange(ctrl, CTRL.next, v, v + 1) === v) return v & 0xffff;
  }
}

/** The phase tag of generation `gen` (15 bits, so the tagged counter stays a positive int32). */
export function tagOf(gen: number): number {
  return gen & 0x7fff;
}
/** A worker that has not answered in this long is taken for lost (the build fails rather than hangs). */
const LOST_MS = 120_000;

/**
 * Candidates of a batch's elements, one unit per (element, level searched):
 * ids[u·(efc+1)] = count, then the slots; dists[u·efc + i], nearest first.
 * In SharedArrayBuffers, so the workers write it in place.
 */
export class PlanBuffer {
  /** Units at most per batch: a batch ends before an element that would not fit. */
  readonly units = 512;
  /** Elements at most per batch. */
  readonly maxBatch = 256;
  readonly ids: Int32Array;
  readonly dists: Float64Array;
  /** First unit of each element of the batch (and one past the last). */
  readonly unitAt: Int32Array;
  /** The batch's first element (each thread's own copy). */
  start = 0;

  constructor(
    readonly efc: number,
    shared?: { ids: Int32Array; dists: Float64Array; unitAt: Int32Array },
  ) {
    this.ids = shared?.ids ?? new Int32Array(new SharedArrayBuffer(4 * this.units * (efc + 1)));
    this.dists = shared?.dists ?? new Float64Array(new SharedArrayBuffer(8 * this.units * efc));
    this.unitAt = shared?.unitAt ?? new Int32Array(new SharedArrayBuffer(4 * (this.maxBatch + 1)));
  }
}

/**
 * The neighbour lists a batch's elements selected for themselves, one unit
 * per (element, level linked): ids[u·(m+1)] = count, then the slots, nearest
 * first. Element x of the batch links levels 0..k-1, k = unitAt[x+1] - unitAt[x],
 * level l in unit unitAt[x] + l. In SharedArrayBuffers, so every thread writes it in place.
 */
export class LinkBuffer {
  readonly ids: Int32Array;
  /** First unit of each element of the batch (and one past the last). */
  readonly unitAt: Int32Array;

  /**
   * @param m neighbours per upper-level list (what an element selects at every level)
   * @param units units at most per batch
   * @param groups how many groups the lists are split into for the link phase (1 on one thread)
   */
  constructor(
    readonly m: number,
    readonly units: number,
    readonly groups: number,
    maxBatch: number,
    shared?: { ids: Int32Array; unitAt: Int32Array },
  ) {
    this.ids = shared?.ids ?? new Int32Array(new SharedArrayBuffer(4 * units * (m + 1)));
    this.unitAt = shared?.unitAt ?? new Int32Array(new SharedArrayBuffer(4 * (maxBatch + 1)));
  }
}

/** What a build worker is started with. */
export interface BuildSetup {
  hnsw: SharedHnsw;
  ctrl: Int32Array;
  error: Uint8Array;
  ids: Int32Array;
  dists: Float64Array;
  unitAt: Int32Array;
  efc: number;
  link: { m: number; units: number; groups: number; ids: Int32Array; unitAt: Int32Array };
  thread: number;
}

export class BuildThreads {
  private readonly ctrl = BuildThreads.control();
  private readonly error = new Uint8Array(new SharedArrayBuffer(1024));
  private readonly workers: Worker[] = [];

  private constructor(
    hnsw: SharedHnsw,
    plan: PlanBuffer,
    link: LinkBuffer,
    url: URL,
  ) {
    const { m, units, groups, ids, unitAt } = link;
    for (let t = 1; t < hnsw.threads; t++) {
      const setup: BuildSetup = {
        hnsw,
        ctrl: this.ctrl,
        error: this.error,
        ids: plan.ids,
        dists: plan.dists,
        unitAt: plan.unitAt,
        efc: plan.efc,
        link: { m, units, groups, ids, unitAt },
        thread: t,
      };
      const w = startWorker(url);
      w.unref();
      w.postMessage(setup);
      this.workers.push(w);
    }
  }

  private static control(): Int32Array {
    const c = new Int32Array(new SharedArrayBuffer(4 * 16));
    c[CTRL.next] = -1;
    return c;
  }

  /** The compiled worker script beside this module (none when run from the TypeScript sources). */
  private static url(): URL {
    return workerScript('build-thread-worker', import.meta.url);
  }

  /** Whether a build can run on worker threads here. */
  static available(): boolean {
    return sharedSimdAvailable() && existsSync(fileURLToPath(BuildThreads.url()));
  }

  /** Workers for threads 1..hnsw.threads-1 of a shared build block (see HnswIndex.allocate). */
  static start(hnsw: SharedHnsw, plan: PlanBuffer, link: LinkBuffer): BuildThreads {
    return new BuildThreads(hnsw, plan, link, BuildThreads.url());
  }

  /**
   * Runs `phase` of batch [s, e) (graph entry and top level as the batch
   * found them) over its `count` items with the workers, `work(i)` doing item
   * i on this thread, and returns once every item is done.
   * @throws Error when a worker failed or was lost
   */
  run(phase: Phase, s: number, e: number, entry: number, top: number, count: number, work: (i: number) => void): void {
    const c = this.ctrl;
    const gen = Atomics.load(c, CTRL.gen) + 1;
    Atomics.store(c, CTRL.phase, phase);
    Atomics.store(c, CTRL.count, count);
    Atomics.store(c, CTRL.s, s);
    Atomics.store(c, CTRL.e, e);
    Atomics.store(c, CTRL.entry, entry);
    Atomics.store(c, CTRL.top, top);
    Atomics.store(c, CTRL.finished, 0);
    Atomics.store(c, CTRL.next, tagOf(gen) << 16);
    Atomics.store(c, CTRL.gen, gen);
    Atomics.notify(c, CTRL.gen);
    for (let i = claim(c, tagOf(gen), count); i >= 0; i = claim(c, tagOf(gen), count)) {
      work(i);
      Atomics.add(c, CTRL.finished, 1);
    }
    this.waitFor(CTRL.finished, count);
    // Closed before the next phase is written: a worker that reads part of it cannot claim from this one.
    Atomics.store(c, CTRL.next, -1);
  }

  /** Waits until ctrl[slot] reaches `count`, or throws when a worker failed or is lost. */
  private waitFor(slot: number, count: number): void {
    const c = this.ctrl;
    for (;;) {
      const now = Atomics.load(c, slot);
      const failed = Atomics.load(c, CTRL.failed);
      if (failed !== 0) {
        const end = this.error.indexOf(0);
        const why = new TextDecoder().decode(this.error.slice(0, end < 0 ? this.error.length : end));
        throw new Error(`hnsw build: worker thread ${failed} failed: ${why}`);
      }
      if (now >= count) return;
      if (Atomics.wait(c, slot, now, LOST_MS) === 'timed-out' && Atomics.load(c, slot) === now) {
        throw new Error(`hnsw build: a worker thread did not answer in ${LOST_MS / 1000} s`);
      }
    }
  }

  /** Lets the workers end (they exit their loop) and stops them. */
  close(): void {
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.add(this.ctrl, CTRL.gen, 1);
    Atomics.notify(this.ctrl, CTRL.gen);
    for (const w of this.workers) void w.terminate();
  }
}
