/**
 * Field names → paths into a chunk's subject, and the subject itself: the one
 * place that knows which chunk fields filters can read.
 *
 *   lang, metadata.lang        the chunk's metadata key "lang" (subject.m.lang)
 *   a.b, metadata.a.b          a nested key; `"a.b".c` quotes a key that holds a dot
 *   tags (or tag)              the chunk's tags
 *   id, doc_id                 the chunk's id, its document's id (null without one)
 *   created_at, updated_at     the chunk's timestamps (ISO-8601: compared as instants)
 *   doc.KEY                    the metadata of the chunk's document
 *
 * The built-in names are recognised unquoted only: a metadata key of the same
 * name is `metadata.tags` or `"tags"`.
 */
import { InvalidFilter } from '../domain/errors.js';
import type { Metadata } from '../domain/types.js';
import type { Path, Step } from './ast.js';

/** Where a subject keeps the chunk's metadata and its document's. */
export const METADATA = 'm';
export const DOC = 'd';

const BUILTINS: Record<string, string> = { id: 'id', doc_id: 'doc_id', tags: 'tags', tag: 'tags', created_at: 'created_at', updated_at: 'updated_at' };

/** What filters read of one chunk. */
export interface Subject {
  id: string;
  doc_id: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  m: Metadata;
}

/** The fields of a chunk that filters read. */
export interface ChunkFields {
  id: string;
  tags: string[];
  created_at: string;
  updated_at: string;
  metadata: Metadata;
  doc_id?: string | null;
}

/** What the chunk columns hold of a chunk; its document's metadata is read through the documents (documents.ts). */
export function subjectOf(c: ChunkFields): Subject {
  return { id: c.id, doc_id: c.doc_id ?? null, tags: c.tags, created_at: c.created_at, updated_at: c.updated_at, m: c.metadata };
}

/**
 * The path a field name stands for (vdb's paths: arrays walked anywhere).
 * @param where names the filter part in messages, e.g. `--where "lang=en"`
 * @throws InvalidFilter when the name is empty, ends in a dot or digs into a built-in
 */
export function fieldPath(label: string, where: string): Path {
  const segs = splitKeys(label, where);
  const first = segs[0];
  const bad = (what: string): never => {
    throw new InvalidFilter(`${where}: ${what}`);
  };
  let steps: Step[];
  if (!first.quoted && first.key === 'metadata') {
    if (segs.length === 1) bad(`"metadata" needs a key after it, e.g. metadata.lang`);
    steps = [METADATA, ...segs.slice(1).map((s) => s.key)];
  } else if (!first.quoted && first.key === 'doc') {
    if (segs.length === 1) bad(`"doc" needs a key of the document's metadata after it, e.g. doc.author`);
    steps = [DOC, ...segs.slice(1).map((s) => s.key)];
  } else if (!first.quoted && Object.prototype.hasOwnProperty.call(BUILTINS, first.key)) {
    if (segs.length > 1) bad(`${first.key} has no fields below it (for a metadata key of that name, write metadata.${label})`);
    steps = [BUILTINS[first.key]];
  } else {
    steps = [METADATA, ...segs.map((s) => s.key)];
  }
  return { steps, arrays: 'any', label };
}

/** Dot-separated keys; a key in double quotes (JSON string syntax) may hold dots. */
function splitKeys(label: string, where: string): { key: string; quoted: boolean }[] {
  const bad = (what: string): never => {
    throw new InvalidFilter(`${where}: field ${JSON.stringify(label)} ${what}`, { hint: 'write keys as a.b.c; quote a key that holds a dot: "a.b".c' });
  };
  if (label === '') bad('is empty');
  const out: { key: string; quoted: boolean }[] = [];
  let i = 0;
  while (i <= label.length) {
    if (label[i] === '"') {
      let j = i + 1;
      while (j < label.length && label[j] !== '"') j += label[j] === '\\' ? 2 : 1;
      if (j >= label.length) bad('has an unterminated quote');
      let key: string;
      try {
        key = JSON.parse(label.slice(i, j + 1)) as string;
      } catch {
        return bad('has a badly quoted key');
      }
      out.push({ key, quoted: true });
      i = j + 1;
    } else {
      let j = label.indexOf('.', i);
      if (j < 0) j = label.length;
      const key = label.slice(i, j);
      if (key === '') bad(i === 0 ? 'starts with a dot' : 'has an empty key (two dots, or a dot at the end)');
      if (key.includes('"')) bad('has a quote inside a key');
      out.push({ key, quoted: false });
      i = j;
    }
    if (i === label.length) break;
    if (label[i] !== '.') bad('needs a dot after a quoted key');
    i++;
    if (i === label.length) bad('ends with a dot');
  }
  return out;
}
