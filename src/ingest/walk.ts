/**
 * Finds the files an ingest reads, one at a time (an async generator), so a
 * tree of any size is never listed whole: only the entries of the directories
 * on the current path are held.
 *
 * - A file given by name is always taken, hidden or not, whatever --include
 *   says; its root is its directory, so its id is its name.
 * - A directory given is walked recursively, entries in code-unit order of
 *   their names (deterministic ids and order). Its files' ids are their paths
 *   relative to it, with "/" separators.
 * - Names starting with "." (files and directories) are skipped unless
 *   `hidden`. Symbolic links to files are followed; links to directories only
 *   with `followSymlinks` (each directory is entered once, so loops end).
 * - --include / --exclude are globs (picomatch) against the relative path; a
 *   pattern without "/" matches a name in any directory ("*.md" is
 *   "**\/*.md"). A file is taken if it matches some include (or none is given)
 *   and no exclude; a directory matching an exclude is not entered.
 * - What cannot be read (a missing path, a directory without permission) is
 *   yielded as a problem naming it, and the walk goes on.
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import picomatch from 'picomatch';

export interface WalkOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  hidden?: boolean;
  followSymlinks?: boolean;
}

export interface FoundFile {
  kind: 'file';
  /** Absolute path. */
  abs: string;
  /** Relative to `root`, "/" separators: the document id. */
  path: string;
  root: string;
}

export interface WalkProblem {
  kind: 'problem';
  /** The path as given, or relative to its root. */
  path: string;
  message: string;
}

type Matcher = (path: string) => boolean;

export function globMatcher(patterns: readonly string[]): Matcher | null {
  if (patterns.length === 0) return null;
  const anchored = patterns.map((p) => (p.includes('/') ? p.replace(/^\.\//, '') : `**/${p}`));
  return picomatch(anchored, { dot: true });
}

export async function* walk(paths: readonly string[], options: WalkOptions = {}): AsyncGenerator<FoundFile | WalkProblem> {
  const include = globMatcher(options.include ?? []);
  const exclude = globMatcher(options.exclude ?? []);
  const seenDirs = new Set<string>();
  for (const given of paths) {
    const abs = resolve(given);
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      yield { kind: 'problem', path: given, message: `${given}: ${describe(e)}` };
      continue;
    }
    if (st.isFile()) {
      yield { kind: 'file', abs, path: basename(abs), root: dirname(abs) };
    } else if (st.isDirectory()) {
      seenDirs.add(await realpath(abs));
      yield* walkDir(abs, '', { include, exclude, hidden: options.hidden ?? false, follow: options.followSymlinks ?? false, seenDirs });
    } else {
      yield { kind: 'problem', path: given, message: `${given}: not a file or directory` };
    }
  }
}

interface DirContext {
  include: Matcher | null;
  exclude: Matcher | null;
  hidden: boolean;
  follow: boolean;
  seenDirs: Set<string>;
}

async function* walkDir(root: string, rel: string, ctx: DirContext): AsyncGenerator<FoundFile | WalkProblem> {
  const dir = rel === '' ? root : join(root, rel);
  const entries: Dirent[] = [];
  try {
    for await (const e of await opendir(dir)) entries.push(e);
  } catch (e) {
    yield { kind: 'problem', path: rel || '.', message: `${rel || dir}: ${describe(e)}` };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (!ctx.hidden && e.name.startsWith('.')) continue;
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = await stat(join(root, path));
        isDir = st.isDirectory() && ctx.follow;
        isFile = st.isFile();
      } catch (err) {
        yield { kind: 'problem', path, message: `${path}: ${describe(err)}` };
        continue;
      }
    }
    if (isDir) {
      if (ctx.exclude?.(path)) continue;
      const real = await realpath(join(root, path)).catch(() => null);
      if (real === null || ctx.seenDirs.has(real)) continue;
      ctx.seenDirs.add(real);
      yield* walkDir(root, path, ctx);
    } else if (isFile) {
      if (ctx.include && !ctx.include(path)) continue;
      if (ctx.exclude?.(path)) continue;
      yield { kind: 'file', abs: join(root, path), path, root };
    }
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return err.code ?? err.message;
}
