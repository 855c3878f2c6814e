/**
 * Record formats: each record is a text unit, its text the value of the text
 * field (`--text-field`, default "text"), its other fields its metadata, and
 * its locator says where it was (types.ts).
 *
 * - JSON: an array of records, or one record. A record is an object with the
 *   text field as a string, or a bare string (text, no metadata).
 * - JSON Lines / NDJSON: one such record per line; blank lines are skipped.
 * - CSV / TSV (csv-parse, RFC 4180 quoting): a header row names the columns;
 *   the text column must be one of them; other columns are string metadata.
 *
 * A record without its text field, or with a non-string one, fails the whole
 * file, naming the record: a file is never half loaded.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { InvalidInput } from '../../domain/errors.js';
import { wholeText, type Locator, type ParseOptions, type TextUnit } from '../types.js';

export function parseJson(text: string, name: string, o: ParseOptions): TextUnit[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidInput(`${name}: not valid JSON: ${(e as Error).message}`);
  }
  const records = Array.isArray(value) ? value : [value];
  return records.map((r, i) => recordUnit(r, o.textField, { record: i }, `${name}: record ${i}`));
}

export function parseJsonLines(text: string, name: string, o: ParseOptions): TextUnit[] {
  const units: TextUnit[] = [];
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    line++;
    const raw = text.slice(start, nl);
    start = nl + 1;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new InvalidInput(`${name}: line ${line}: not valid JSON: ${(e as Error).message}`);
    }
    units.push(recordUnit(value, o.textField, { line }, `${name}: line ${line}`));
  }
  return units;
}

export function parseDelimited(text: string, name: string, o: ParseOptions, delimiter: ',' | '\t'): TextUnit[] {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, delimiter, bom: true, skip_empty_lines: true, relax_quotes: delimiter === '\t' });
  } catch (e) {
    throw new InvalidInput(`${name}: not valid ${delimiter === ',' ? 'CSV' : 'TSV'}: ${(e as Error).message}`);
  }
  if (rows.length > 0 && !(o.textField in rows[0])) {
    throw new InvalidInput(`${name}: no column "${o.textField}" (columns: ${Object.keys(rows[0]).join(', ')})`, { hint: 'name the text column with --text-field' });
  }
  return rows.map((row, i) => {
    const { [o.textField]: body, ...rest } = row;
    return { text: body, sections: wholeText(body), metadata: rest, locator: { row: i + 1 } };
  });
}

function recordUnit(value: unknown, field: string, locator: Locator, name: string): TextUnit {
  if (typeof value === 'string') return { text: value, sections: wholeText(value), metadata: {}, locator };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInput(`${name}: a record must be an object or a string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const { [field]: body, ...rest } = value as Record<string, unknown>;
  if (typeof body !== 'string') {
    const got = body === undefined ? 'no field' : `a ${body === null ? 'null' : typeof body} field`;
    throw new InvalidInput(`${name}: ${got} "${field}", expected a string`, { hint: 'name the text field with --text-field' });
  }
  return { text: body, sections: wholeText(body), metadata: rest, locator };
}
