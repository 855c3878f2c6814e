// A vdb database on disk is its snapshot file plus, for a large one (format
// version 2), the sidecar directory beside it: copy and measure both.
import { cpSync, existsSync, readFileSync, rmSync, statSync, copyFileSync } from 'node:fs';

/** Bytes of the snapshot and of every sidecar file its manifest references. */
export function snapshotBytes(path) {
  let n = statSync(path).size;
  // Only a v2 manifest is small enough to scan; a v1 file holds no references (and a peer's index file, read as
  // text, can pass the 512 MiB string limit: hnswlib-node's at 1M × 384 did).
  if (n < 1 << 24) for (const m of readFileSync(path, 'utf8').matchAll(/"file":"[^"]+","bytes":(\d+)/g)) n += Number(m[1]);
  return n;
}

/** Copies a database (snapshot and sidecar directory) to `to`, replacing what was there. */
export function copySnapshot(from, to) {
  rmSync(`${to}.d`, { recursive: true, force: true });
  if (existsSync(`${from}.d`)) cpSync(`${from}.d`, `${to}.d`, { recursive: true });
  copyFileSync(from, to);
}
