/**
 * `vdb ingest`: files → documents of a library, each split into chunks and
 * embedded with the library's embedder.
 *
 * - One document per file, its id the file's path relative to the root it was
 *   found under (walk.ts); metadata path, title, size, mtime, sha256, format
 *   and the chunking that made its chunks (plus text_field for record
 *   formats). Chunk i (from 1) of document D has the id `D#i`.
 * - Idempotent: a file whose sha256 and chunking match its document is
 *   unchanged and not even parsed; a changed one is replaced (its chunks as
 *   the file now gives them, identical ones left as they are); with `prune`,
 *   documents an earlier ingest made whose files were not found are deleted.
 * - Files go to the library in batches of whole files, each batch one atomic
 *   change (service replace.ts): a run killed at any moment leaves every file
 *   fully old or fully new, and the next run finishes the job.
 * - Streaming: files are walked, read and parsed one at a time; a batch holds
 *   at most BATCH_* of them before it is embedded (in one go, across files)
 *   and written.
 * - A file that cannot be read, decoded or parsed, or whose chunks its
 *   embedder refuses, is reported by name and skipped (counted as failed), or
 *   with `strict` stops the run before the batch it is in is written.
 * - At the end the library's full-text index is brought up to date and
 *   stored, unless that would rewrite a large database for a small change
 *   (see TEXT_INDEX_*): text queries then index the few new chunks themselves.
 */
import { stat } from 'node:fs/promises';
import { InvalidInput, NotFound, StorageError, VdbError } from '../domain/errors.js';
import { quote, sameJson } from '../domain/model.js';
import { checkId } from '../domain/validate.js';
import type { DocumentReplacement, ReplaceResult } from '../service/replace.js';
import type { VdbApi } from '../service/api.js';
import { clockFromEnv, VdbService } from '../service/service.js';
import type { Metadata } from '../domain/types.js';
import { tuningFromEnv } from '../store/store.js';
import type { StoreTuning } from '../store/store.js';
import { checkSplitOptions, defaultOverlap, SPLIT_DEFAULTS } from '../text/split-options.js';
import type { SplitOptions } from '../text/split-options.js';
import type { TextBuildReport } from '../text/state.js';
import { chunkDocument } from './chunks.js';
import { DEFAULT_MAX_FILE_BYTES, parseSource, readSource, sourceOf } from './load.js';
import type { Source } from './load.js';
import { DEFAULT_TEXT_FIELD } from './types.js';
import type { Format } from './types.js';
import { walk } from './walk.js';

/** A batch is written once it holds this many files, chunks or bytes of chunk text (whichever comes first). */
export const BATCH_FILES = 256;
export const BATCH_CHUNKS = 2048;
export const BATCH_BYTES = 4 << 20;
/** Against a server a batch is one request: at most this many bytes of chunk text, well under its body limit. */
export const REMOTE_BATCH_BYTES = 2 << 20;
/** The full-text index is stored at the end when the library has at most this many chunks, or the run changed at least 1/16 of them. */
export { TEXT_INDEX_SMALL } from '../service/search.js';
/** Documents deleted by prune per request against a server. */
const PRUNE_BATCH = 1000;

/** The log an ingest lets grow before folding it (unless VDB_LOG_MAX_BYTES says): fewer rewrites of a growing database. */
export const INGEST_LOG_MAX_BYTES = 64 << 20;

/**
 * Storage tuning for an ingest: the environment's, with a larger log, and
 * each new generation read back lazily rather than kept in memory. A fold
 * copies the whole database (rows only appended to are copied as bytes), so
 * folding every 8 MiB while 1 GB of text goes in would copy it hundreds of
 * times; the log's rows are held in memory until the fold, hence the bound.
 */
export function ingestStorage(env: NodeJS.ProcessEnv = process.env): StoreTuning {
  const t = { ...tuningFromEnv(env), reopenAfterRewrite: true };
  return env.VDB_LOG_MAX_BYTES === undefined ? { ...t, logMaxBytes: Math.max(t.logMaxBytes, INGEST_LOG_MAX_BYTES) } : t;
}

