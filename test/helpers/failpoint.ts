/** A bin/vdb child that can be stopped at a named failpoint (VDB_FAILPOINTS, see src/store/failpoint.ts). */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { childEnv, VDB } from './cli.js';

export interface Writer {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves once the writer stopped itself at `point` (it is then SIGSTOPped); rejects if it exits first. */
  stoppedAt(point: string): Promise<void>;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  cont(): void;
  kill(): Promise<number | null>;
}

/** Starts `vdb --db DB args…`, stopping at each of `failpoints` it reaches. */
export function writer(db: string, args: string[], opts: { failpoints?: string[]; env?: Record<string, string>; input?: string } = {}): Writer {
  const env = childEnv({ ...opts.env, VDB_FAILPOINTS: (opts.failpoints ?? []).join(',') });
  const child = spawn(process.execPath, [VDB, '--db', db, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  const waiters: (() => void)[] = [];
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stdin!.end(opts.input ?? '');
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    stoppedAt: (point) =>
      new Promise<void>((done, fail) => {
        const check = () => {
          if (err.includes(`vdb: failpoint ${point} `)) done();
          else waiters.push(check);
        };
        check();
        exited.then((code) => fail(new Error(`vdb ${args.join(' ')} exited (${code}) before failpoint ${point}:\n${err}`)));
      }),
    cont: () => child.kill('SIGCONT'),
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}
