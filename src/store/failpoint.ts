/**
 * Named points in the commit path where a test can stop a writer, as etcd's
 * failpoints do: with `VDB_FAILPOINTS=manifest,append` a vdb process that
 * reaches one of these points prints `vdb: failpoint <name> (pid N)` on
 * stderr and stops itself (SIGSTOP). The test then kills it there (SIGKILL:
 * a crash at exactly that step) or lets it go on (SIGCONT: a stalled writer).
 *
 * Points, in commit order: `locked` (the lock is taken, nothing read yet);
 * a rewrite: `sidecars` (the next generation's arrays are written), `manifest`
 * (its log is created; the manifest's rename is next), `committed` (renamed;
 * old generations not yet removed); an append: `append` (the log is open,
 * the record not yet written), `appended` (written and fsynced). A cluster
 * leader: `leader-append` (a write is prepared; its append to the log is next).
 */
import { writeSync } from 'node:fs';

const wanted = new Set((process.env.VDB_FAILPOINTS ?? '').split(',').filter((s) => s !== ''));

export type FailpointName = 'locked' | 'sidecars' | 'manifest' | 'committed' | 'append' | 'appended' | 'leader-append';

export function failpoint(name: FailpointName): void {
  if (wanted.size === 0 || !wanted.has(name)) return;
  writeSync(2, `vdb: failpoint ${name} (pid ${process.pid})\n`);
  process.kill(process.pid, 'SIGSTOP');
}
