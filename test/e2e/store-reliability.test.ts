import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { SnapshotStore } from '../../src/store/store.js';
import { childEnv, tempDir, VDB, vdb, vdbAsync, vdbInProcess } from '../helpers/cli.js';
import { writer } from '../helpers/failpoint.js';

// Every database here is a v2 manifest with sidecars from the start, and its log
// is folded every few writes, so crashes and races hit appends and rewrites alike.
const ENV = { VDB_SIDECAR_MIN_BYTES: '0', VDB_LOG_MIN_BYTES: '1000' };
const EMB = JSON.stringify([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);

let tmp: ReturnType<typeof tempDir>;
let base: string;
beforeAll(() => {
  tmp = tempDir();
  // 300 rows of 8 dims, an hnsw index and one logged row: builds and compactions take a few ms, so kills land where the failpoints say.
  base = join(tmp.dir, 'base.json');
  const rnd = seededRandom(5);
  const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `row ${i}`, embedding: Array.from({ length: 8 }, () => rnd.next() - 0.5) }));
  expect(vdb(['lib', 'create', 'docs', '--dim', '8'], { db: base, env: ENV }).code).toBe(0);
  expect(vdb(['chunk', 'add', '--lib', 'docs', '--stdin'], { db: base, env: ENV, input: lines.join('\n') }).code).toBe(0);
  expect(vdb(['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--m', '4', '--ef-construction', '16'], { db: base, env: ENV }).code).toBe(0);
  // An acknowledged write in the log, which every crash below must keep.
  expect(vdb(['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'acknowledged'], { db: base, env: ENV }).code).toBe(0);
});
afterAll(() => tmp.cleanup());

let n = 0;
function copyOfBase(): string {
  const db = join(tmp.dir, `db${n++}.json`);
  cpSync(base, db);
  cpSync(`${base}.d`, `${db}.d`, { recursive: true });
  return db;
}

function texts(db: string): string[] {
  return new SnapshotStore(db).read().libraries[0].chunks.map((c) => c.text);
}

function manifest(db: string): Record<string, unknown> {
  return JSON.parse(readFileSync(db, 'utf8'));
}


describe('SIGKILL inside the commit phase', () => {
  // Each write stops at one named point of its commit (VDB_FAILPOINTS) and is killed there.
  const cases: [string, string[], string[]][] = [
    ['hnsw build', ['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--full'], ['locked', 'sidecars', 'manifest', 'committed']],
    ['compaction', ['compact'], ['sidecars', 'manifest', 'committed']],
    ['log append', ['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'killed while appending'], ['append', 'appended']],
  ];
  for (const [what, args, points] of cases) {
    it(`a ${what} killed at ${points.join(', ')} leaves a database that loads, with every acknowledged write`, async () => {
      for (const point of points) {
        const db = copyOfBase();
        const gen = manifest(db).generation as number;
        const w = writer(db, args, { failpoints: [point], env: ENV });
        await w.stoppedAt(point);
        await w.kill();
        // Before the manifest's rename nothing is visible; after it, the new generation is whole.
        const after = manifest(db).generation as number;
        expect(after, point).toBe(point === 'committed' ? gen + 1 : gen);
        const present = texts(db);
        expect(present, point).toContain('acknowledged');
        expect(present.length, point).toBe(point === 'appended' ? 302 : 301);
        // The next writer (in process: no start-up to pay) cleans up what the killed one left, and nothing is lost.
        const next = await vdbInProcess(['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'next'], { db, env: { ...ENV, VDB_LOCK_TIMEOUT_MS: '0' } });
        expect(next.code, `${point}: ${next.stderr}`).toBe(0);
        expect(texts(db)).toContain('next');
        expect(readdirSync(`${db}.d`).filter((f) => f.startsWith('.'))).toEqual([]);
        expect(new Set(readdirSync(`${db}.d`).map((f) => f.slice(0, 7))).size).toBeLessThanOrEqual(2);
      }
    }, 60_000);
  }

  it('a writer killed at random moments never loses an acknowledged write, and the database always loads', async () => {
    const db = copyOfBase();
    const acked: string[] = [];
    const rnd = seededRandom(77);
    let next = 0;
    for (let round = 0; round < 2; round++) {
      const script = `for i in $(seq ${next} ${next + 40}); do node ${VDB} --db ${db} chunk add --lib docs --embedding '${EMB}' "write $i" >/dev/null && echo "ack $i"; done`;
      next += 41;
      const child = spawn('bash', ['-c', script], { env: childEnv(ENV), detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const started = Date.now();
      while (!/ack/.test(out) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(rnd.next() * 400)));
      process.kill(-child.pid!, 'SIGKILL');
      await new Promise((r) => child.on('close', r));
      for (const m of out.matchAll(/ack (\d+)/g)) acked.push(`write ${m[1]}`);
      const present = new Set(texts(db));
      for (const t of acked) expect(present.has(t), `${t} was acknowledged but is missing after round ${round}`).toBe(true);
    }
    expect(acked.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});

describe('a stalled writer (SIGSTOP) is never overtaken', () => {
  it('across a compaction: the compaction waits, then both commit', async () => {
    const db = copyOfBase();
    const a = writer(db, ['chunk', 'add', '--lib', 'docs', '--stdin'], { failpoints: ['locked'], env: ENV, input: `{"text": "stalled", "embedding": ${EMB}}\n` });
    await a.stoppedAt('locked');
    // proper-lockfile took over after 2 s (VDB_LOCK_STALE_MS=2000), and this append then removed the compacted generation.
    await new Promise((r) => setTimeout(r, 2200));
    const compact = vdbAsync(['compact'], { db, env: ENV });
    await new Promise((r) => setTimeout(r, 300));
    a.cont();
    expect(await a.exited, a.stderr()).toBe(0);
    expect((await compact).code).toBe(0);
    expect(texts(db)).toContain('stalled');
    expect(vdb(['query', '--lib', 'docs', '--embedding', EMB, '-k', '1'], { db, env: ENV }).code).toBe(0);
  });

  it('across other writers: a stalled hnsw build keeps the chunk add and the lib create made after it', async () => {
    const db = copyOfBase();
    const build = writer(db, ['index', 'build', '--lib', 'docs', '--type', 'hnsw', '--full'], { failpoints: ['sidecars'], env: ENV });
    await build.stoppedAt('sidecars');
    const add = vdbAsync(['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'added during the build'], { db, env: ENV });
    const create = vdbAsync(['lib', 'create', 'other'], { db, env: ENV });
    await new Promise((r) => setTimeout(r, 2200));
    build.cont();
    expect(await build.exited, build.stderr()).toBe(0);
    expect((await add).code).toBe(0);
    expect((await create).code).toBe(0);
    const state = new SnapshotStore(db).read();
    expect(state.libraries.map((l) => l.name).sort()).toEqual(['docs', 'other']);
    expect(state.libraries.find((l) => l.name === 'docs')!.chunks.map((c) => c.text)).toContain('added during the build');
  });
});

describe('damage that is still valid JSON', () => {
  /** Rewrites the manifest's JSON, keeping (`keepChecksum`) or dropping its stored checksum. */
  function edit(db: string, change: (doc: Record<string, any>) => void): void {
    const doc = manifest(db);
    change(doc);
    writeFileSync(db, `${JSON.stringify(doc)}\n`);
  }

  const edits: [string, (doc: Record<string, any>) => void][] = [
    ['metric changed from cosine to dot', (d) => (d.libraries[0].metric = 'dot')],
    ['covered_below_seq lowered', (d) => (d.libraries[0].index.covered_below_seq -= 10)],
    ['generation decremented', (d) => (d.generation -= 1)],
    // One flipped bit (m → M) would otherwise pass it off as an older vdb's manifest, which has no checksum.
    ['checksum renamed', (d) => ((d.Manifest_crc32 = d.manifest_crc32), delete d.manifest_crc32)],
  ];
  for (const [what, change] of edits) {
    it(`a manifest with its ${what} is corrupt (exit 6), and no writer touches it`, () => {
      const db = copyOfBase();
      edit(db, change);
      const before = readFileSync(db);
      const files = readdirSync(`${db}.d`).sort();
      for (const args of [['chunk', 'list', '--lib', 'docs'], ['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'x']]) {
        const r = vdb(args, { db, env: ENV });
        expect(r.code).toBe(6);
        expect(r.stderr).toMatch(/^vdb: error: snapshot .* is corrupt: (the manifest fails its checksum \(it was edited or damaged\)|it has an unknown member "Manifest_crc32" and no manifest_crc32)/);
      }
      expect(readFileSync(db).equals(before)).toBe(true);
      expect(readdirSync(`${db}.d`).sort()).toEqual(files);
    });
  }

  it('a manifest of an older vdb (no checksum) still loads', () => {
    const db = copyOfBase();
    edit(db, (d) => delete d.manifest_crc32);
    expect(texts(db)).toHaveLength(301);
    const r = vdb(['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'x'], { db, env: ENV });
    expect(r.code, r.stderr).toBe(0);
  });

  it('a deleted log of the current generation is corrupt (exit 6): its acknowledged writes do not vanish silently', () => {
    const db = copyOfBase();
    expect(vdb(['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'in the log'], { db, env: ENV }).code).toBe(0);
    const log = join(`${db}.d`, `g${String(manifest(db).generation).padStart(6, '0')}.log`);
    rmSync(log);
    for (const args of [['chunk', 'list', '--lib', 'docs'], ['chunk', 'add', '--lib', 'docs', '--embedding', EMB, 'x'], ['compact']]) {
      const r = vdb(args, { db, env: ENV });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/its log .*\.log is missing \(any writes acknowledged since generation \d+ was made are lost\)/);
    }
    expect(existsSync(log)).toBe(false);
  });

  it('metadata nested too deep in a stored manifest is corrupt (exit 6), not unreadable (exit 1)', () => {
    const db = copyOfBase();
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    // Built as text (JSON.stringify would overflow here too), with a checksum that matches it.
    const head = /^\{"format":"vdb-snapshot","version":2,"generation":\d+/.exec(readFileSync(db, 'utf8'))![0];
    const body = readFileSync(db, 'utf8').trim().replace(/,"manifest_crc32":\d+/, '').replace('"metadata":{}', `"metadata":${deep}`);
    writeFileSync(db, `${head},"manifest_crc32":${crc32(body)}${body.slice(head.length)}\n`);
    const r = vdb(['lib', 'list'], { db, env: ENV });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/is corrupt: it is nested deeper than a vdb manifest can be/);
    // A one-file snapshot holding it names the metadata.
    const v1 = join(tmp.dir, 'deep-v1.json');
    expect(vdb(['lib', 'create', 'docs'], { db: v1 }).code).toBe(0);
    writeFileSync(v1, readFileSync(v1, 'utf8').replace('"metadata":{}', `"metadata":${deep}`));
    const r1 = vdb(['lib', 'list'], { db: v1 });
    expect(r1.code, r1.stderr).toBe(6);
    expect(r1.stderr).toMatch(/is corrupt: libraries\[0\]\.metadata is nested more than 32 levels deep/);
  });
});
