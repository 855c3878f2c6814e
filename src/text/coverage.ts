/**
 * Keeping a full-text index fresh the way vector indexes are: the index's keys
 * are the seqs of the chunk texts it holds (a chunk gets a new seq whenever
 * its text or vector changes), so comparing them with the library's row seqs
 * says exactly which indexed texts are stale (their seq is gone) and which
 * rows are unindexed (their seq is not in the index), without reading any
 * chunk text. A query brings an in-memory copy up to date by removing the
 * stale keys and adding the unindexed rows' texts: its answers are those of
 * an index built now. Persisting the refreshed index is a separate write.
 */
import type { Bm25Index } from './bm25.js';
import { analyze } from './tokenizer.js';

export interface TextCoverage {
  /** Rows whose current text the index holds. */
  indexed: number;
  /** Rows whose text it does not hold (added or changed since it was written). */
  unindexedRows: number[];
  /** Keys it holds whose chunk is gone or changed. */
  staleKeys: number[];
}

/** Compares the index with the library's rows (`rowSeqs[row]` = that row's seq). */
export function textCoverage(index: Bm25Index, rowSeqs: Uint32Array): TextCoverage {
  let max = 0;
  for (let r = 0; r < rowSeqs.length; r++) if (rowSeqs[r] > max) max = rowSeqs[r];
  const live = new Uint8Array(max + 1);
  for (let r = 0; r < rowSeqs.length; r++) live[rowSeqs[r]] = 1;
  const staleKeys: number[] = [];
  for (const key of index.liveKeys()) if (key > max || live[key] === 0) staleKeys.push(key);
  const unindexedRows: number[] = [];
  for (let r = 0; r < rowSeqs.length; r++) if (!index.has(rowSeqs[r])) unindexedRows.push(r);
  return { indexed: rowSeqs.length - unindexedRows.length, unindexedRows, staleKeys };
}

/** Calls `each(row, text)` for every row of `rows` (ascending): how the library hands out the texts to index. */
export type TextReader = (rows: readonly number[], each: (row: number, text: string) => void) => void;

/** A TextReader over a function giving one row's text. */
export function textsBy(textOf: (row: number) => string): TextReader {
  return (rows, each) => {
    for (const r of rows) each(r, textOf(r));
  };
}

/**
 * Makes `index` hold exactly the library's current texts.
 * @param texts reads the texts of rows (only unindexed rows are asked for)
 * @returns how many texts were added and removed
 */
export function refreshTextIndex(index: Bm25Index, rowSeqs: Uint32Array, texts: TextReader): { added: number; removed: number } {
  const { unindexedRows, staleKeys } = textCoverage(index, rowSeqs);
  for (const key of staleKeys) index.remove(key);
  // Row order is seq order for appended rows: the index's keys then stay ascending (no map of them).
  texts(unindexedRows, (row, text) => index.add(rowSeqs[row], analyze(text)));
  return { added: unindexedRows.length, removed: staleKeys.length };
}
