/**
 * A library's float rows paged from its vectors sidecar into a prepared block
 * (kernels.ts `allocRows`) as searches touch them, by any thread of the
 * process. The sidecar holds the rows row-major as the block does, so each
 * 4 KiB page is read straight to its place in the block and checked against
 * the page table once; a row is prepared (unit length for cosine) once the
 * pages under it are in. Pages and rows are claimed atomically (absent, being
 * read, ready): the threads of a pool share one block and one set of claims,
 * and whichever thread reads a page, the block ends up with the same bytes.
 */
import type { PageSource } from '../store/sidecar.js';
import { PAGE_BYTES, readPages } from '../store/sidecar.js';
import { prepareRows } from './kernels.js';
import type { Metric } from './kernels.js';

const ABSENT = 0;
const READY = 2;
/**
 * A claim held by `holder` (0: the main thread, else a worker's number from
 * `newHolder`): whose it is, so the claims of a thread that died holding them
 * (a worker terminated mid-read never reaches its finally) can be given back.
 */
const heldBy = (holder: number): number => -1 - holder;
/** Pages read by one call of `fillAll`: 16 MiB. */
const RUN_PAGES = 4096;
/** How long a thread waits on a claim another thread holds before calling it lost. */
const CLAIM_WAIT_MS = 30_000;

/** What the threads sharing a block post to each other: the file and the claims. */
export interface RowPagesShare {
  source: PageSource;
  /** One claim per page of the sidecar and one per row: ABSENT, READY, or held by a thread (heldBy). */
  pageStates: Int32Array;
  rowStates: Int32Array;
  rows: number;
  dim: number;
  metric: Metric;
}

/** A failure to read or check a page, raised on a worker thread (the main thread reports it as damage to the snapshot). */
export class PageFailure extends Error {}

export class RowPages {
  private readonly bytes: Uint8Array;
  private whole = false;

  /**
   * @param data the block: rows [0, share.rows) come from the file
   * @param fail reports a page that cannot be read or fails its check; it throws
   * @param hold keeps the file open for other threads until the returned release is called
   */
  private constructor(
    readonly share: RowPagesShare,
    private readonly data: Float32Array,
    private readonly fail: (what: string) => never,
    readonly hold: () => () => void,
    private readonly holder = 0,
  ) {
    this.bytes = new Uint8Array(data.buffer, data.byteOffset, share.rows * share.dim * 4);
  }

