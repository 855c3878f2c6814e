/**
 * Sidecar files of a version 2 manifest, in the directory `<db>.d/`:
 *
 *   g000007-0000.json  generation 7, file 0: a library's chunk (or document) records (a JSON array)
 *   g000007-0001.u32   file 1: their id table (see id-table.ts), raw little-endian
 *   g000007-0002.f32   file 2: their vectors, raw little-endian float32, no header (i32 likewise)
 *   g000007.log        the append-only log on top of generation 7 (see log.ts)
 *
 * A generation's array files are written (temp + fsync + rename) before the
 * manifest that names them, and never change afterwards. The manifest's rename
 * is the commit point. The writer of generation G removes every file of
 * generations below G - 1: a reader that has just read manifest G - 1 can
 * still open its files, and one that finds a file gone re-reads the manifest.
 */
import { closeSync, fstatSync, mkdirSync, readdirSync, readSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import type { IndexArray } from '../index/types.js';
import { dtypeOf } from './codec.js';
import type { DType } from './codec.js';
import { atomicWriteStreamSync, fsyncDir, unlinkQuietly } from './atomic-write.js';
import { NotRegularFile, openRegularForRead } from './io.js';

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

/**
 * Files of at least this many pages also get a table of per-page crc32s
 * (`<file>.pages`), so a read of a few rows can be checked without reading
 * the whole file.
 */
export const PAGE_BYTES = 4096;
const MIN_PAGED_PAGES = 16;

export interface SidecarFileRef {
  dtype: string;
  file: string;
  bytes: number;
  crc32: number;
  /** The crc32 of each PAGE_BYTES page (the last one may be short), as a u32 sidecar. */
  page_crc32?: SidecarFileRef;
}

/**
 * A sidecar opened now and read later: the open descriptor keeps it readable
 * even once a writer removes it. It stays open until `close()` (or until the
 * handle is garbage), so rows can be read from it as they are needed.
 */
export interface OpenSidecar {
  readonly ref: SidecarFileRef;
  /**
   * Reads the whole file into a fresh buffer of `ref.bytes + spareBytes`
   * (4-aligned, no copy afterwards) and checks its crc32.
   * @throws Error with a plain message when the file is short or damaged
   */
  read(spareBytes: number): Uint8Array;
  /** Reads the whole file into `into` (at least `ref.bytes` long) and checks its crc32. */
  readInto(into: Uint8Array): void;
  /**
   * Reads bytes [offset, offset + into.length) into `into`. A part cannot be
   * checked against the file's crc32: callers check what they read.
   */
  readRange(into: Uint8Array, offset: number): void;
  /**
   * Reads the whole file in order, `window.length` bytes at a time into
   * `window`, calling `each(filled, offset)` after each read; then checks the
   * file's crc32 over all of it. What `each` saw is vouched for only once scan
   * returns: it throws when the file is damaged, so callers keep nothing of a
   * pass that throws. One buffer, no page table needed.
   */
  scan(window: Uint8Array, each: (filled: Uint8Array, offset: number) => void): void;
  /**
   * What another thread of this process needs to read and check pages of the
   * file itself (`readPages`): its descriptor and page table; null when the
   * file has no page table. The descriptor stays open until every `hold` is released.
   */
  pages(): PageSource | null;
  /** Keeps the descriptor open past `close()` until the returned release is called (a pool's workers read it). */
  hold(): () => void;
  close(): void;
}

/** A sidecar's open descriptor and page table: any thread of the process reads checked pages through it. */
export interface PageSource {
  fd: number;
  file: string;
  bytes: number;
  /** The crc32 of each PAGE_BYTES page. */
  table: Uint32Array;
}

/**
 * Reads the pages from `first` on that fill `into` (whole pages, the file's
 * last one short) and checks each against the page table.
 * @throws Error with a plain message when the file is short or a page is damaged
 */
export function readPages(src: PageSource, into: Uint8Array, first: number): void {
  readAt(src.fd, src.file, src.bytes, into, first * PAGE_BYTES);
  for (let p = 0; p * PAGE_BYTES < into.byteLength; p++) {
    if (crc32(into.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES)) !== src.table[first + p]) throw damagedSidecar(src.file);
  }
}

/** Reads bytes [offset, offset + into.length) of the file behind `fd`. */
function readAt(fd: number, file: string, bytes: number, into: Uint8Array, offset: number): void {
  if (offset < 0 || offset + into.byteLength > bytes) throw new Error(`sidecar ${file}: bytes ${offset}..${offset + into.byteLength} are past its end`);
  let off = 0;
  while (off < into.byteLength) {
    const n = readSync(fd, into, off, Math.min(into.byteLength - off, 1 << 30), offset + off);
    if (n === 0) throw new Error(`sidecar ${file} ended after ${offset + off} of ${bytes} bytes (truncated)`);
    off += n;
  }
}

