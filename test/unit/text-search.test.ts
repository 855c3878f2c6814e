import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptSnapshot, InvalidInput } from '../../src/domain/errors.js';
import { seededRandom } from '../../src/domain/random.js';
import { VdbService } from '../../src/service/service.js';
import { TransferService } from '../../src/service/transfer.js';
import { ImportReader } from '../../src/transfer/format.js';
import type { StoreTuning } from '../../src/store/store.js';
import { Bm25Index } from '../../src/text/bm25.js';
import { fuse } from '../../src/text/fusion.js';
import { analyze } from '../../src/text/tokenizer.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const NOW = () => '2023-11-14T22:13:20.000Z';
const V1: StoreTuning = { sidecarMinBytes: 1 << 30, logMinBytes: 1 << 20, logMaxBytes: 8 << 20 };
// Sidecars from the start, and the log folded every few writes.
const V2: StoreTuning = { sidecarMinBytes: 0, logMinBytes: 2000, logMaxBytes: 8 << 20 };
const service = (path: string, storage: StoreTuning) => new VdbService({ path, seed: 'text', now: NOW, storage });

const WORDS = ['red', 'green', 'blue', 'cats', 'cat', 'dogs', 'the', 'running', 'runs', 'café', 'sky'];
const rnd = seededRandom(11);
const sentence = () => Array.from({ length: 1 + Math.floor(rnd.next() * 7) }, () => WORDS[Math.floor(rnd.next() * WORDS.length)]).join(' ');
const vector = () => [rnd.next() - 0.5, rnd.next() - 0.5, rnd.next() + 0.1];

/** The oracle: BM25 built from scratch over the library's chunks now, as (id, score) best first. */
function oracle(svc: VdbService, lib: string, query: string, k: number, accept: (id: string) => boolean = () => true) {
  const chunks = svc.listChunks(lib).chunks;
  const index = Bm25Index.create();
  chunks.forEach((c, i) => index.add(i, analyze(c.text)));
  return index.search(analyze(query), k, (i) => accept(chunks[i].id)).map((h) => ({ id: chunks[h.key].id, score: h.score }));
}

async function textHits(svc: VdbService, lib: string, query: string, k = 50) {
  const res = await svc.query(lib, { text: query, mode: 'text', k });
  expect(res.mode).toBe('text');
  return res.hits.map((h) => ({ id: h.id, score: h.score }));
}

describe.each([
  ['v1', V1],
  ['v2', V2],
])('the full-text index of a %s database', (_, storage) => {
  it('is stored by index build, read back as it was, and never stale through adds, text edits and deletes', async () => {
    const path = fresh();
    const svc = service(path, storage);
    await svc.createLibrary({ name: 'w', dim: 3 });
    const added = await svc.addChunks('w', Array.from({ length: 60 }, () => ({ text: sentence(), embedding: vector() })));
    // No stored index yet: queries index every chunk in memory, and write nothing.
    expect(svc.indexInfo('w').text_index).toBeNull();
    const before = readFileSync(path);
    for (const q of ['cat', 'green dogs', 'running sky café']) expect(await textHits(svc, 'w', q)).toEqual(oracle(svc, 'w', q, 50));
    expect(readFileSync(path).equals(before)).toBe(true);
    const build = await svc.buildIndex('w', { text: true });
    expect(build.text_build).toEqual({ mode: 'full', added: 60, removed: 0 });
    expect(build.text_index).toMatchObject({ indexed: 60, unindexed: 0, stale: 0, params: { k1: 1.2, b: 0.75 } });
    // A new process: the stored index answers as one built from scratch.
    const reopened = service(path, storage);
    for (const q of ['cat', 'green dogs', 'blue']) expect(await textHits(reopened, 'w', q)).toEqual(oracle(reopened, 'w', q, 50));
    // Writes after the build: an add, a text edit that keeps the vector (the seq moves all the same), deletes.
    await reopened.addChunks('w', [{ text: 'green green cats', embedding: vector() }]);
    await reopened.updateChunk(added[3].id, { text: 'blue sky running' });
    await reopened.deleteChunks([added[5].id, added[6].id]);
    const info = reopened.indexInfo('w').text_index;
    expect(info).toMatchObject({ indexed: 57, unindexed: 2, stale: 3 });
    const later = service(path, storage);
    for (const q of ['green cats', 'blue sky', 'dogs']) expect(await textHits(later, 'w', q)).toEqual(oracle(later, 'w', q, 50));
    // index build brings it up to date incrementally; a second one has nothing to do.
    expect((await later.buildIndex('w', {})).text_build).toEqual({ mode: 'incremental', added: 2, removed: 3 });
    expect((await later.buildIndex('w', {})).text_build).toEqual({ mode: 'none', added: 0, removed: 0 });
    expect(service(path, storage).indexInfo('w').text_index).toMatchObject({ indexed: 59, unindexed: 0, stale: 0 });
    expect(await textHits(service(path, storage), 'w', 'blue sky')).toEqual(oracle(later, 'w', 'blue sky', 50));
    // --no-text leaves it alone.
    await later.addChunks('w', [{ text: 'cat', embedding: vector() }]);
    expect((await later.buildIndex('w', { text: false })).text_build).toBeNull();
    // An export says the library has one; an import builds it again.
    const lines = [...new TransferService(later).exportLines(['w'])];
    expect(JSON.parse(lines[1]).text_index).toEqual({ params: { k1: 1.2, b: 0.75 } });
    const reader = new ImportReader();
    lines.forEach((l, i) => reader.add(i + 1, JSON.parse(l)));
    const copy = service(fresh(), storage);
    const [report] = await new TransferService(copy).import(reader);
    expect(report.text_index).toEqual({ mode: 'full', added: 60, removed: 0 });
    expect(await textHits(copy, 'w', 'cat')).toEqual(oracle(later, 'w', 'cat', 50));
  });
});

