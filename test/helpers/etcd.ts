/**
 * A real etcd for the cluster tests: Debian's etcd-server (/usr/bin/etcd, or
 * $VDB_TEST_ETCD), one member on free loopback ports with a temporary data
 * directory. Without the binary the tests say so in one line and are skipped,
 * except in CI (CI=true), where that is a failure: .ci/run installs it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.VDB_TEST_ETCD ?? '/usr/bin/etcd';

/** Whether cluster tests can run here; prints why not (once per file) when they cannot. */
export function etcdAvailable(): boolean {
  if (existsSync(ETCD_BIN)) return true;
  const line = `etcd not found at ${ETCD_BIN}: the cluster tests need it (apt-get install etcd-server, or set VDB_TEST_ETCD)`;
  if (process.env.CI === 'true') throw new Error(`${line}; in CI this is a failure`);
  console.warn(`skipping: ${line}`);
  return false;
}

export interface Etcd {
  /** `127.0.0.1:PORT` of the client URL. */
  endpoint: string;
  /** etcd://127.0.0.1:PORT/NAME for vdb serve --cluster. */
  cluster(name: string): string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback (the OS picks; closed again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a one-member etcd; resolves once it answers. */
export async function startEtcd(): Promise<Etcd> {
  const dir = mkdtempSync(join(tmpdir(), 'vdb-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    ETCD_BIN,
    [
      '--name', 'test',
      '--data-dir', join(dir, 'data'),
      '--listen-client-urls', `http://127.0.0.1:${client}`,
      '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `test=http://127.0.0.1:${peer}`,
      '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const endpoint = `127.0.0.1:${client}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited at start:\n${err}`);
    try {
      const res = await fetch(`http://${endpoint}/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`etcd did not answer within 20 s:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    cluster: (name) => `etcd://${endpoint}/${name}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** etcd's version line, for a test's note. */
export function etcdVersion(): string {
  return spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
}