function damagedSidecar(file: string): Error {
  return new Error(`sidecar ${file} fails its checksum (damaged)`);
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
    fd = openRegularForRead(join(dir, ref.file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SidecarMissing(ref.file);
    if (err instanceof NotRegularFile) throw new Error(`sidecar ${ref.file} is ${err.kind}, not a regular file`);
    throw err;
  }
  let open = true;
  let holds = 0;
  let closing = false;
  let tableFile: OpenSidecar | null = null;
  /** Closes the descriptor once close() was called and no hold is left. */
  const closeWhenFree = () => {
    if (!closing || !open || holds > 0) return;
    closeSync(fd);
    open = false;
  };
  const close = () => {
    closing = true;
    closeWhenFree();
    tableFile?.close();
  };
  try {
    const size = fstatSync(fd).size;
    if (size !== ref.bytes) throw new Error(`sidecar ${ref.file} has ${size} bytes, the manifest says ${ref.bytes}${size < ref.bytes ? ' (truncated)' : ''}`);
  } catch (err) {
    close();
    throw err;
  }
  const readRaw = (into: Uint8Array, offset: number): void => {
    if (!open || closing) throw new Error(`sidecar ${ref.file} was closed`);
    readAt(fd, ref.file, ref.bytes, into, offset);
  };
  const damaged = () => damagedSidecar(ref.file);
  // Parts are checked page by page against the page table, or (without one) by one pass over the whole file first.
  // The table is opened now, like the file, so a writer's clean-up cannot take it away meanwhile.
  try {
    tableFile = ref.page_crc32 ? openPageTable(dir, ref) : null;
  } catch (err) {
    close();
    throw err;
  }
  let pageTable: Uint32Array | null = null;
  const readInto = (into: Uint8Array): void => {
    const whole = into.subarray(0, ref.bytes);
    readRaw(whole, 0);
    if (checksum(whole) !== ref.crc32) throw damaged();
    // The file's own crc32 vouches for the data; its page table is checked too (against its own crc32),
    // or damage there would go unreported until some later partial read.
    if (tableFile && pageTable === null) {
      pageTable = viewAs('u32', tableFile.read(0), ref.page_crc32!.bytes) as Uint32Array;
      tableFile.close();
    }
  };
  const scan = (window: Uint8Array, each: (filled: Uint8Array, offset: number) => void): void => {
    if (window.byteLength === 0) throw new Error('scan needs a window of at least one byte');
    let crc = 0;
    for (let off = 0; off < ref.bytes; off += window.byteLength) {
      const filled = window.subarray(0, Math.min(window.byteLength, ref.bytes - off));
      readRaw(filled, off);
      crc = checksum(filled, crc);
      each(filled, off);
    }
    if (crc !== ref.crc32) throw damaged();
  };
  let scratch = new Uint8Array(0);
  const readRange = (into: Uint8Array, offset: number): void => {
    if (!ref.page_crc32) {
      if (pageTable === null) {
        // The whole file's crc32 first, in 16 MiB reads (no buffer of its size).
        scan(new Uint8Array(Math.max(1, Math.min(16 << 20, ref.bytes))), () => undefined);
        pageTable = new Uint32Array(0);
      }
      return readRaw(into, offset);
    }
    const src = pages()!;
    const first = Math.floor(offset / PAGE_BYTES);
    const end = Math.min(ref.bytes, Math.ceil((offset + into.byteLength) / PAGE_BYTES) * PAGE_BYTES);
    const span = end - first * PAGE_BYTES;
    if (scratch.byteLength < span) scratch = new Uint8Array(Math.max(span, 2 * PAGE_BYTES));
    const read = scratch.subarray(0, span);
    readPages(src, read, first);
    const from = offset - first * PAGE_BYTES;
    into.set(read.subarray(from, from + into.byteLength));
  };
  let source: PageSource | null = null;
  const pages = (): PageSource | null => {
    if (!ref.page_crc32) return null;
    if (!open || closing) throw new Error(`sidecar ${ref.file} was closed`);
    if (pageTable === null) {
      pageTable = viewAs('u32', tableFile!.read(0), ref.page_crc32.bytes) as Uint32Array;
      tableFile!.close();
    }
    return (source ??= { fd, file: ref.file, bytes: ref.bytes, table: pageTable });
  };
  const hold = (): (() => void) => {
    holds++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      holds--;
      closeWhenFree();
    };
  };
  const handle: OpenSidecar = {
    ref,
    close,
    readRange,
    readInto,
    scan,
    pages,
    hold,
    read(spareBytes: number): Uint8Array {
      // Whole 4-byte elements of spare room, so typed views can grow into it.
      const total = ref.bytes + Math.floor(Math.max(0, spareBytes) / 4) * 4;
      // allocUnsafeSlow gives an unzeroed buffer of its own (byteOffset 0, so every view is
      // aligned); past Buffer's 4 GiB limit, a plain (zeroed) ArrayBuffer does.
      const bytes = total <= bufferConstants.MAX_LENGTH ? Buffer.allocUnsafeSlow(total) : new Uint8Array(new ArrayBuffer(total));
      readInto(bytes);
      return bytes;
    },
  };
  // A handle dropped without close() (a database never fully loaded) must not keep its descriptor.
  unread.register(handle, close);
  return handle;
}

