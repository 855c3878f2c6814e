import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { decodeSnapshot } from '../../src/store/snapshot.js';
import { childEnv, tempDir, VDB, vdb, vdbAsync } from '../helpers/cli.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

function texts(db: string, lib: string): string[] {
  const r = vdb(['chunk', 'list', '--lib', lib, '--json'], { db });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => JSON.parse(l).text);
}

describe('crash safety', () => {
  it('a writer killed with SIGKILL at random moments never loses an acknowledged write', async () => {
    const db = join(tmp.dir, 'crash.json');
    expect(vdb(['lib', 'create', 'docs'], { db }).code).toBe(0);
    const acked: string[] = [];
    const rnd = seededRandom(2024);
    const rounds = 12;
    let next = 0;
    for (let round = 0; round < rounds; round++) {
      // A shell loop of writers; "ack N" is printed only after vdb exited 0.
      const script = `for i in $(seq ${next} ${next + 40}); do node ${VDB} --db ${db} chunk add --lib docs "write $i" >/dev/null && echo "ack $i"; done`;
      next += 41;
      const child = spawn('bash', ['-c', script], { env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const killAfter = 150 + Math.floor(rnd.next() * 900);
      await new Promise((r) => setTimeout(r, killAfter));
      process.kill(-child.pid!, 'SIGKILL');
      await new Promise((r) => child.on('close', r));
      for (const m of out.matchAll(/ack (\d+)/g)) acked.push(`write ${m[1]}`);
      // The file on disk always parses as a whole snapshot...
      decodeSnapshot(readFileSync(db, 'utf8'), db);
      // ...and holds every acknowledged write.
      const present = new Set(texts(db, 'docs'));
      for (const t of acked) expect(present.has(t), `${t} was acknowledged but is missing after round ${round}`).toBe(true);
    }
    expect(acked.length).toBeGreaterThan(rounds);
    // A later writer recovers the stale lock and cleans up temp files of killed writers.
    const last = vdb(['chunk', 'add', '--lib', 'docs', 'after the crashes'], { db });
    expect(last.code, last.stderr).toBe(0);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(texts(db, 'docs')).toContain('after the crashes');
  }, 60_000);
});

describe('the writer lock', () => {
  it('a writer gives up after VDB_LOCK_TIMEOUT_MS with exit code 7 and changes nothing', () => {
    const db = join(tmp.dir, 'held.json');
    expect(vdb(['lib', 'create', 'docs'], { db }).code).toBe(0);
    const before = readFileSync(db);
    mkdirSync(`${db}.lock`);
    const r = vdb(['chunk', 'add', '--lib', 'docs', 'blocked'], { db, env: { VDB_LOCK_TIMEOUT_MS: '400' } });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^vdb: error: .*held\.json is locked by another vdb writer \(waited 400 ms\) \(retry, raise VDB_LOCK_TIMEOUT_MS/);
    expect(readFileSync(db).equals(before)).toBe(true);
    // Readers never wait for the lock.
    expect(vdb(['chunk', 'list', '--lib', 'docs'], { db }).code).toBe(0);
  });

  it('a lock left by a dead writer is taken over once stale', () => {
    const db = join(tmp.dir, 'stale.json');
    expect(vdb(['lib', 'create', 'docs'], { db }).code).toBe(0);
    mkdirSync(`${db}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${db}.lock`, old, old);
    const r = vdb(['chunk', 'add', '--lib', 'docs', 'after a crash'], { db, env: { VDB_LOCK_TIMEOUT_MS: '5000' } });
    expect(r.code, r.stderr).toBe(0);
    expect(texts(db, 'docs')).toEqual(['after a crash']);
  });
});

describe('concurrency', () => {
  it('8 processes × 25 chunk adds at once end with exactly 200 chunks', async () => {
    const db = join(tmp.dir, 'concurrent.json');
    expect(vdb(['lib', 'create', 'docs'], { db }).code).toBe(0);
    const worker = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const r = await vdbAsync(['chunk', 'add', '--lib', 'docs', `worker ${w} write ${i}`], { db });
        expect(r.code, r.stderr).toBe(0);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    const all = texts(db, 'docs');
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
    // Each writer's own adds stay in the order it made them.
    for (let w = 0; w < 8; w++) {
      const mine = all.filter((t) => t.startsWith(`worker ${w} `));
      expect(mine).toEqual(Array.from({ length: 25 }, (_, i) => `worker ${w} write ${i}`));
    }
  }, 60_000);
});

describe('determinism', () => {
  const script: string[][] = [
    ['lib', 'create', 'docs', '--metadata', '{"owner":"ci"}'],
    ['chunk', 'add', '--lib', 'docs', 'alpha beta', 'gamma delta', 'epsilon zeta', 'eta theta', 'iota kappa'],
    ['index', 'build', '--lib', 'docs', '--type', 'lsh', '--tables', '3', '--bits', '2'],
    ['chunk', 'add', '--lib', 'docs', 'lambda mu'],
    ['lib', 'create', 'vecs', '--dim', '2', '--metric', 'dot'],
    ['chunk', 'add', '--lib', 'vecs', '--embedding', '[0.25, -1e-7]', '--tag', 'a'],
    ['index', 'build', '--lib', 'vecs', '--type', 'kdtree'],
  ];
  function runAll(name: string, env: Record<string, string>): Buffer {
    const db = join(tmp.dir, `${name}.json`);
    for (const args of script) expect(vdb(args, { db, env }).code).toBe(0);
    return readFileSync(db);
  }

  it('the same commands with a seed and SOURCE_DATE_EPOCH give byte-identical snapshots', () => {
    const env = { VDB_SEED: 'ci-42', SOURCE_DATE_EPOCH: '1700000000' };
    const a = runAll('det-a', env);
    const b = runAll('det-b', env);
    expect(a.equals(b)).toBe(true);
    expect(a.toString()).toContain('"created_at":"2023-11-14T22:13:20.000Z"');
    // The seed matters: another seed gives other ids and planes.
    expect(runAll('det-c', { ...env, VDB_SEED: 'ci-43' }).equals(a)).toBe(false);
    // --seed on the command line is the same as VDB_SEED.
    const db = join(tmp.dir, 'det-flag.json');
    for (const args of script) expect(vdb(['--seed', 'ci-42', ...args], { db, env: { SOURCE_DATE_EPOCH: '1700000000' } }).code).toBe(0);
    expect(readFileSync(db).equals(a)).toBe(true);
  });
});
