// Build A/B of a vdb checkout: CPU and wall of a one-process HnswIndex.build (cosine, m 16, ef_construction 200,
// seed 'ab') over the first <rows> rows of a float32 file, and the index digest, so two checkouts can be compared:
// node bench/walk-build-ab.mjs <vdb root> <base.f32> <dim> <rows> <threads>
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
const [root, file, dimS, rowsS, threadsS] = process.argv.slice(2);
const dim = Number(dimS), rows = Number(rowsS);
const { HnswIndex } = await import(`${root}/dist/index/hnsw.js`);
const { prepareData } = await import(`${root}/dist/index/kernels.js`);
const { seededRandom } = await import(`${root}/dist/domain/random.js`);
const buf = readFileSync(file);
const raw = new Float32Array(buf.buffer, buf.byteOffset, rows * dim).slice();
const data = prepareData('cosine', raw, dim);
const space = { metric: 'cosine', dim, data, rows, slotToRow: null };
const c0 = process.cpuUsage(); const t0 = performance.now();
const ix = HnswIndex.build(space, { m: 16, ef_construction: 200 }, { random: seededRandom('ab'), threads: Number(threadsS) });
const c = process.cpuUsage(c0);
const s = ix.serialize();
const h = createHash('sha256').update(JSON.stringify(s.params));
for (const [name, a] of Object.entries(s.arrays)) h.update(name).update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
console.log(`${root.split('/').pop()} rows ${rows} threads ${threadsS}: wall ${((performance.now() - t0) / 1000).toFixed(2)} s, cpu(this thread+workers) ${((c.user + c.system) / 1e6).toFixed(2)} s, digest ${h.digest('hex').slice(0, 16)}`);
