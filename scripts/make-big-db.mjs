#!/usr/bin/env node
// Builds a large seeded database through the service API, in process, for
// measuring the storage layer (not part of npm test):
//   node scripts/make-big-db.mjs OUT.json ROWS [DIM=384] [BATCH=100000] [DOCS=0]
// Vectors are uniform in [-1, 1) from a seeded generator; texts are "chunk N".
// With DOCS > 0 the library also gets DOCS documents "files/NNNNNNN.md", and
// chunk N is "files/….md#N" (a user id) in document N % DOCS.
// Requires `npm run build` (imports dist/).
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../dist/domain/random.js';
import { VdbService } from '../dist/service/service.js';

const [out, rowsArg, dimArg, batchArg, docsArg] = process.argv.slice(2);
if (!out || !rowsArg) {
  process.stderr.write('usage: node scripts/make-big-db.mjs OUT.json ROWS [DIM=384] [BATCH=100000] [DOCS=0]\n');
  process.exit(2);
}
const rows = Number(rowsArg);
const dim = Number(dimArg ?? 384);
const batch = Number(batchArg ?? 100_000);
const docs = Number(docsArg ?? 0);
const svc = new VdbService({ path: out, seed: 'big', now: () => '2023-11-14T22:13:20.000Z' });
const rnd = seededRandom(42);
const t0 = performance.now();
const docId = (d) => `files/${String(d).padStart(7, '0')}.md`;
await svc.createLibrary({ name: 'big', dim, metric: 'l2' });
for (let done = 0; done < docs; done += batch) {
  const n = Math.min(batch, docs - done);
  await svc.documents.add('big', Array.from({ length: n }, (_, i) => ({ id: docId(done + i), title: `file ${done + i}` })));
  process.stderr.write(`${done + n} documents, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
for (let done = 0; done < rows; done += batch) {
  const n = Math.min(batch, rows - done);
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < vectors.length; i++) vectors[i] = rnd.next() * 2 - 1;
  const items = Array.from({ length: n }, (_, i) => {
    const item = { text: `chunk ${done + i}`, embedding: vectors.subarray(i * dim, (i + 1) * dim) };
    if (docs === 0) return item;
    const d = docId((done + i) % docs);
    return { ...item, id: `${d}#${done + i}`, doc_id: d };
  });
  await svc.addChunks('big', items);
  process.stderr.write(`${done + n} rows, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
