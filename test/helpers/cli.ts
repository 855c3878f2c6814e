/** Runs the real bin/vdb as a child process on temporary snapshots. */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const VDB = join(ROOT, 'bin', 'vdb');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  db?: string;
  input?: string;
  /** A file to be stdin instead of `input` (a regular file, as `< file` gives; vdb() only). */
  stdinFile?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Environment for children: no colour, no inherited VDB_* settings. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('VDB_') || k === 'SOURCE_DATE_EPOCH' || k === 'FORCE_COLOR') delete env[k];
  Object.assign(env, { NO_COLOR: '1' }, extra);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Runs `vdb args…` synchronously; `--db` is prepended when opts.db is set. */
export function vdb(args: string[], opts: RunOptions = {}): RunResult {
  const argv = opts.db ? ['--db', opts.db, ...args] : args;
  const fd = opts.stdinFile === undefined ? null : openSync(opts.stdinFile, 'r');
  const r = spawnSync(process.execPath, [VDB, ...argv], {
    ...(fd === null ? { input: opts.input ?? '' } : { stdio: [fd, 'pipe', 'pipe'] }),
    env: childEnv(opts.env),
    cwd: opts.cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (fd !== null) closeSync(fd);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant, for running many writers at once. */
export function vdbAsync(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = opts.db ? ['--db', opts.db, ...args] : args;
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [VDB, ...argv], { env: childEnv(opts.env), cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

export function tempDir(prefix = 'vdb-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readBytes(path: string): Buffer | null {
  return existsSync(path) ? readFileSync(path) : null;
}

/**
 * `vdb args…` in this process (src/cli/main.ts `run`), for checks where the
 * real entry point is not the point: no process start, no snapshot load from
 * a cold cache. Captures stdout and stderr; stdin is not available (use vdb()).
 */
export function vdbInProcess(args: string[], opts: Omit<RunOptions, 'input' | 'cwd'> & { ttyColumns?: number } = {}): Promise<RunResult> {
  // One at a time: a run takes over this process's env and output, so concurrent tests queue here.
  const turn = inProcessQueue.then(() => runInProcess(args, opts));
  inProcessQueue = turn.then(
    () => undefined,
    () => undefined,
  );
  return turn;
}
let inProcessQueue: Promise<void> = Promise.resolve();

async function runInProcess(args: string[], opts: Omit<RunOptions, 'input' | 'cwd'> & { ttyColumns?: number }): Promise<RunResult> {
  const { run } = await import('../../src/cli/main.js');
  const argv = opts.db ? ['--db', opts.db, ...args] : args;
  const saved = { env: process.env, out: process.stdout.write, err: process.stderr.write, exitCode: process.exitCode, isTTY: process.stdout.isTTY, columns: process.stdout.columns };
  // A terminal of this width for stdout (stderr stays a pipe: no progress bars).
  if (opts.ttyColumns !== undefined) Object.assign(process.stdout, { isTTY: true, columns: opts.ttyColumns });
  let stdout = '';
  let stderr = '';
  process.env = childEnv(opts.env);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await run(argv);
    return { code, stdout, stderr };
  } finally {
    process.env = saved.env;
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exitCode = saved.exitCode;
    Object.assign(process.stdout, { isTTY: saved.isTTY, columns: saved.columns });
  }
}
