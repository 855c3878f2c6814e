/** Child processes with wall time and peak RSS (GNU time if present, else the child's own report). */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

let seq = 0;

/**
 * Runs `cmd args` and resolves {code, wallMs, cpuMs (user + system), maxRssKb, stdout, stderr}.
 * @param opts.stdinFile file fed to stdin (read by the child directly, not piped through us)
 * @param opts.stdoutFile file receiving stdout (then `stdout` is '')
 */
export function run(cmd, args, opts = {}) {
  const timeOut = join(tmpdir(), `vdb-bench-time-${process.pid}-${seq++}`);
  const [exe, argv] = GNU_TIME ? [GNU_TIME, ['-f', '%M %e %U %S', '-o', timeOut, cmd, ...args]] : [cmd, args];
  const stdinFd = opts.stdinFile ? openSync(opts.stdinFile, 'r') : 'ignore';
  const stdoutFd = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : 'pipe';
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(exe, argv, { stdio: [stdinFd, stdoutFd, 'pipe'], env: opts.env ?? benchEnv(), cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (opts.echoStderr) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      if (typeof stdinFd === 'number') closeSync(stdinFd);
      if (typeof stdoutFd === 'number') closeSync(stdoutFd);
      let maxRssKb = null;
      let cpuMs = null;
      if (GNU_TIME && existsSync(timeOut)) {
        const lines = readFileSync(timeOut, 'utf8').trim().split('\n');
        const m = /^(\d+) [\d.]+ ([\d.]+) ([\d.]+)$/.exec(lines[lines.length - 1]);
        if (m) {
          maxRssKb = Number(m[1]);
          cpuMs = (Number(m[2]) + Number(m[3])) * 1000;
        }
        rmSync(timeOut, { force: true });
      }
      resolve({ code: code ?? (signal ? `signal ${signal}` : -1), wallMs, cpuMs, maxRssKb, stdout, stderr });
    });
  });
}

/**
 * Environment for children: no colour, no inherited VDB_* settings, and no
 * NODE_EXTRA_CA_CERTS: with it every node process parses that CA bundle as it
 * starts (on this machine's 200 KB bundle, ~100 ms of a 150 ms `node -e 0`),
 * a cost of the machine's TLS set-up that no timed process here uses.
 */
export function benchEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('VDB_') || k === 'FORCE_COLOR' || k === 'NODE_EXTRA_CA_CERTS') delete env[k];
  return { ...env, NO_COLOR: '1', ...extra };
}

/** The last stdout line of a worker, parsed as its JSON result. */
export function workerResult(r) {
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    return { error: `exit ${r.code}: ${tail || 'no output'}` };
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
