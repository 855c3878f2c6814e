/**
 * One file → one document: read (bounded), hash, detect the format, decode,
 * parse. Reading and parsing are apart so an ingest can compare the SHA-256
 * with what it stored and skip an unchanged file without parsing it.
 *
 * Formats by extension (case-insensitive): .md .markdown .mdown .mkd →
 * markdown; .html .htm .xhtml → html; .json → json; .jsonl .ndjson → jsonl;
 * .csv → csv; .tsv → tsv; anything else → text. `format` overrides it.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidInput, StorageError } from '../domain/errors.js';
import { decodeText, looksBinary } from './decode.js';
import { parseHtml } from './formats/html.js';
import { parseMarkdown } from './formats/markdown.js';
import { parsePlain } from './formats/text.js';
import { parseDelimited, parseJson, parseJsonLines } from './formats/records.js';
import { DEFAULT_TEXT_FIELD, FORMATS, type Format, type LoadedDocument, type ParseOptions, type TextUnit } from './types.js';

/** Files above this are refused by name (one file's chunks are written as one change, so it must fit in memory). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

const EXTENSIONS: Record<string, Format> = {
  '.md': 'markdown', '.markdown': 'markdown', '.mdown': 'markdown', '.mkd': 'markdown',
  '.html': 'html', '.htm': 'html', '.xhtml': 'html',
  '.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl',
  '.csv': 'csv', '.tsv': 'tsv',
};

export function formatOf(path: string): Format {
  return EXTENSIONS[posix.extname(path).toLowerCase()] ?? 'text';
}

/** Checks a user-given format name. @throws InvalidInput */
export function parseFormat(name: string): Format {
  if ((FORMATS as readonly string[]).includes(name)) return name as Format;
  throw new InvalidInput(`unknown format "${name}" (one of ${FORMATS.join(', ')})`);
}

/** A file's bytes and what is known of them before parsing. */
export interface Source {
  /** Relative path with "/" separators: the name used in errors and the document id. */
  path: string;
  bytes: Buffer;
  size: number;
  mtime: string;
  sha256: string;
}

/**
 * Reads a whole file.
 * @param abs where it is
 * @param path its relative path (for metadata and errors)
 * @throws InvalidInput when it is over maxBytes; StorageError when it cannot be read
 */
export async function readSource(abs: string, path: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<Source> {
  let handle;
  try {
    handle = await open(abs, 'r');
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const st = await handle.stat();
    if (st.size > maxBytes) {
      throw new InvalidInput(`${path}: ${st.size} bytes is over the ${maxBytes}-byte limit for one file`, { hint: 'raise it with --max-file-size, or split the file' });
    }
    const bytes = await handle.readFile();
    if (bytes.length > maxBytes) throw new InvalidInput(`${path}: grew past the ${maxBytes}-byte limit while being read`);
    return sourceOf(path, bytes, st.mtime);
  } catch (e) {
    if (e instanceof InvalidInput) throw e;
    throw ioError(path, e);
  } finally {
    await handle.close();
  }
}

/** A source from bytes in hand (stdin). */
export function sourceOf(path: string, bytes: Buffer, mtime: Date): Source {
  return { path, bytes, size: bytes.length, mtime: mtime.toISOString(), sha256: createHash('sha256').update(bytes).digest('hex') };
}

export type Parsed = { kind: 'document'; doc: LoadedDocument } | { kind: 'binary' };

/**
 * @throws InvalidInput naming the file when it cannot be decoded or parsed
 */
export function parseSource(src: Source, options: Partial<ParseOptions> & { format?: Format } = {}): Parsed {
  const format = options.format ?? formatOf(src.path);
  if (looksBinary(src.bytes)) return { kind: 'binary' };
  const text = decodeText(src.bytes, src.path);
  const o: ParseOptions = { textField: options.textField ?? DEFAULT_TEXT_FIELD };
  const fallbackTitle = posix.basename(src.path, posix.extname(src.path)) || src.path;
  let title = fallbackTitle;
  let units: TextUnit[];
  switch (format) {
    case 'markdown': {
      const md = parseMarkdown(text, fallbackTitle);
      title = md.title;
      units = [md.unit];
      break;
    }
    case 'html': {
      const html = parseHtml(text, fallbackTitle);
      title = html.title;
      units = [html.unit];
      break;
    }
    case 'json':
      units = parseJson(text, src.path, o);
      break;
    case 'jsonl':
      units = parseJsonLines(text, src.path, o);
      break;
    case 'csv':
      units = parseDelimited(text, src.path, o, ',');
      break;
    case 'tsv':
      units = parseDelimited(text, src.path, o, '\t');
      break;
    case 'text':
      units = [parsePlain(text)];
      break;
  }
  return { kind: 'document', doc: { meta: { path: src.path, title, size: src.size, mtime: src.mtime, sha256: src.sha256, format }, units } };
}

function ioError(path: string, e: unknown): StorageError {
  const err = e as NodeJS.ErrnoException;
  return new StorageError(`${path}: cannot read (${err.code ?? err.message})`, { cause: e });
}