export interface IngestOptions {
  lib: string;
  /** Files and folders; "-" is stdin. */
  paths: string[];
  include?: string[];
  exclude?: string[];
  hidden?: boolean;
  followSymlinks?: boolean;
  /** Chunk size, overlap and unit; default SPLIT_DEFAULTS, the overlap defaultOverlap(size). */
  split?: Partial<SplitOptions>;
  textField?: string;
  /** Parse every file as this format instead of by its extension. */
  format?: Format;
  /** The document id of stdin ("-"); its extension gives its format. */
  stdinName?: string;
  readStdin?: () => Promise<Buffer>;
  maxFileBytes?: number;
  prune?: boolean;
  strict?: boolean;
  /** Counts files first (names only), so progress has a total. */
  countFirst?: boolean;
  onProgress?: (p: IngestProgress) => void;
  /** A file that failed (also listed in the summary), as it happens. */
  onFailure?: (f: FileFailure) => void;
}

export interface IngestProgress {
  files: number;
  /** Files to look at, when counted first; else null. */
  total: number | null;
  /** Chunks written so far. */
  chunks: number;
}

export interface FileFailure {
  path: string;
  error: string;
}

export interface IngestSummary {
  lib_id: string;
  /** Files found. */
  files: number;
  /** Documents added, replaced with the file's new content, left as they were, and deleted by prune. */
  added: number;
  updated: number;
  unchanged: number;
  pruned: number;
  /** Files that could not be ingested (see failures), and binary files skipped. */
  failed: number;
  skipped: number;
  chunks: { added: number; replaced: number; unchanged: number; removed: number };
  failures: FileFailure[];
  /** What happened to the full-text index at the end; null: left for later (see TEXT_INDEX_SMALL). */
  text_index: TextBuildReport | null;
}

interface Pending {
  items: DocumentReplacement[];
  chunks: number;
  bytes: number;
}

/**
 * Runs an ingest, on a local database or (`vdb --remote`) a server: files are
 * read here either way, and each batch goes to `svc.documents.replace`.
 * @throws the first failure with `strict`; NotFound for an unknown library; InvalidInput for bad options
 */
