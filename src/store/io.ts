/** Small helpers for file-system errors and opening files that must be regular files. */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import type { Stats } from 'node:fs';

/** The size of `fd` when it is a regular file, else null. */
export function regularFileBytes(fd: number): number | null {
  try {
    const st = fstatSync(fd);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/**
 * An errno error as one short phrase: node's own message already starts with
 * the code ("ENOSPC: no space left on device, write"), so it is not repeated.
 */
export function describeIoError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = (e?.message ?? String(err)).replace(/\s+/g, ' ').trim();
  if (!e?.code || message.startsWith(e.code)) return message;
  return `${e.code}: ${message}`;
}

/** What kind of file `st` is, for messages: "a FIFO", "a directory", ... */
export function fileKind(st: Stats | { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSymbolicLink(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Opens `path` for reading without blocking on a FIFO or a device (O_NONBLOCK,
 * which changes nothing for regular files), and refuses anything that is not
 * a regular file.
 * @throws the open error as is (ENOENT, EACCES...), or NotRegularFile
 */
export function openRegularForRead(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new NotRegularFile(path, fileKind(st));
  }
  return fd;
}

/** A path that vdb reads or writes is a FIFO, a socket, a device or a directory. */
export class NotRegularFile extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path} is ${kind}, not a regular file`);
  }
}
