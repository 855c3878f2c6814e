/**
 * `vdb ingest` through bin/vdb on a folder of every format: documents and
 * chunks as documented, re-runs (unchanged, changed, deleted files, --prune),
 * byte-identical snapshots with a seed, stdin, --strict, text queries on the
 * result, and SIGKILL between and inside batch commits followed by a re-run.
 * Steps without a process start or stdin to test run in process (cheaper).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VdbService } from '../../src/service/service.js';
import { tempDir, vdb, vdbInProcess } from '../helpers/cli.js';
import { writer } from '../helpers/failpoint.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const ENV = { VDB_SEED: 'ingest', SOURCE_DATE_EPOCH: '1700000000' };

const FILES: Record<string, string | Buffer> = {
  'guide.md': '# Guide\n\nWelcome. This explains how to reset your password.\n\n## Billing\n\nInvoices are sent monthly.\n',
  'web/page.html': '<html><head><title>Shipping</title><style>p{}</style></head><body><h1>Shipping</h1><p>We ship worldwide.</p><script>var hidden = 1</script></body></html>',
  'notes.txt': 'plain notes about cats\n\nand a second paragraph about dogs\n',
  'fruit.jsonl': '{"text": "apples are red", "lang": "en"}\n{"text": "oranges are orange", "lang": "en"}\n',
  'howto.csv': 'n,text\n1,how to cook rice\n2,how to fix a bike\n',
  'blob.bin': Buffer.from([0, 1, 2, 3, 0, 0, 7]),
  'bad.txt': Buffer.from('not \xff utf-8\n', 'latin1'),
  '.hidden.md': 'never read',
};

function tree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
}

function snapshotFiles(db: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = { manifest: readFileSync(db) };
  if (existsSync(`${db}.d`)) for (const f of readdirSync(`${db}.d`).sort()) out[f] = readFileSync(join(`${db}.d`, f));
  return out;
}

let root: string;
let db: string;
beforeAll(async () => {
  root = join(tmp.dir, 'docs');
  tree(root, FILES);
  db = join(tmp.dir, 'vdb.json');
  expect((await vdbInProcess(['lib', 'create', 'docs'], { db, env: ENV })).code).toBe(0);
});

describe('vdb ingest', () => {
  it('makes a document of each file and chunks of its text, skipping hidden and binary files and reporting bad ones by name', () => {
    const r = vdb(['--json', 'ingest', '--lib', 'docs', root], { db, env: ENV });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('vdb: warning: bad.txt: not valid UTF-8 (line 1, byte 4) (convert it to UTF-8, e.g. with iconv -f latin1 -t utf-8); skipped\n');
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ files: 7, added: 5, updated: 0, unchanged: 0, pruned: 0, failed: 1, skipped: 1, chunks: { added: 8, replaced: 0, unchanged: 0, removed: 0 } });
    expect(summary.failures).toEqual([{ path: 'bad.txt', error: expect.stringContaining('bad.txt: not valid UTF-8') }]);
    expect(summary.text_index).toEqual({ mode: 'full', added: 8, removed: 0 });
    const svc = new VdbService({ path: db });
    const docs = svc.documents.list('docs').documents;
    expect(docs.map((d) => [d.id, d.title, d.chunk_count, d.metadata.format])).toEqual([
      ['fruit.jsonl', 'fruit', 2, 'jsonl'],
      ['guide.md', 'Guide', 2, 'markdown'],
      ['howto.csv', 'howto', 2, 'csv'],
      ['notes.txt', 'notes', 1, 'text'],
      ['web/page.html', 'Shipping', 1, 'html'],
    ]);
    const guide = docs[1].metadata;
    expect(guide).toEqual({
      path: 'guide.md',
      title: 'Guide',
      size: Buffer.byteLength(FILES['guide.md'] as string),
      mtime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      format: 'markdown',
      chunking: { size: 1000, overlap: 200, unit: 'chars' },
    });
    const chunks = svc.listChunks('docs').chunks;
    const byId = Object.fromEntries(chunks.map((c) => [c.id, c]));
    expect(byId['guide.md#2']).toMatchObject({ doc_id: 'guide.md', text: '## Billing\n\nInvoices are sent monthly.', metadata: { heading: 'Billing', section: ['Guide', 'Billing'] } });
    const text = FILES['guide.md'] as string;
    const { start, end } = byId['guide.md#2'].metadata as { start: number; end: number };
    expect(text.slice(start, end)).toBe(byId['guide.md#2'].text);
    expect(byId['web/page.html#1'].text).toBe('Shipping\n\nWe ship worldwide.');
    expect(byId['fruit.jsonl#2']).toMatchObject({ text: 'oranges are orange', metadata: { lang: 'en', line: 2, start: 0, end: 18 } });
    expect(byId['howto.csv#1']).toMatchObject({ text: 'how to cook rice', metadata: { n: '1', row: 1 } });
  });

  it('leaves the snapshot byte for byte as it was when nothing changed, and gives the same bytes from the same files and seed', async () => {
    const before = snapshotFiles(db);
    const again = await vdbInProcess(['--json', 'ingest', '--lib', 'docs', root], { db, env: ENV });
    expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, updated: 0, unchanged: 5, failed: 1, chunks: { added: 0 }, text_index: null });
    expect(snapshotFiles(db)).toEqual(before);
    const other = join(tmp.dir, 'other.json');
    await vdbInProcess(['lib', 'create', 'docs'], { db: other, env: ENV });
    await vdbInProcess(['ingest', '--lib', 'docs', root], { db: other, env: ENV });
    expect(readFileSync(other).equals(before.manifest)).toBe(true);
  });

  it('replaces changed files, prunes deleted ones, takes stdin, and answers text queries over what it wrote', async () => {
    writeFileSync(join(root, 'guide.md'), '# Guide\n\nWelcome. This explains how to reset your password.\n\n## Refunds\n\nRefunds take five days.\n');
    unlinkSync(join(root, 'notes.txt'));
    const r = await vdbInProcess(['--json', 'ingest', '--lib', 'docs', root, '--prune'], { db, env: ENV });
    expect(JSON.parse(r.stdout)).toMatchObject({ added: 0, updated: 1, unchanged: 3, pruned: 1, failed: 1, chunks: { added: 0, replaced: 1, unchanged: 1, removed: 1 } });
    const svc = new VdbService({ path: db });
    expect(svc.documents.list('docs').documents.map((d) => d.id)).toEqual(['fruit.jsonl', 'guide.md', 'howto.csv', 'web/page.html']);
    const s = vdb(['ingest', '--lib', 'docs', '-', '--stdin-name', 'faq.md'], { db, env: ENV, input: '# FAQ\n\nShipping is free over fifty euros.\n' });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^1 file: 1 added, 0 updated, 0 unchanged, 0 pruned, 0 failed; 1 chunk written, 0 removed; full-text index stored \(\d+\.\d s\)\n$/);
    const q = vdb(['--json', 'query', '--lib', 'docs', '--text', 'refunds', '--mode', 'text'], { db, env: ENV });
    expect(JSON.parse(q.stdout).hits.map((h: { id: string }) => h.id)).toEqual(['guide.md#2']);
    const h = await vdbInProcess(['--json', 'query', '--lib', 'docs', '--text', 'free shipping', '--mode', 'hybrid', '-k', '2'], { db, env: ENV });
    expect(JSON.parse(h.stdout).hits[0]).toMatchObject({ id: 'faq.md#1', modes: { text: { rank: 1 } } });
    // A filter on the file metadata ingest stores, in every mode.
    for (const mode of ['text', 'hybrid', 'vector']) {
      const f = await vdbInProcess(['--json', 'query', '--lib', 'docs', '--text', 'free shipping refunds', '--mode', mode, '--where', 'doc.format=markdown', '--where', 'doc.path!=faq.md'], { db, env: ENV });
      expect(f.code, f.stderr).toBe(0);
      const ids = JSON.parse(f.stdout).hits.map((hit: { id: string }) => hit.id);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((id: string) => id.startsWith('guide.md#')), `${mode}: ${ids}`).toBe(true);
    }
  });

  it('with --strict stops at the first file that fails, and refuses a path that is not there', async () => {
    const strict = await vdbInProcess(['ingest', '--lib', 'docs', root, '--strict'], { db, env: ENV });
    expect(strict.code).toBe(3);
    expect(strict.stderr).toMatch(/^vdb: error: bad\.txt: not valid UTF-8/);
    const missing = await vdbInProcess(['ingest', '--lib', 'docs', join(tmp.dir, 'nope')], { db, env: ENV });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/nope: no such file or directory/);
    const dim = await vdbInProcess(['lib', 'create', 'raw', '--dim', '3'], { db, env: ENV });
    expect(dim.code).toBe(0);
    const noEmbedder = await vdbInProcess(['ingest', '--lib', 'raw', root], { db, env: ENV });
    expect([noEmbedder.code, noEmbedder.stderr]).toEqual([3, expect.stringMatching(/library "raw" has no embedder, and ingest embeds/)]);
  });
});

describe('vdb ingest killed while it writes', () => {
  // 300 small files: two batches (BATCH_FILES 256), each one log record of a database with sidecars.
  const ENV2 = { ...ENV, VDB_SIDECAR_MIN_BYTES: '0' };
  let many: string;
  let base: string;
  beforeAll(async () => {
    many = join(tmp.dir, 'many');
    tree(many, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`d${i % 3}/f${String(i).padStart(3, '0')}.md`, `# File ${i}\n\nfirst part of file ${i}\n\n## Two\n\nsecond part ${i}\n`])));
    base = join(tmp.dir, 'kill-base.json');
    expect((await vdbInProcess(['lib', 'create', 'k'], { db: base, env: ENV2 })).code).toBe(0);
  });

  const copy = (name: string) => {
    const path = join(tmp.dir, name);
    cpSync(base, path);
    cpSync(`${base}.d`, `${path}.d`, { recursive: true });
    return path;
  };

  /** Resolves once the process is in the stopped state (Linux: /proc/PID/stat). */
  const stopped = async (pid: number) => {
    for (let i = 0; i < 2000; i++) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`process ${pid} did not stop`);
  };

  /** Every document holds both of its chunks, or is absent: no file half-ingested. */
  const whole = (path: string) => {
    const svc = new VdbService({ path });
    const docs = svc.documents.list('k').documents;
    for (const d of docs) expect(d.chunk_count, d.id).toBe(2);
    expect(svc.listChunks('k').total).toBe(docs.length * 2);
    return docs.length;
  };

  it.each([
    ['before the second batch is appended', 'append', 2, 256],
    ['after the first batch is appended', 'appended', 1, 256],
  ])('%s: every file fully old or fully new, and a second run finishes the job', async (_, point, stops, kept) => {
    const path = copy(`kill-${point}.json`);
    const w = writer(path, ['ingest', '--lib', 'k', many], { failpoints: [point], env: ENV2 });
    let exited = false;
    void w.exited.then(() => (exited = true));
    const stopsSeen = () => w.stderr().split(`vdb: failpoint ${point} `).length - 1;
    await w.stoppedAt(point);
    for (let i = 1; i < stops; i++) {
      expect(stopsSeen()).toBe(i);
      // The message comes just before the child stops itself: a SIGCONT sent in between would be lost.
      await stopped(w.child.pid as number);
      w.cont();
      await new Promise<void>((done, fail) => {
        const wait = () => (stopsSeen() > i ? done() : exited ? fail(new Error(`ingest exited before stop ${i + 1}:\n${w.stderr()}`)) : setTimeout(wait, 5));
        wait();
      });
    }
    await w.kill();
    expect(whole(path)).toBe(kept);
    const again = await vdbInProcess(['--json', 'ingest', '--lib', 'k', many], { db: path, env: ENV2 });
    expect(JSON.parse(again.stdout)).toMatchObject({ added: 300 - kept, unchanged: kept, failed: 0 });
    expect(whole(path)).toBe(300);
    rmSync(`${path}.d`, { recursive: true, force: true });
  });
});