export async function ingest(svc: VdbApi, o: IngestOptions): Promise<IngestSummary> {
  const size = o.split?.size ?? SPLIT_DEFAULTS.size;
  const split: SplitOptions = { size, overlap: o.split?.overlap ?? defaultOverlap(size), unit: o.split?.unit ?? SPLIT_DEFAULTS.unit };
  const problem = checkSplitOptions(split);
  if (problem) throw new InvalidInput(problem);
  if (o.paths.length === 0) throw new InvalidInput('give at least one file or folder to ingest (or - for stdin)');
  const textField = o.textField ?? DEFAULT_TEXT_FIELD;
  const maxBytes = o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const library = await svc.getLibrary(o.lib);
  if (!library.embedder) {
    throw new InvalidInput(`library ${quote(library.name)} has no embedder, and ingest embeds each chunk's text`, { hint: 'create one with an embedder, e.g. vdb lib create NAME --embedder glove' });
  }
  const libId = library.id;
  const batchBytes = svc instanceof VdbService ? BATCH_BYTES : REMOTE_BATCH_BYTES;
  // A path that is not there is a mistake in the command, not a file to skip.
  for (const given of o.paths) {
    if (given === '-') continue;
    try {
      await stat(given);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFound(`${given}: no such file or directory`, { hint: 'check the path' });
      throw new StorageError(`${given}: cannot read (${code ?? (err as Error).message})`);
    }
  }
  const summary: IngestSummary = {
    lib_id: libId,
    files: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    pruned: 0,
    failed: 0,
    skipped: 0,
    chunks: { added: 0, replaced: 0, unchanged: 0, removed: 0 },
    failures: [],
    text_index: null,
  };
  const chunking = { size: split.size, overlap: split.overlap, unit: split.unit };
  const stored = await storedMetadata(svc, libId);
  const total = o.countFirst ? await countFiles(o) : null;
  const progress = () => o.onProgress?.({ files: summary.files, total, chunks: summary.chunks.added + summary.chunks.replaced + summary.chunks.unchanged });
  const failed = (path: string, err: unknown) => {
    if (o.strict || !(err instanceof VdbError) || !isFileError(err)) throw err;
    const f = { path, error: err.display };
    summary.failed++;
    summary.failures.push(f);
    o.onFailure?.(f);
  };
  // Every id found, for prune and to refuse two files with one id; failed files count (their documents stay).
  const seen = new Set<string>();
  let walkProblems = 0;
  let pending: Pending = { items: [], chunks: 0, bytes: 0 };

  const flush = async () => {
    if (pending.items.length === 0) return;
    const batch = pending;
    pending = { items: [], chunks: 0, bytes: 0 };
    const results = await svc.documents.replace(libId, batch.items, { isolate: !o.strict });
    for (const r of results) {
      if ('error' in r) {
        failed(r.id, r.error);
        continue;
      }
      count(summary, r);
    }
    progress();
  };

  const take = async (src: Source, format: Format | undefined) => {
    const id = src.path;
    const meta = stored(id) as Record<string, unknown> | undefined;
    const recordFormat = (f: string) => f === 'json' || f === 'jsonl' || f === 'csv' || f === 'tsv';
    if (meta && meta.sha256 === src.sha256 && sameJson(meta.chunking, chunking) && (!recordFormat(String(meta.format)) || meta.text_field === textField) && (format === undefined || meta.format === format)) {
      summary.unchanged++;
      return;
    }
    const parsed = parseSource(src, { textField, format });
    if (parsed.kind === 'binary') {
      summary.skipped++;
      return;
    }
    const { meta: file } = parsed.doc;
    const metadata: Record<string, unknown> = { path: file.path, title: file.title, size: file.size, mtime: file.mtime, sha256: file.sha256, format: file.format, chunking };
    if (recordFormat(file.format)) metadata.text_field = textField;
    const chunks = [];
    let bytes = 0;
    let n = 0;
    for (const c of chunkDocument(parsed.doc, split)) {
      chunks.push({ id: `${id}#${++n}`, text: c.text, metadata: c.metadata });
      bytes += c.text.length;
    }
    pending.items.push({ id, title: file.title, metadata, chunks });
    pending.chunks += chunks.length;
    pending.bytes += bytes;
    if (pending.items.length >= BATCH_FILES || pending.chunks >= BATCH_CHUNKS || pending.bytes >= batchBytes) await flush();
  };

  const found = (id: string, label: string): boolean => {
    summary.files++;
    if (seen.has(id)) {
      failed(label, new InvalidInput(`${label}: another file given has the same id ${quote(id)} (its path relative to its root)`, { hint: 'ingest the two roots into different libraries, or give their common parent folder' }));
      return false;
    }
    seen.add(id);
    try {
      checkId(id, 'a document id (the path relative to its root)', label);
    } catch (err) {
      failed(label, err);
      return false;
    }
    return true;
  };

  const takenAbs = new Set<string>();
  for (const given of o.paths) {
    if (given === '-') {
      const name = o.stdinName ?? 'stdin';
      if (!found(name, name)) continue;
      if (!o.readStdin) throw new InvalidInput('stdin is not available here');
      const bytes = await o.readStdin();
      if (bytes.length > maxBytes) {
        failed(name, new InvalidInput(`${name}: ${bytes.length} bytes is over the ${maxBytes}-byte limit for one file`, { hint: 'raise it with --max-file-size' }));
        continue;
      }
      try {
        await take(sourceOf(name, bytes, new Date(clockFromEnv()())), o.format);
      } catch (err) {
        failed(name, err);
      }
      progress();
      continue;
    }
    for await (const f of walk([given], { include: o.include, exclude: o.exclude, hidden: o.hidden, followSymlinks: o.followSymlinks })) {
      if (f.kind === 'problem') {
        walkProblems++;
        failed(f.path, new StorageError(f.message));
        continue;
      }
      // The same file reached twice (a folder and a file in it, given both) is one file.
      if (takenAbs.has(f.abs)) continue;
      takenAbs.add(f.abs);
      if (!found(f.path, f.path)) continue;
      let src: Source;
      try {
        src = await readSource(f.abs, f.path, maxBytes);
        await take(src, o.format);
      } catch (err) {
        failed(f.path, err);
      }
      if ((summary.files & 15) === 0) progress();
    }
  }
  await flush();
  if (o.prune) {
    const pruned = await prune(svc, libId, seen, walkProblems);
    summary.pruned = pruned.documents;
    summary.chunks.removed += pruned.chunks;
  }
  summary.text_index = await svc.storeTextIndex(libId, { whenWorthIt: true });
  progress();
  return summary;
}

