/**
 * A worker thread of `BuildThreads` (build-threads.ts): a view of the shared
 * build block, then, for each phase signalled on the control block, its share
 * of the phase's items; until told to stop.
 */
import { parentPort } from 'node:worker_threads';
import { CTRL, LinkBuffer, PHASE, PlanBuffer, claim, tagOf } from './build-threads.js';
import type { BuildSetup } from './build-threads.js';
import { HnswIndex } from './hnsw.js';

const port = parentPort;
if (port === null) throw new Error('build-thread-worker.js runs as a worker thread of BuildThreads');
port.once('message', (m: BuildSetup) => {
  const c = m.ctrl;
  try {
    const index = HnswIndex.view(m.hnsw, m.thread);
    const plan = new PlanBuffer(m.efc, { ids: m.ids, dists: m.dists, unitAt: m.unitAt });
    const l = m.link;
    const link = new LinkBuffer(l.m, l.units, l.groups, plan.maxBatch, { ids: l.ids, unitAt: l.unitAt });
    Atomics.add(c, CTRL.ready, 1);
    let gen = 0;
    for (;;) {
      Atomics.wait(c, CTRL.gen, gen);
      gen = Atomics.load(c, CTRL.gen);
      if (Atomics.load(c, CTRL.stop) === 1) break;
      // Read after gen: the phase is written before gen is bumped.
      const phase = Atomics.load(c, CTRL.phase);
      const count = Atomics.load(c, CTRL.count);
      const s = Atomics.load(c, CTRL.s);
      const e = Atomics.load(c, CTRL.e);
      const entry = Atomics.load(c, CTRL.entry);
      const top = Atomics.load(c, CTRL.top);
      plan.start = s;
      for (let i = claim(c, tagOf(gen), count); i >= 0; i = claim(c, tagOf(gen), count)) {
        if (phase === PHASE.plan) index.planElement(s + i, entry, top, plan);
        else if (phase === PHASE.select) index.selectElement(s + i, s, top, plan, link);
        else index.linkGroup(i, s, e, link);
        Atomics.add(c, CTRL.finished, 1);
        Atomics.notify(c, CTRL.finished);
      }
    }
  } catch (err) {
    m.error.set(new TextEncoder().encode(String((err as Error)?.message ?? err)).subarray(0, m.error.length - 1));
    Atomics.store(c, CTRL.failed, m.thread);
    Atomics.notify(c, CTRL.finished);
  }
});
