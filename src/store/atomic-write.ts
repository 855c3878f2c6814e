// fs.promises, not node:fs/promises: the bundled CLI reads the getter at the call, so node:fs/promises (and
// readline with it, ~2 ms) loads only for an async write, not at every start.
import { closeSync, fsyncSync, openSync, promises, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Replaces `path` with `data` so that readers see the old file or the new one,
 * never a mix: write a temp file in the same directory, fsync it, rename it
 * over, fsync the directory so the rename itself survives a power cut.
 */
export function atomicWriteFileSync(path: string, data: string | Uint8Array, opts: { syncDir?: boolean } = {}): void {
  atomicWriteStreamSync(path, (write) => write(typeof data === 'string' ? Buffer.from(data) : data), opts);
}

/**
 * atomicWriteFileSync of the bytes `fill` hands to `write`, in as many pieces
 * as it likes: a large file is written without a buffer of its size.
 */
export function atomicWriteStreamSync(path: string, fill: (write: (bytes: Uint8Array) => void) => void, opts: { syncDir?: boolean } = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `${tempPrefix(path)}${process.pid}-${Math.random().toString(16).slice(2, 10)}`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    let at = 0;
    fill((buf) => {
      let off = 0;
      // At most 1 GiB per call: writeSync rejects lengths of 2 GiB and more.
      while (off < buf.byteLength) off += writeSync(fd, buf, off, Math.min(buf.byteLength - off, 1 << 30), at + off);
      at += buf.byteLength;
    });
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
  // A caller writing several files may fsync the directory once, after the last.
  if (opts.syncDir !== false) fsyncDir(dir);
}

/**
 * atomicWriteFileSync with the writes and fsyncs on libuv's threads: a server
 * goes on answering while a large generation is written.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, opts: { syncDir?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${tempPrefix(path)}${process.pid}-${Math.random().toString(16).slice(2, 10)}`);
  const file = await promises.open(tmp, 'wx', 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.byteLength) off += (await file.write(buf, off, Math.min(buf.byteLength - off, 1 << 30))).bytesWritten;
    await file.sync();
  } catch (err) {
    await file.close();
    unlinkQuietly(tmp);
    throw err;
  }
  await file.close();
  try {
    await promises.rename(tmp, path);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
  if (opts.syncDir !== false) await fsyncDirAsync(dir);
}

/** fsyncDir on libuv's threads. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  try {
    const file = await promises.open(dir, 'r');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

function tempPrefix(path: string): string {
  return `.${basename(path)}.tmp-`;
}

/**
 * Removes temp files that writers killed mid-write left beside `path`. Call
 * only while holding the writer lock: then no live writer owns one.
 */
export function removeOrphanTemps(path: string): void {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) unlinkQuietly(join(dirname(path), name));
}

/** fsync a directory, so that entries created, renamed or removed in it survive a power cut. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