function count(summary: IngestSummary, r: ReplaceResult): void {
  if (r.document === 'added') summary.added++;
  else if (r.document === 'replaced' || r.chunks.added + r.chunks.replaced + r.chunks.removed > 0) summary.updated++;
  else summary.unchanged++;
  summary.chunks.added += r.chunks.added;
  summary.chunks.replaced += r.chunks.replaced;
  summary.chunks.unchanged += r.chunks.unchanged;
  summary.chunks.removed += r.chunks.removed;
}

/** A problem with one file's content or name; anything else (the database, the embedder's provider, the disk) stops the run. */
function isFileError(err: VdbError): boolean {
  return err.code === 'invalid_input' || err.code === 'not_found' || err.code === 'conflict' || err.code === 'io';
}

/**
 * Deletes the documents an ingest made (they have a sha256) whose files were
 * not found, in one change; none when some path could not be read (its files
 * may only be out of reach).
 */
async function prune(svc: VdbApi, libId: string, seen: Set<string>, walkProblems: number): Promise<{ documents: number; chunks: number }> {
  if (walkProblems > 0) {
    throw new InvalidInput(`not pruning: ${walkProblems} path${walkProblems === 1 ? '' : 's'} could not be read, so their documents might be deleted wrongly (everything else was ingested)`, {
      hint: 'fix the paths named above, or run without --prune',
    });
  }
  const docs = svc instanceof VdbService ? svc.store.read().library(libId).documents.list() : await listDocuments(svc, libId);
  const gone = docs.filter((d) => !seen.has(d.id) && typeof d.metadata.sha256 === 'string' && d.metadata.path === d.id).map((d) => d.id);
  if (gone.length === 0) return { documents: 0, chunks: 0 };
  // One change locally; against a server, requests of PRUNE_BATCH documents.
  const step = svc instanceof VdbService ? gone.length : PRUNE_BATCH;
  let documents = 0;
  let chunks = 0;
  for (let i = 0; i < gone.length; i += step) {
    const deleted = await svc.documents.delete(gone.slice(i, i + step), libId);
    documents += deleted.length;
    chunks += deleted.reduce((n, d) => n + d.chunk_count, 0);
  }
  return { documents, chunks };
}

/**
 * The stored metadata of the library's documents, by id: read as needed from
 * a local database; from a server, listed once at the start (a document this
 * run writes is not looked up again: each id is taken once).
 */
async function storedMetadata(svc: VdbApi, libId: string): Promise<(id: string) => Metadata | undefined> {
  if (svc instanceof VdbService) return (id) => svc.store.read().library(libId).documents.get(id)?.metadata;
  const byId = new Map((await listDocuments(svc, libId)).map((d) => [d.id, d.metadata]));
  return (id) => byId.get(id);
}

async function listDocuments(svc: VdbApi, libId: string): Promise<{ id: string; metadata: Metadata }[]> {
  const out: { id: string; metadata: Metadata }[] = [];
  for (;;) {
    const page = await svc.documents.list(libId, { offset: out.length, limit: 1000 });
    out.push(...page.documents.map((d) => ({ id: d.id, metadata: d.metadata })));
    if (page.documents.length === 0 || out.length >= page.total) return out;
  }
}

/** How many files the walk will find (names only: nothing is read). */
async function countFiles(o: IngestOptions): Promise<number> {
  let n = 0;
  for (const given of o.paths) {
    if (given === '-') {
      n++;
      continue;
    }
    for await (const f of walk([given], { include: o.include, exclude: o.exclude, hidden: o.hidden, followSymlinks: o.followSymlinks })) if (f.kind === 'file') n++;
  }
  return n;
}
