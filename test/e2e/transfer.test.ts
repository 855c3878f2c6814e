/**
 * vdb export / vdb import through bin/vdb: the round trip is byte-identical
 * and bit-exact, a bad line is named and imports nothing, and conflicts are
 * refused, skipped or replaced.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, VdbError } from '../../src/domain/errors.js';
import { VdbService } from '../../src/service/service.js';
import { TransferService } from '../../src/service/transfer.js';
import { ImportReader } from '../../src/transfer/format.js';
import { SnapshotStore } from '../../src/store/store.js';
import { tempDir, vdb, vdbInProcess } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `db${n++}.json`);
const ENV = { VDB_SEED: 'transfer', SOURCE_DATE_EPOCH: '1700000000' };
// Bit patterns a JSON number would not carry through: -0, the smallest subnormal, float32's extremes.
const SPECIAL = [-0, 1e-45, -3.4028234663852886e38, 1.1754943508222875e-38];

function files(path: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = { manifest: readFileSync(path) };
  if (existsSync(`${path}.d`)) for (const f of readdirSync(`${path}.d`)) out[f] = readFileSync(join(`${path}.d`, f));
  return out;
}

function bits(path: string, lib: string): Uint32Array {
  const v = new SnapshotStore(path).read().library(lib).vectors();
  return new Uint32Array(v.buffer, v.byteOffset, v.length).slice();
}

/** `vdb import` without the process: lines numbered from 1, blank ones skipped. */
async function importInProcess(path: string, lines: string[]): Promise<unknown> {
  const reader = new ImportReader();
  lines.forEach((line, i) => {
    if (line.trim() !== '') reader.add(i + 1, JSON.parse(line));
  });
  return new TransferService(new VdbService({ path })).import(reader);
}

