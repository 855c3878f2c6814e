/**
 * What the loaders produce: one document per file, as text units the splitter
 * chunks. A unit is the whole file for text, Markdown and HTML, and one record
 * (object, line or row) for JSON, JSON Lines and CSV: chunks never span two
 * records, so a record's fields stay its chunks' metadata.
 */
import type { Section } from '../text/splitter.js';

export const FORMATS = ['text', 'markdown', 'html', 'json', 'jsonl', 'csv', 'tsv'] as const;
export type Format = (typeof FORMATS)[number];

/** Per-file metadata, as ingest stores it on the document. */
export interface FileMeta {
  /** Path relative to the root it was found under, with "/" separators: the document id. */
  path: string;
  title: string;
  /** Bytes. */
  size: number;
  /** Last modification, ISO 8601 (UTC). */
  mtime: string;
  /** Hex SHA-256 of the bytes that were parsed. */
  sha256: string;
  format: Format;
}

export interface TextUnit {
  /**
   * The text the splitter sees. Text and Markdown: the decoded file (without a
   * byte-order mark), so chunk offsets are offsets in the file's text. HTML: the
   * visible text. Records: the value of the text field.
   */
  text: string;
  /** Heading sections of `text` (Markdown, HTML); one untitled section otherwise. */
  sections: Section[];
  /** The record's other fields; {} for whole files. */
  metadata: Record<string, unknown>;
  /** Where the record was in the file; null for whole files. */
  locator: Locator | null;
}

/** JSON: 0-based position in the top-level array; JSON Lines: 1-based line; CSV/TSV: 1-based data row (header excluded). */
export type Locator = { record: number } | { line: number } | { row: number };

export interface LoadedDocument {
  meta: FileMeta;
  units: TextUnit[];
}

export interface ParseOptions {
  /** The field (JSON, JSON Lines) or column (CSV, TSV) holding the text. */
  textField: string;
}

export const DEFAULT_TEXT_FIELD = 'text';

/** One section spanning all of `text`, without a heading. */
export function wholeText(text: string): Section[] {
  return [{ start: 0, end: text.length, heading: null, path: [] }];
}
