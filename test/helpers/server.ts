/** Runs the real `vdb serve` as a child process on a free loopback port. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { VDB, childEnv } from './cli.js';

export interface Served {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves when stderr contains `text` (bounded by the hook/test timeout). */
  waitFor(text: string): Promise<void>;
  /** Sends `signal` and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServeOptions {
  db: string;
  args?: string[];
  env?: Record<string, string | undefined>;
}

/** Starts `vdb --db DB serve --port 0 …` and resolves once it printed its URL. */
export function serve(opts: ServeOptions): Promise<Served> {
  const argv = [VDB, '--db', opts.db, 'serve', '--port', '0', '--log-level', 'warn', ...(opts.args ?? [])];
  const child = spawn(process.execPath, argv, { env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const waiters: { text: string; done: () => void }[] = [];
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of waiters.splice(0)) {
      if (err.includes(w.text)) w.done();
      else waiters.push(w);
    }
  });
  const waitFor = (text: string) =>
    new Promise<void>((done, fail) => {
      if (err.includes(text)) return done();
      waiters.push({ text, done });
      exited.then((code) => fail(new Error(`vdb serve exited (${code}) before printing "${text}":\n${err}`)));
    });
  return waitFor('/docs)').then(() => {
    const m = /at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(err);
    if (!m) throw new Error(`no URL in vdb serve's start-up line:\n${err}`);
    return {
      url: m[1],
      child,
      stderr: () => err,
      waitFor,
      stop: (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  });
}