/** vdb through bin/vdb when it reads stdin (import), else the same program in process (cheaper). */
async function ok(args: string[], db: string, input?: string, env: Record<string, string> = ENV): Promise<string> {
  const r = input === undefined ? await vdbInProcess(args, { db, env }) : vdb(args, { db, input, env });
  expect(r.code, `vdb ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('vdb export and import', () => {
  const source = fresh();
  let exported: string;

  beforeAll(async () => {
    const svc = new VdbService({ path: source, seed: 'transfer-source', now: () => '2024-05-01T12:00:00.000Z' });
    await svc.createLibrary({ name: 'notes', metadata: { owner: 'ana' } });
    await svc.documents.add('notes', [{ id: 'b/2.md', title: 'Two' }, { id: 'a/1.md', title: 'One', metadata: { tags: ['x'] } }, { id: 'empty.md' }]);
    await svc.addChunks('notes', [
      { id: 'n1', doc_id: 'a/1.md', text: 'hello vector world', tags: ['intro'] },
      { text: 'the quick brown fox', metadata: { nested: { a: [1, null, 'x'] } } },
      { id: 'n3', doc_id: 'b/2.md', text: 'jumps over the lazy dog' },
    ]);
    await svc.buildIndex('notes', { type: 'hnsw', params: { m: 4, ef_construction: 20, ef_search: 10 } });
    await svc.createLibrary({ name: 'vecs', dim: 4, metric: 'l2', embedder: null });
    await svc.addChunks('vecs', [{ id: 'special', embedding: SPECIAL }, ...Array.from({ length: 20 }, (_, i) => ({ embedding: [i, i / 3, -i, 0.1 * i] }))]);
    await svc.buildIndex('vecs', { type: 'lsh', params: { tables: 2 } });
    await svc.createLibrary({ name: 'untouched', dim: 2, metric: 'dot', embedder: null });
    exported = await ok(['export'], source);
  });

  it('export → import → export gives the same bytes, vectors bit for bit, one file or sidecars', async () => {
    const lines = exported.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ format: 'vdb-export', version: 1 });
    expect(lines.map((l) => l.type ?? 'header')).toEqual(['header', 'library', 'document', 'document', 'document', 'chunk', 'chunk', 'chunk', 'library', ...new Array(21).fill('chunk'), 'library']);
    expect(lines[1].index).toEqual({ type: 'hnsw', params: { m: 4, ef_construction: 20, ef_search: 10 } });
    expect(lines.filter((l) => l.type === 'document').map((l) => l.id)).toEqual(['a/1.md', 'b/2.md', 'empty.md']);
    for (const env of [ENV, { ...ENV, VDB_SIDECAR_MIN_BYTES: '0' }]) {
      const target = fresh();
      expect((await ok(['import'], target, exported, env)).trim().split('\n')).toEqual(lines.filter((l) => l.type === 'library').map((l) => l.id));
      expect(await ok(['export'], target, undefined, env)).toBe(exported);
      expect(bits(target, 'vecs')).toEqual(bits(source, 'vecs'));
      expect(new Uint32Array(new Float32Array(SPECIAL).buffer)).toEqual(bits(target, 'vecs').subarray(0, 4));
      // The indexes were built again, from the export's definitions.
      const index = new SnapshotStore(target).read().library('notes').indexView();
      expect(index).toMatchObject({ type: 'hnsw', params: { m: 4, ef_construction: 20, ef_search: 10 }, indexed: 3, unindexed: 0 });
    }
    expect((await ok(['export', '--lib', 'vecs'], source)).split('\n')[1]).toBe(exported.split('\n')[8]);
  });

  it('names a bad line and imports nothing', async () => {
    const target = fresh();
    await ok(['lib', 'create', 'keep'], target);
    const before = files(target);
    const lines = exported.split('\n');
    const chunk = JSON.parse(lines[6]);
    const cases: [string[], RegExp, number][] = [
      [[...lines.slice(0, 6), '{"type": "chunk", "lib_id"', ...lines.slice(6)], /^vdb: error: line 7: not valid JSON/, 3],
      [[...lines.slice(0, 6), JSON.stringify({ ...chunk, id: 'short', embedding: { dtype: 'f32', base64: 'AACAPw==' } }), ...lines.slice(6)], /^vdb: error: line 7: embedding has 1 dims, expected 26/, 3],
      [[...lines.slice(0, 6), JSON.stringify({ ...chunk, type: 'chunks' }), ...lines.slice(6)], /^vdb: error: line 7: "type" must be "library", "document" or "chunk"/, 3],
      [[...lines.slice(0, 6), JSON.stringify({ ...chunk, id: 'nan', embedding: { dtype: 'f32', base64: Buffer.from(new Float32Array(26).fill(NaN).buffer).toString('base64') } })], /^vdb: error: line 7: embedding\[0\] is NaN/, 3],
      [[...lines.slice(0, 6), JSON.stringify({ ...chunk, id: 'orphan', doc_id: 'nowhere.md' }), ...lines.slice(6)], /^vdb: error: line 7: document "nowhere.md" is neither in the export nor in library "notes"/, 4],
      [[...lines.slice(0, 6), lines[6], ...lines.slice(6)], /^vdb: error: line 8: chunk "[^"]+" is given twice \(also line 7\)/, 3],
      [lines.slice(1), /^vdb: error: line 1: a vdb export starts with \{"format": "vdb-export", "version": 1\}/, 3],
      [['{"format": "vdb-export", "version": 2}'], /^vdb: error: line 1: not a vdb export this vdb reads/, 3],
    ];
    // Through bin/vdb for the first two (the stdin parser names lines too), in process for the rest.
    for (const [i, [input, message, code]] of cases.entries()) {
      if (i < 2) {
        const r = vdb(['import'], { db: target, input: input.join('\n'), env: ENV });
        expect([r.code, r.stderr.trim().split('\n').length], r.stderr).toEqual([code, 1]);
        expect(r.stderr).toMatch(message);
        continue;
      }
      const err = await importInProcess(target, input).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VdbError);
      expect(EXIT_CODES[(err as VdbError).code]).toBe(code);
      expect(`vdb: error: ${(err as VdbError).display}`).toMatch(message);
    }
    const after = files(target);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const f of Object.keys(before)) expect(after[f].equals(before[f]), f).toBe(true);
  });

  it('refuses a library that exists, or skips or replaces what exists in it', async () => {
    const target = fresh();
    await ok(['import'], target, exported);
    const imported = files(target);
    const again = vdb(['import'], { db: target, input: exported, env: ENV });
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/^vdb: error: line 2: library "notes" already exists \(import into another database, or merge with --on-conflict skip\|replace\)\n$/);
    const skipped = JSON.parse(await ok(['import', '--on-conflict', 'skip', '--json'], target, exported));
    expect(skipped.libraries[0]).toMatchObject({ name: 'notes', created: false, chunks: { skipped: 3, added: 0 }, documents: { skipped: 3 }, index: null });
    // Nothing changed: the same bytes.
    for (const [f, b] of Object.entries(files(target))) expect(b.equals(imported[f]), f).toBe(true);
    const edited = exported.replace('"text":"jumps over the lazy dog"', '"text":"jumps over the lazy cat"').replace('"title":"Two"', '"title":"Deux"');
    const replaced = JSON.parse(await ok(['import', '--on-conflict', 'replace', '--json'], target, edited));
    expect(replaced.libraries[0]).toMatchObject({ chunks: { replaced: 1, unchanged: 2 }, documents: { replaced: 1, unchanged: 2 }, index: { mode: 'full' } });
    expect(replaced.libraries[1]).toMatchObject({ chunks: { unchanged: 21 }, index: null });
    // The merged library was changed now (SOURCE_DATE_EPOCH); its documents and chunks carry the export's times.
    const now = new Date(1700000000 * 1000).toISOString();
    expect(await ok(['export'], target)).toBe(edited.replace(/("name":"notes".*?"updated_at":")[^"]+/, `$1${now}`));
    // A library of the same name but another shape is never merged.
    const other = fresh();
    await ok(['lib', 'create', 'vecs', '--dim', '3'], other);
    const r = vdb(['import', '--on-conflict', 'replace'], { db: other, input: exported, env: ENV });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/library "vecs" exists with 3 dims, cosine, embedder none; the export has 4 dims, l2, embedder none/);
  });
});
