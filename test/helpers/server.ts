/** Runs the real `vdb serve` as a child process on a free loopback port. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { ROOT, VDB, childEnv } from './cli.js';

export interface Served {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves once `test(stderr)` holds; rejects if the server exits first (else bounded by the test timeout). */
  waitUntil(test: (stderr: string) => boolean): Promise<void>;
  /** Resolves with the exit code once the process is gone. */
  exited: Promise<number | null>;
  /** Sends `signal` (unless it already exited) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServeOptions {
  db: string;
  /** Extra `vdb serve` arguments. */
  args?: string[];
  env?: Record<string, string | undefined>;
  /** The whole command line after `node`, instead of bin/vdb --db DB serve --port 0 …; run in the repo root. */
  argv?: string[];
}

/** Starts `vdb --db DB serve --port 0 …` and resolves once it printed its URL. */
export function serve(opts: ServeOptions): Promise<Served> {
  const argv = opts.argv ?? [VDB, '--db', opts.db, 'serve', '--port', '0', '--log-level', 'warn', ...(opts.args ?? [])];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const waiters: { test: (s: string) => boolean; done: () => void }[] = [];
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of waiters.splice(0)) {
      if (w.test(err)) w.done();
      else waiters.push(w);
    }
  });
  const waitUntil = (test: (s: string) => boolean) =>
    new Promise<void>((done, fail) => {
      if (test(err)) return done();
      waiters.push({ test, done });
      exited.then((code) => fail(new Error(`vdb serve exited (${code}) while a test waited on its stderr:\n${err}`)));
    });
  return waitUntil((s) => s.includes('/docs)')).then(() => {
    const m = /at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(err);
    if (!m) throw new Error(`no URL in vdb serve's start-up line:\n${err}`);
    return {
      url: m[1],
      child,
      stderr: () => err,
      waitUntil,
      exited,
      stop: (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  });
}
