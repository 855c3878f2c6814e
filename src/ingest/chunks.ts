/**
 * A loaded document → the chunks ingest writes: each unit split (splitter.ts),
 * each chunk's metadata its record's fields plus where the chunk is:
 *
 *   start, end   offsets of the chunk in the unit's text (types.ts says which text)
 *   heading      the innermost heading above it, or null   (text, Markdown, HTML)
 *   section      the headings above it, outermost first     (text, Markdown, HTML)
 *   record | line | row   which record                      (JSON, JSON Lines, CSV/TSV)
 *
 * The file-level facts (path, title, size, mtime, sha256, format) belong to
 * the document, not to each chunk. A record field with one of these names
 * would be overwritten, so it fails the file instead, by name.
 */
import { InvalidInput } from '../domain/errors.js';
import { splitText, type SplitOptions } from '../text/splitter.js';
import type { LoadedDocument, TextUnit } from './types.js';

export interface ChunkDraft {
  text: string;
  metadata: Record<string, unknown>;
}

const POSITION_KEYS = ['start', 'end', 'heading', 'section', 'record', 'line', 'row'];

/** The chunks of every unit of `doc`, in order. @throws InvalidInput on a record field named like a position key */
export function* chunkDocument(doc: LoadedDocument, options: SplitOptions): Generator<ChunkDraft> {
  for (const unit of doc.units) {
    const clash = POSITION_KEYS.find((k) => k in unit.metadata);
    if (clash !== undefined) {
      throw new InvalidInput(`${doc.meta.path}: ${where(unit)} has a field "${clash}", a name ingest gives each chunk's position`, { hint: 'rename that field, e.g. with jq' });
    }
    for (const c of splitText(unit.text, options, unit.sections)) {
      const position: Record<string, unknown> = unit.locator === null ? { heading: c.heading, section: c.path, start: c.start, end: c.end } : { ...unit.locator, start: c.start, end: c.end };
      yield { text: c.text, metadata: { ...unit.metadata, ...position } };
    }
  }
}

function where(unit: TextUnit): string {
  const l = unit.locator as Record<string, number>;
  const [key, n] = Object.entries(l)[0];
  return `${key} ${n}`;
}
