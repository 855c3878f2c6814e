/**
 * Sidecar files of a version 2 manifest, in the directory `<db>.d/`:
 *
 *   g000007-0000.json  generation 7, file 0: a library's chunk records (a JSON array)
 *   g000007-0001.u32   file 1: their ids as sorted u64 (u32 pairs), raw little-endian
 *   g000007-0002.f32   file 2: their vectors, raw little-endian float32, no header (i32 likewise)
 *   g000007.log        the append-only log on top of generation 7 (see log.ts)
 *
 * A generation's array files are written (temp + fsync + rename) before the
 * manifest that names them, and never change afterwards. The manifest's rename
 * is the commit point. The writer of generation G removes every file of
 * generations below G - 1: a reader that has just read manifest G - 1 can
 * still open its files, and one that finds a file gone re-reads the manifest.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import type { IndexArray } from '../index/types.js';
import { dtypeOf } from './codec.js';
import type { DType } from './codec.js';
import { atomicWriteFileSync, fsyncDir, unlinkQuietly } from './atomic-write.js';

export interface SidecarRef {
  dtype: DType;
  file: string;
  bytes: number;
  crc32: number;
}

const CTORS = { f32: Float32Array, u32: Uint32Array, i32: Int32Array } as const;
const NAME = /^\.?g(\d{6,})[-.]/;

/** The sidecar directory of the manifest at `dbPath`. */
export function sidecarDir(dbPath: string): string {
  return `${dbPath}.d`;
}

export function arrayFileName(generation: number, k: number, dtype: string): string {
  return `g${pad(generation, 6)}-${pad(k, 4)}.${dtype}`;
}

