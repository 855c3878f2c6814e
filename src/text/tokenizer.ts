/**
 * The full-text analyzer: text → the terms the BM25 index stores and queries
 * look up. The same function serves both, so a query matches what was indexed.
 *
 * 1. Words: maximal runs of Unicode letters, marks and digits (\p{L}\p{M}\p{N}),
 *    joined across one inner apostrophe (' or ’: "don't", "o'clock"). Anything
 *    else separates words: spaces, punctuation, symbols, "_", "-", "." (so
 *    "e-mail" is "e" + "mail", "3.14" is "3" + "14"). Han, Hiragana and Katakana
 *    characters, written without spaces, are one word each, as in Lucene's
 *    StandardTokenizer. Other scripts without spaces (Thai, Lao, Khmer) come out
 *    as whole runs: vdb has no dictionary segmenter. (Intl.Segmenter would have
 *    one, but is over 100× slower on long text in Node 20.)
 * 2. Lower-casing after Unicode NFKC normalisation (full-width "Ｆｕｌｌ" is
 *    "full", the ligature "ﬁ" is "fi"); ’ becomes '. Accents are kept: "café" and
 *    "cafe" are different terms.
 * 3. A trailing possessive 's is dropped ("dog's" → "dog").
 * 4. Stop words (stopwords.ts, Lucene's English set) are dropped.
 * 5. The light stemmer (stemmer.ts, Porter step 1) is applied.
 */
import { STOP_WORDS } from './stopwords.js';
import { stem } from './stemmer.js';

const NO_SPACE_SCRIPTS = String.raw`\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}`;
const RUN = String.raw`[[\p{L}\p{M}\p{N}]--[${NO_SPACE_SCRIPTS}]]+`;
/**
 * One word (step 1 above). Global and sticky-free: use with lastIndex or matchAll. ’ is written as the
 * regex's own escape \u2019: a raw template keeps the character as is, and the CLI script is kept ASCII.
 */
export const WORD_SOURCE = String.raw`[${NO_SPACE_SCRIPTS}]|${RUN}(?:['\u2019]${RUN})*`;

function wordRegExp(): RegExp {
  return new RegExp(WORD_SOURCE, 'gv');
}

/**
 * Calls `each(start, end)` for every word of text[from, to) (step 1 only:
 * before lower-casing and stop words), in order. Offsets are UTF-16 indices.
 */
export function forEachWord(text: string, each: (start: number, end: number) => void, from = 0, to = text.length): void {
  const re = wordRegExp();
  const s = from === 0 && to === text.length ? text : text.slice(from, to);
  for (let m = re.exec(s); m !== null; m = re.exec(s)) each(from + m.index, from + m.index + m[0].length);
}

/** Number of words (step 1) in text[from, to). */
export function countWords(text: string, from = 0, to = text.length): number {
  let n = 0;
  forEachWord(text, () => n++, from, to);
  return n;
}

/** The term for one word, or null for a stop word (steps 2-5). */
export function termOf(word: string): string | null {
  const known = terms.get(word);
  if (known !== undefined) return known;
  let w = ASCII.test(word) ? word.toLowerCase() : word.normalize('NFKC').toLowerCase().replaceAll('’', "'");
  if (w.endsWith("'s")) w = w.slice(0, -2);
  const term = w.length === 0 || STOP_WORDS.has(w) ? null : stem(w);
  // Words repeat (Zipf): most are looked up, not stemmed again. Bounded, as a vocabulary need not be.
  if (terms.size >= TERM_CACHE) terms.clear();
  terms.set(word, term);
  return term;
}

const ASCII = /^[\x00-\x7f]*$/;
const TERM_CACHE = 1 << 16;
const terms = new Map<string, string | null>();

/** The terms of `text`, in order, repeats kept (steps 1-5). */
export function analyze(text: string): string[] {
  const out: string[] = [];
  if (ASCII.test(text)) {
    asciiWords(text, (start, end) => {
      const term = termOf(text.slice(start, end));
      if (term !== null) out.push(term);
    });
    return out;
  }
  const re = wordRegExp();
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const term = termOf(m[0]);
    if (term !== null) out.push(term);
  }
  return out;
}

/**
 * Step 1 on ASCII text, without the regular expression (several times
 * faster): there \p{L}\p{M}\p{N} are exactly A-Z, a-z and 0-9, and the only
 * apostrophe is '.
 */
function asciiWords(text: string, each: (start: number, end: number) => void): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && !isAlnum(text.charCodeAt(i))) i++;
    if (i >= n) return;
    const start = i;
    for (;;) {
      while (i < n && isAlnum(text.charCodeAt(i))) i++;
      // One inner apostrophe joins two runs.
      if (i + 1 < n && text.charCodeAt(i) === 39 && isAlnum(text.charCodeAt(i + 1))) i++;
      else break;
    }
    each(start, i);
  }
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}