describe('text and hybrid queries', () => {
  it('fuse the vector and the text lists as fusion.ts does, with each mode’s rank and score on the hits', async () => {
    const svc = service(fresh(), V1);
    await svc.createLibrary({ name: 'l' });
    await svc.addChunks('l', Array.from({ length: 40 }, () => ({ text: sentence() })));
    const chunks = svc.listChunks('l').chunks;
    const row = new Map(chunks.map((c, i) => [c.id, i]));
    for (const [fusion, alpha] of [['rrf', undefined], ['score', 0.3], ['score', 1]] as const) {
      const k = 7;
      const res = await svc.query('l', { text: 'green cats running', mode: 'hybrid', k, fusion, alpha });
      const vec = (await svc.query('l', { text: 'green cats running', k: 100 })).hits.map((h) => ({ key: row.get(h.id)!, score: -(h.distance as number) }));
      const txt = (await svc.query('l', { text: 'green cats running', mode: 'text', k: 100 })).hits.map((h) => ({ key: row.get(h.id)!, score: h.score }));
      const want = fuse(vec, txt, k, { method: fusion, alpha: alpha ?? 0.5 });
      expect(res.mode).toBe('hybrid');
      expect(res.hits.map((h) => row.get(h.id))).toEqual(want.map((f) => f.key));
      res.hits.forEach((h, i) => {
        expect(h.score).toBe(want[i].score);
        expect(h.modes?.text?.rank ?? null).toBe(want[i].text?.rank ?? null);
        expect(h.modes?.vector?.rank ?? null).toBe(want[i].vector?.rank ?? null);
        if (h.modes?.vector) expect(h.distance).toBe(h.modes.vector.distance);
        else expect(h.distance).toBeNull();
      });
    }
    // A vector query's result is as it was before modes existed.
    expect(Object.keys((await svc.query('l', { text: 'cats', k: 1 })).hits[0])).toEqual(['id', 'doc_id', 'text', 'score', 'distance', 'metadata']);
  });

  it('apply one filter to every mode: the matching chunks only, their scores unchanged, one explain', async () => {
    const svc = service(fresh(), V2);
    await svc.createLibrary({ name: 'f' });
    await svc.addChunks('f', Array.from({ length: 60 }, (_, i) => ({ text: sentence(), metadata: { g: i % 3 } })));
    await svc.buildIndex('f', { text: true });
    // Written after the build: the filter must hold on the rows the query indexes in memory too.
    await svc.addChunks('f', Array.from({ length: 15 }, (_, i) => ({ text: sentence(), metadata: { g: i % 3 } })));
    const chunks = svc.listChunks('f').chunks;
    const row = new Map(chunks.map((c, i) => [c.id, i]));
    const g1 = new Set(chunks.filter((c) => c.metadata.g === 1).map((c) => c.id));
    const q = 'green cats running';
    const k = 6;
    // Text: BM25 over every chunk (its statistics), keeping the matching ones.
    const text = await svc.query('f', { text: q, mode: 'text', k, where: 'g=1' });
    expect(text.hits.map((h) => ({ id: h.id, score: h.score }))).toEqual(oracle(svc, 'f', q, k, (id) => g1.has(id)));
    // Vector: the unfiltered ranking restricted to the matches.
    const allVec = (await svc.query('f', { text: q, mode: 'vector', k: 200 })).hits;
    const vec = await svc.query('f', { text: q, mode: 'vector', k, filter: { g: 1 } });
    expect(vec.hits.map((h) => h.id)).toEqual(allVec.filter((h) => g1.has(h.id)).slice(0, k).map((h) => h.id));
    // Hybrid: the fusion of the two filtered lists.
    for (const fusion of ['rrf', 'score'] as const) {
      const res = await svc.query('f', { text: q, mode: 'hybrid', fusion, k, where: ['g>=1', 'g<=1'], explain: true });
      const vl = allVec.filter((h) => g1.has(h.id)).map((h) => ({ key: row.get(h.id)!, score: -(h.distance as number) }));
      const tl = oracle(svc, 'f', q, 200, (id) => g1.has(id)).map((h) => ({ key: row.get(h.id)!, score: h.score }));
      const want = fuse(vl, tl, k, { method: fusion, alpha: 0.3 });
      expect(res.hits.map((h) => row.get(h.id))).toEqual(want.map((f) => f.key));
      expect(res.hits.every((h) => g1.has(h.id))).toBe(true);
      expect(res.explain).toMatchObject({ plan: 'exact-scan', matches: g1.size, terms: analyze(q) });
    }
    const explained = await svc.query('f', { text: q, mode: 'text', k, where: 'g=1', explain: true });
    expect(explained.explain).toMatchObject({ plan: 'text', index: null, matches: g1.size, terms: analyze(q) });
    expect(explained.hits).toEqual(text.hits);
    // Nothing matches: no hits in any mode, and a plan that says so.
    for (const mode of ['vector', 'text', 'hybrid'] as const) {
      const none = await svc.query('f', { text: q, mode, k, where: 'g=7', explain: true });
      expect(none.hits).toEqual([]);
      expect(none.explain?.plan).toBe('none');
    }
    // A bad filter is refused whatever the mode.
    await expect(svc.query('f', { text: q, mode: 'text', where: 'g=' })).rejects.toThrow(/filter|where/i);
  });

  it('refuse what they cannot answer, in one line', async () => {
    const svc = service(fresh(), V1);
    await svc.createLibrary({ name: 'raw', dim: 2 });
    await svc.addChunks('raw', [{ text: 'the red cat', embedding: [1, 0] }, { text: 'a green dog', embedding: [0, 1] }]);
    // Text mode needs no embedder; hybrid there takes the text and its embedding.
    expect((await svc.query('raw', { text: 'cat', mode: 'text' })).hits.map((h) => h.text)).toEqual(['the red cat']);
    expect((await svc.query('raw', { text: 'dog', embedding: [0, 1], mode: 'hybrid', k: 1 })).hits[0].text).toBe('a green dog');
    const refused: [object, RegExp][] = [
      [{ text: 'the of to', mode: 'text' }, /no searchable words/],
      [{ text: '...', mode: 'hybrid', embedding: [1, 0] }, /no searchable words/],
      [{ text: 'cat', mode: 'hybrid' }, /no embedder; a hybrid query on it needs the text's embedding too/],
      [{ text: 'cat', mode: 'text', embedding: [1, 0] }, /matches words, not an embedding/],
      [{ text: 'cat', mode: 'text', ef: 10 }, /a text query has none/],
      [{ text: 'cat', mode: 'text', alpha: 0.5 }, /alpha applies to hybrid queries/],
      [{ text: 'cat', embedding: [1, 0], mode: 'hybrid', fusion: 'rrf', alpha: 0.5 }, /reciprocal rank fusion has no weight/],
      [{ text: 'cat', embedding: [1, 0], mode: 'hybrid', fusion: 'score', alpha: 2 }, /alpha must be a number from 0 to 1/],
      [{ text: 'cat', mode: 'fuzzy' }, /mode must be one of vector, text, hybrid/],
      [{ embedding: [1, 0], mode: 'text' }, /a text query needs a text/],
    ];
    for (const [input, message] of refused) await expect(svc.query('raw', input), JSON.stringify(input)).rejects.toThrow(message);
    await expect(svc.query('raw', { text: 'cat', mode: 'text', k: 0 })).rejects.toBeInstanceOf(InvalidInput);
  });

  it('report a damaged stored index as corruption', async () => {
    const path = fresh();
    const svc = service(path, V2);
    await svc.createLibrary({ name: 'w', dim: 3 });
    await svc.addChunks('w', Array.from({ length: 30 }, () => ({ text: sentence(), embedding: vector() })));
    await svc.buildIndex('w', { text: true });
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    const postings = manifest.libraries[0].text_index.arrays.postings.file as string;
    expect(readdirSync(`${path}.d`)).toContain(postings);
    const file = join(`${path}.d`, postings);
    const bytes = readFileSync(file);
    bytes[0] ^= 0xff;
    writeFileSync(file, bytes);
    await expect(service(path, V2).query('w', { text: 'cat green', mode: 'text' })).rejects.toBeInstanceOf(CorruptSnapshot);
  });
});