  /** Pages of `source` into `data`; claims in shared memory when the block is shared, so worker threads can join (`adopt`). */
  static open(source: PageSource, rows: number, dim: number, metric: Metric, data: Float32Array, fail: (what: string) => never, hold: () => () => void): RowPages {
    const pages = Math.ceil(source.bytes / PAGE_BYTES);
    const shared = data.buffer instanceof SharedArrayBuffer;
    const states = (n: number) => new Int32Array(shared ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4));
    return new RowPages({ source, pageStates: states(pages), rowStates: states(rows), rows, dim, metric }, data, fail, hold);
  }

  /** The same pages and claims on another thread, over its view of the shared block; `holder` from `newHolder`. */
  static adopt(share: RowPagesShare, data: Float32Array, holder: number): RowPages {
    const fail = (what: string): never => {
      throw new PageFailure(what);
    };
    return new RowPages(share, data, fail, () => () => undefined, holder);
  }

  private holders = 0;
  /** A number no other thread on these claims has (this one is 0), for a worker about to `adopt` them. */
  newHolder(): number {
    return ++this.holders;
  }

  /**
   * Gives back the claims `holder` still holds, once its thread has stopped:
   * whoever needs those pages or rows next reads them. Without this, a thread
   * waiting on one would wait CLAIM_WAIT_MS and fail.
   */
  releaseClaimsOf(holder: number): void {
    const held = heldBy(holder);
    for (const states of [this.share.pageStates, this.share.rowStates]) {
      for (let i = 0; i < states.length; i++) {
        if (states[i] === held && Atomics.compareExchange(states, i, held, ABSENT) === held && this.shared) Atomics.notify(states, i);
      }
    }
  }

  /** Reports `what` as damage to the rows' file, as a failed read does. */
  damaged(what: string): never {
    return this.fail(what);
  }

  /** Whether worker threads can share the claims (the block and the claims are in shared memory). */
  get shared(): boolean {
    return this.share.rowStates.buffer instanceof SharedArrayBuffer;
  }

  /** Makes `row` readable in the block. */
  readonly fill = (row: number): void => {
    const { rowStates, dim } = this.share;
    if (this.whole || row >= this.share.rows || Atomics.load(rowStates, row) === READY) return;
    const first = Math.floor((row * dim * 4) / PAGE_BYTES);
    const last = Math.floor(((row + 1) * dim * 4 - 1) / PAGE_BYTES);
    for (let p = first; p <= last; p++) this.claim(this.share.pageStates, p, () => this.readPages(p, p + 1));
    this.claim(rowStates, row, () => prepareRows(this.share.metric, this.data, dim, row, row + 1));
  };

  /** Makes every row readable: absent pages in long sequential reads, then every row not yet prepared. */
  fillAll(): void {
    if (this.whole) return;
    const { pageStates, rowStates, rows, dim, metric } = this.share;
    this.runAll(pageStates, RUN_PAGES, (from, to) => this.readPages(from, to));
    this.runAll(rowStates, rows, (from, to) => prepareRows(metric, this.data, dim, from, to));
    this.whole = true;
  }

  /**
   * Runs `work` over every item of `states` not ready: absent ones claimed in
   * runs of up to `maxRun`, then those another thread held meanwhile, waited for.
   */
  private runAll(states: Int32Array, maxRun: number, work: (from: number, to: number) => void): void {
    const mine = heldBy(this.holder);
    for (let i = 0; i < states.length; ) {
      if (Atomics.compareExchange(states, i, ABSENT, mine) !== ABSENT) {
        i++;
        continue;
      }
      const from = i;
      let end = from + 1;
      while (end < states.length && end - from < maxRun && Atomics.compareExchange(states, end, ABSENT, mine) === ABSENT) end++;
      this.settle(states, from, end, () => work(from, end));
      i = end;
    }
    for (let i = 0; i < states.length; i++) this.claim(states, i, () => work(i, i + 1));
  }

  /** Pages [from, to) into their place in the block, checked. */
  private readPages(from: number, to: number): void {
    const into = this.bytes.subarray(from * PAGE_BYTES, Math.min(this.bytes.byteLength, to * PAGE_BYTES));
    try {
      readPages(this.share.source, into, from);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  /** Runs `work` for item `i` unless it is ready; waits while another thread runs it. */
  private claim(states: Int32Array, i: number, work: () => void): void {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    const mine = heldBy(this.holder);
    for (;;) {
      const was = Atomics.compareExchange(states, i, ABSENT, mine);
      if (was === READY) return;
      if (was === ABSENT) return this.settle(states, i, i + 1, work);
      // Another thread is reading it; if that one fails or stops, the claim comes back ABSENT and this one tries.
      if (!this.shared) throw new Error('a row claim is held on a block no other thread shares');
      if (Date.now() > deadline) throw new Error(`a page of sidecar ${this.share.source.file} claimed by another thread was not read within ${CLAIM_WAIT_MS / 1000} s`);
      Atomics.wait(states, i, was, 100);
    }
  }

  /** Runs `work` for the claimed items [from, to): ready after it, absent again if it throws. */
  private settle(states: Int32Array, from: number, to: number, work: () => void): void {
    let outcome = ABSENT;
    try {
      work();
      outcome = READY;
    } finally {
      for (let i = from; i < to; i++) Atomics.store(states, i, outcome);
      if (this.shared) for (let i = from; i < to; i++) Atomics.notify(states, i);
    }
  }
}