/** Opens the page table of `ref`; it must have one entry per page. */
function openPageTable(dir: string, ref: SidecarFileRef): OpenSidecar {
  const tableRef = ref.page_crc32!;
  if (tableRef.dtype !== 'u32' || tableRef.bytes !== Math.ceil(ref.bytes / PAGE_BYTES) * 4) throw new Error(`page table of sidecar ${ref.file} has the wrong size`);
  return openSidecar(dir, tableRef);
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
  const file = openSidecar(dir, ref);
  try {
    return viewAs(ref.dtype, file.read(spareBytes), ref.bytes);
  } finally {
    file.close();
  }
}

/** A file of a generation still to be written: its name in the sidecar directory and its bytes. */
export interface SidecarFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * The manifest reference of `bytes` stored as `name` (with a page table when
 * large), and the files to write for it: the caller writes them (temp file,
 * fsync, rename) before the manifest that names them.
 */
export function sidecarFiles(name: string, dtype: string, bytes: Uint8Array, pageTable = true): { ref: SidecarFileRef; files: SidecarFile[] } {
  const ref: SidecarFileRef = { dtype, file: name, bytes: bytes.byteLength, crc32: checksum(bytes) };
  const files: SidecarFile[] = [{ name, bytes }];
  const pages = Math.ceil(bytes.byteLength / PAGE_BYTES);
  if (pageTable && pages >= MIN_PAGED_PAGES) {
    const table = new Uint32Array(pages);
    for (let p = 0; p < pages; p++) table[p] = crc32(bytes.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES));
    // A page table is always read whole, so it has no table of its own.
    const tableFiles = sidecarFiles(`${name}.pages`, 'u32', new Uint8Array(table.buffer), false);
    ref.page_crc32 = tableFiles.ref;
    files.push(...tableFiles.files);
  }
  return { ref, files };
}

/** Bytes to write: in hand, or a range of a sidecar still open (copied in blocks, checked as they are read). */
export type SidecarPart = Uint8Array | { source: { readRange(into: Uint8Array, offset: number): void }; from: number; length: number };

const COPY_BLOCK_BYTES = 8 << 20;

/**
 * Writes `parts` back to back as the sidecar `name` in `dir` now (temp file,
 * fsync, rename; the caller fsyncs the directory), computing its crc32 and
 * page table on the way: what sidecarFiles gives for the same bytes, without
 * holding them. The page table, if any, is among the files to write.
 */
export function writeSidecarParts(dir: string, name: string, dtype: string, parts: readonly SidecarPart[]): { ref: SidecarFileRef; files: SidecarFile[] } {
  let crc = 0;
  let total = 0;
  const pages: number[] = [];
  let pageCrc = 0;
  let pageFill = 0;
  atomicWriteStreamSync(
    join(dir, name),
    (write) => {
      const feed = (buf: Uint8Array): void => {
        write(buf);
        total += buf.byteLength;
        crc = checksum(buf, crc);
        for (let at = 0; at < buf.byteLength; ) {
          const take = Math.min(PAGE_BYTES - pageFill, buf.byteLength - at);
          pageCrc = crc32(buf.subarray(at, at + take), pageCrc);
          pageFill += take;
          at += take;
          if (pageFill === PAGE_BYTES) {
            pages.push(pageCrc);
            pageCrc = 0;
            pageFill = 0;
          }
        }
      };
      let block: Uint8Array | null = null;
      for (const part of parts) {
        if (part instanceof Uint8Array) {
          feed(part);
          continue;
        }
        block ??= new Uint8Array(COPY_BLOCK_BYTES);
        for (let off = 0; off < part.length; off += COPY_BLOCK_BYTES) {
          const piece = block.subarray(0, Math.min(COPY_BLOCK_BYTES, part.length - off));
          part.source.readRange(piece, part.from + off);
          feed(piece);
        }
      }
      if (pageFill > 0) pages.push(pageCrc);
    },
    { syncDir: false },
  );
  const ref: SidecarFileRef = { dtype, file: name, bytes: total, crc32: crc };
  if (pages.length < MIN_PAGED_PAGES) return { ref, files: [] };
  const table = sidecarFiles(`${name}.pages`, 'u32', new Uint8Array(Uint32Array.from(pages).buffer), false);
  ref.page_crc32 = table.ref;
  return { ref, files: table.files };
}

/** An array's bytes as a sidecar (see sidecarFiles). */
export function arraySidecarFiles(name: string, a: IndexArray): { ref: SidecarFileRef; files: SidecarFile[] } {
  return sidecarFiles(name, dtypeOf(a), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** crc32 of any length (continuing from `crc`), fed to zlib 1 GiB at a time (its length argument is 32-bit). */
export function checksum(bytes: Uint8Array, crc = 0): number {
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
