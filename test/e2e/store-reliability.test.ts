import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { SnapshotStore } from '../../src/store/store.js';
import { childEnv, tempDir, VDB, vdb, vdbAsync } from '../helpers/cli.js';

// Every database here is a v2 manifest with sidecars from the start, and its log
// is folded every few writes, so crashes and races hit appends and rewrites alike.
const ENV = { VDB_SIDECAR_MIN_BYTES: '0', VDB_LOG_MIN_BYTES: '1000' };

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

function texts(db: string): string[] {
  return new SnapshotStore(db).read().libraries[0].chunks.map((c) => c.text);
}

describe('crash safety with sidecars and a log', () => {
  it('a writer killed with SIGKILL never loses an acknowledged write, and the database always loads', async () => {
    const db = join(tmp.dir, 'crash.json');
    expect(vdb(['lib', 'create', 'docs'], { db, env: ENV }).code).toBe(0);
    const acked: string[] = [];
    const rnd = seededRandom(77);
    let next = 0;
    for (let round = 0; round < 4; round++) {
      const script = `for i in $(seq ${next} ${next + 40}); do node ${VDB} --db ${db} chunk add --lib docs "write $i" >/dev/null && echo "ack $i"; done`;
      next += 41;
      const child = spawn('bash', ['-c', script], { env: childEnv(ENV), detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      // Kill at a random moment after the round's first acknowledged write, however slow the machine is.
      const started = Date.now();
      while (!/ack/.test(out) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(rnd.next() * 400)));
      process.kill(-child.pid!, 'SIGKILL');
      await new Promise((r) => child.on('close', r));
      for (const m of out.matchAll(/ack (\d+)/g)) acked.push(`write ${m[1]}`);
      const present = new Set(texts(db));
      for (const t of acked) expect(present.has(t), `${t} was acknowledged but is missing after round ${round}`).toBe(true);
    }
    expect(acked.length).toBeGreaterThanOrEqual(4);
    expect(JSON.parse(readFileSync(db, 'utf8')).generation).toBeGreaterThan(1);
    const last = vdb(['chunk', 'add', '--lib', 'docs', 'after the crashes'], { db, env: ENV });
    expect(last.code, last.stderr).toBe(0);
    expect(texts(db)).toContain('after the crashes');
    // vdb compact folds the log into the next generation.
    const gen = JSON.parse(readFileSync(db, 'utf8')).generation;
    const log = join(`${db}.d`, `g${String(gen).padStart(6, '0')}.log`);
    const logBytes = existsSync(log) ? statSync(log).size : 0;
    const compact = vdb(['compact', '--json'], { db, env: ENV });
    expect(compact.code, compact.stderr).toBe(0);
    expect(JSON.parse(compact.stdout)).toMatchObject({ format_version: 2, generation: gen + 1, log_bytes_folded: logBytes });
    expect(texts(db)).toContain('after the crashes');
    // Temp files of killed writers are gone; at most two generations remain.
    expect(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const names = readdirSync(`${db}.d`);
    expect(names.filter((f) => f.startsWith('.'))).toEqual([]);
    expect(new Set(names.map((f) => f.slice(0, 7))).size).toBeLessThanOrEqual(2);
  }, 60_000);
});

describe('concurrency with sidecars and a log', () => {
  it('3 writers × 5 chunk adds end with exactly 15 chunks while lock-free readers always load', async () => {
    const db = join(tmp.dir, 'concurrent.json');
    expect(vdb(['lib', 'create', 'docs'], { db, env: ENV }).code).toBe(0);
    let writing = true;
    let reads = 0;
    const reader = async () => {
      while (writing) {
        const r = await vdbAsync(['chunk', 'list', '--lib', 'docs', '--json'], { db, env: ENV });
        expect(r.code, r.stderr).toBe(0);
        reads++;
      }
    };
    const worker = async (w: number) => {
      for (let i = 0; i < 5; i++) {
        const r = await vdbAsync(['chunk', 'add', '--lib', 'docs', `worker ${w} write ${i}`], { db, env: ENV });
        expect(r.code, r.stderr).toBe(0);
      }
    };
    const readerDone = reader();
    await Promise.all(Array.from({ length: 3 }, (_, w) => worker(w)));
    writing = false;
    await readerDone;
    expect(reads).toBeGreaterThan(0);
    const all = texts(db);
    expect(all).toHaveLength(15);
    expect(new Set(all).size).toBe(15);
    for (let w = 0; w < 3; w++) {
      expect(all.filter((t) => t.startsWith(`worker ${w} `))).toEqual(Array.from({ length: 5 }, (_, i) => `worker ${w} write ${i}`));
    }
  }, 30_000);
});