export function logFileName(generation: number): string {
  return `g${pad(generation, 6)}.log`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Creates the sidecar directory (and makes its entry durable) if it is missing. */
export function ensureSidecarDir(dir: string): void {
  try {
    mkdirSync(dir);
    fsyncDir(dirname(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Writes one array durably under `name`; returns its manifest reference. */
export function writeSidecar(dir: string, name: string, a: IndexArray): SidecarRef {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  atomicWriteFileSync(join(dir, name), bytes, { syncDir: false });
  return { dtype: dtypeOf(a), file: name, bytes: a.byteLength, crc32: checksum(bytes) };
}

export interface SidecarFileRef {
  dtype: string;
  file: string;
  bytes: number;
  crc32: number;
}

/** A sidecar opened now and read later: the open descriptor keeps it readable even once a writer removes it. */
export interface OpenSidecar {
  readonly ref: SidecarFileRef;
  /**
   * Reads the whole file into a fresh buffer of `ref.bytes + spareBytes` (4-aligned, no copy
   * afterwards), checks its crc32 and closes the file. Call once.
   * @throws Error with a plain message when the file is short or damaged
   */
  read(spareBytes: number): Uint8Array;
  close(): void;
}

const DTYPES = new Set(['f32', 'u32', 'i32', 'json']);

/**
 * Opens a sidecar and checks its size.
 * @throws SidecarMissing (ENOENT), or Error with a plain message when the reference or the size is wrong
 */
export function openSidecar(dir: string, ref: SidecarFileRef): OpenSidecar {
  if (!DTYPES.has(ref.dtype)) throw new Error(`unknown dtype ${JSON.stringify(ref.dtype)}`);
  if (!NAME.test(ref.file) || ref.file.includes('/') || ref.file.includes('\\')) throw new Error(`bad sidecar file name ${JSON.stringify(ref.file)}`);
  let fd: number;
  try {
    fd = openSync(join(dir, ref.file), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SidecarMissing(ref.file);
    throw err;
  }
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  try {
    const size = fstatSync(fd).size;
    if (size !== ref.bytes) throw new Error(`sidecar ${ref.file} has ${size} bytes, the manifest says ${ref.bytes}${size < ref.bytes ? ' (truncated)' : ''}`);
  } catch (err) {
    close();
    throw err;
  }
  const handle: OpenSidecar = {
    ref,
    close,
    read(spareBytes: number): Uint8Array {
      if (!open) throw new Error(`sidecar ${ref.file} was already read`);
      try {
        // Whole 4-byte elements of spare room, so typed views can grow into it.
        const total = ref.bytes + Math.floor(Math.max(0, spareBytes) / 4) * 4;
        // allocUnsafeSlow gives an unzeroed buffer of its own (byteOffset 0, so every view is
        // aligned); past Buffer's 4 GiB limit, a plain (zeroed) ArrayBuffer does.
        const bytes = total <= bufferConstants.MAX_LENGTH ? Buffer.allocUnsafeSlow(total) : new Uint8Array(new ArrayBuffer(total));
        let off = 0;
        while (off < ref.bytes) {
          const n = readSync(fd, bytes, off, Math.min(ref.bytes - off, 1 << 30), off);
          if (n === 0) throw new Error(`sidecar ${ref.file} ended after ${off} of ${ref.bytes} bytes (truncated)`);
          off += n;
        }
        if (checksum(bytes.subarray(0, ref.bytes)) !== ref.crc32) throw new Error(`sidecar ${ref.file} fails its checksum (damaged)`);
        return bytes;
      } finally {
        close();
      }
    },
  };
  // A handle dropped unread (a database never fully loaded) must not keep its descriptor.
  unread.register(handle, close);
  return handle;
}

const unread = new FinalizationRegistry<() => void>((close) => close());

/** Views sidecar bytes as the array type of `dtype`; the view covers `bytes` (the buffer may extend further). */
export function viewAs(dtype: string, data: Uint8Array, bytes: number): IndexArray {
  if (!(dtype in CTORS)) throw new Error(`dtype ${JSON.stringify(dtype)} is not an array type`);
  const Ctor = CTORS[dtype as DType];
  if (bytes % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`${bytes} bytes is not a whole number of ${dtype} elements`);
  return new Ctor(data.buffer as ArrayBuffer, data.byteOffset, bytes / Ctor.BYTES_PER_ELEMENT);
}

/**
 * Reads a sidecar array now into a fresh buffer of `ref.bytes + spareBytes` and
 * returns a typed-array view on its start: one read, no copy.
 * @throws SidecarMissing (ENOENT) or Error with a plain message when the file is short, long or damaged
 */
export function readSidecar(dir: string, ref: SidecarFileRef, spareBytes: number): IndexArray {
  if (!(ref.dtype in CTORS)) throw new Error(`unknown dtype ${JSON.stringify(ref.dtype)}`);
  return viewAs(ref.dtype, openSidecar(dir, ref).read(spareBytes), ref.bytes);
}

/** Writes bytes (e.g. JSON chunk records) durably under `name`; returns its manifest reference. */
export function writeSidecarBytes(dir: string, name: string, dtype: string, bytes: Uint8Array): SidecarFileRef {
  atomicWriteFileSync(join(dir, name), bytes, { syncDir: false });
  return { dtype, file: name, bytes: bytes.byteLength, crc32: checksum(bytes) };
}

/** crc32 of any length, fed to zlib 1 GiB at a time (its length argument is 32-bit). */
export function checksum(bytes: Uint8Array): number {
  let crc = 0;
  for (let off = 0; off < bytes.byteLength; off += 1 << 30) crc = crc32(bytes.subarray(off, off + (1 << 30)), crc);
  return crc;
}

/** A referenced sidecar file does not exist (it may have been cleaned up after a newer commit). */
export class SidecarMissing extends Error {
  constructor(readonly file: string) {
    super(`sidecar ${file} is missing`);
  }
}

/**
 * Removes every file in `dir` that belongs to no generation in `keep`, and
 * temp files of killed writers. Call only while holding the writer lock.
 */
export function removeOtherGenerations(dir: string, keep: number[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  let removed = false;
  for (const name of names) {
    const m = NAME.exec(name);
    if (name.startsWith('.') || (m && !keep.includes(Number(m[1])))) {
      unlinkQuietly(join(dir, name));
      removed = true;
    }
  }
  if (removed) fsyncDir(dir);
}

/** Generation of a sidecar or log file name, or null. */
export function generationOf(name: string): number | null {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : null;
}
