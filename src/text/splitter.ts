/**
 * The recursive splitter: a document's text → chunks of at most `size`
 * characters or tokens, each with its exact offsets and its section.
 *
 * Sections (a Markdown or HTML file's headings, from its loader) are hard
 * boundaries: a chunk never spans two, so each chunk has one heading. Inside a
 * section each chunk ends at the last paragraph end (before a blank line) that
 * fits, if that leaves the chunk at least half full; otherwise at the last
 * sentence end (Unicode sentence boundaries, Intl.Segmenter; line breaks end
 * sentences too) that does; otherwise at the last word end (words are runs of
 * non-whitespace) that does; otherwise at the last word end that fits at all;
 * and a single word longer than the size is cut (between characters, never
 * inside a surrogate pair; in token mode after a token).
 *
 * Overlap: a chunk that follows another in the same section starts at the
 * first word start (token start, in token mode) inside the last `overlap`
 * units of the one before, never at that one's own start, so each chunk adds
 * new text and none is contained in its predecessor. No word start in that
 * stretch: no overlap.
 *
 * Normalisation: chunks neither start nor end with whitespace, so whitespace
 * between chunks belongs to none; every other character of the text is in at
 * least one chunk, and text.slice(start, end) === chunk.text exactly. Offsets
 * and `chars` sizes are UTF-16 code units (JavaScript string indices). Tokens
 * are the analyzer's words (tokenizer.ts step 1, stop words included).
 */
import { checkSplitOptions, SPLIT_DEFAULTS } from './split-options.js';
import type { SplitOptions } from './split-options.js';
import { WORD_SOURCE } from './tokenizer.js';

export { checkSplitOptions, SPLIT_DEFAULTS, SPLIT_LIMITS } from './split-options.js';
export type { SizeUnit, SplitOptions } from './split-options.js';

export interface Section {
  start: number;
  end: number;
  /** The innermost heading, or null before the first. */
  heading: string | null;
  /** Headings from the outermost down to `heading`. */
  path: string[];
}

export interface TextChunk {
  start: number;
  end: number;
  text: string;
  /** Index of its section in the sections given (0 without sections). */
  section: number;
  heading: string | null;
  path: string[];
}

/**
 * Splits `text` into chunks, in order.
 * @param sections ascending, non-overlapping ranges of text; text outside them
 *   is not chunked. Default: the whole text, no heading.
 * @throws Error on invalid options or sections
 */
export function* splitText(text: string, options: SplitOptions = SPLIT_DEFAULTS, sections?: readonly Section[]): Generator<TextChunk> {
  const problem = checkSplitOptions(options);
  if (problem !== null) throw new Error(problem);
  const list = sections ?? [{ start: 0, end: text.length, heading: null, path: [] }];
  let prevEnd = 0;
  for (let i = 0; i < list.length; i++) {
    const sec = list[i];
    if (!(Number.isInteger(sec.start) && Number.isInteger(sec.end) && prevEnd <= sec.start && sec.start <= sec.end && sec.end <= text.length)) {
      throw new Error(`section ${i} [${sec.start}, ${sec.end}) is out of order or outside the text`);
    }
    prevEnd = sec.end;
    const splitter = new SectionSplitter(text, sec.start, sec.end, options);
    for (const [start, end] of splitter.run()) {
      yield { start, end, text: text.slice(start, end), section: i, heading: sec.heading, path: sec.path };
    }
  }
}

// Context given to the sentence segmenter around the part of a window it
// searches, so boundaries there are decided as they would be on the whole text.
const SENTENCE_LOOKAHEAD = 256;
const SENTENCE_LOOKBEHIND = 64;
// Made on first use: building it loads ICU data, which a process that never splits should not pay for.
let sentences: Intl.Segmenter | undefined;
const BLANK_LINE = /\n[^\S\n]*\n/g;

class SectionSplitter {
  private readonly words = new RegExp(WORD_SOURCE, 'gv');
  // Token mode: starts and ends of the tokens from the current chunk's start.
  private tokStarts: number[] = [];
  private tokEnds: number[] = [];
  private readonly gap = { from: Infinity, at: -1 };

  constructor(
    private readonly text: string,
    private readonly from: number,
    private readonly to: number,
    private readonly o: SplitOptions,
  ) {}

  *run(): Generator<[number, number]> {
    const end = this.trimEnd(this.to, this.from);
    let p = this.skipSpace(this.from);
    let s = p;
    while (p < end) {
      const limit = this.limit(s);
      let e: number;
      if (limit >= end) e = end;
      else e = this.chooseEnd(s, p, limit);
      yield [s, e];
      const next = this.skipSpace(e);
      if (next >= end) return;
      s = this.overlapStart(s, e, next);
      p = next;
    }
  }

  /** The furthest offset a chunk starting at s may end at. */
  private limit(s: number): number {
    if (this.o.unit === 'chars') return Math.min(this.to, s + this.o.size);
    const starts: number[] = (this.tokStarts = []);
    const ends: number[] = (this.tokEnds = []);
    const re = this.words;
    re.lastIndex = s;
    for (let m = re.exec(this.text); m !== null && m.index < this.to; m = re.exec(this.text)) {
      if (starts.length === this.o.size) return m.index;
      starts.push(m.index);
      ends.push(Math.min(this.to, m.index + m[0].length));
    }
    return this.to;
  }

  /** Size of text[s, e) in the unit. */
  private measure(s: number, e: number): number {
    if (this.o.unit === 'chars') return e - s;
    let n = 0;
    while (n < this.tokStarts.length && this.tokStarts[n] < e) n++;
    return n;
  }

  private chooseEnd(s: number, p: number, limit: number): number {
    const half = this.o.size / 2;
    const useful = this.halfPoint(s, half);
    let best = -1;
    for (const b of [this.paragraphEnd(p, limit), this.sentenceEnd(p, limit, useful), this.wordEnd(p, limit)]) {
      if (b < 0) continue;
      if (this.measure(s, b) >= half) return b;
      best = Math.max(best, b);
    }
    if (best > p) return best;
    return this.cut(limit);
  }

  /** The least end b with measure(s, b) >= half (or past it: a lower bound is enough). */
  private halfPoint(s: number, half: number): number {
    if (this.o.unit === 'chars') return s + Math.ceil(half);
    const i = Math.ceil(half) - 1;
    return i < this.tokStarts.length ? this.tokStarts[i] + 1 : this.to;
  }

  /** A cut inside a word too long to fit. */
  private cut(limit: number): number {
    if (this.o.unit === 'tokens') {
      // The size-th token from s ends after p: fewer than size tokens precede p.
      return this.tokEnds[this.tokEnds.length - 1];
    }
    // overlapStart left room for the code point at p, so this stays past p.
    const e = limit;
    return isHighSurrogate(this.text.charCodeAt(e - 1)) && isLowSurrogate(this.text.charCodeAt(e)) ? e - 1 : e;
  }

  /** The last paragraph end in (p, limit], or -1. */
  private paragraphEnd(p: number, limit: number): number {
    let best = -1;
    for (let g = this.nextGap(p); g >= 0 && g < limit; g = this.nextGap(g + 1)) {
      const b = this.trimEnd(g, p);
      if (b > p && b <= limit) best = b;
    }
    return best;
  }

  /**
   * Where the first blank line at or after q starts (its first "\n"), or -1.
   * Queries move forward, so the last answer is kept: the text is searched
   * once in all, not once per chunk.
   */
  private nextGap(q: number): number {
    const c = this.gap;
    if (c.from <= q && (c.at >= q || c.at < 0)) return c.at;
    const re = BLANK_LINE;
    re.lastIndex = q;
    const m = re.exec(this.text);
    c.from = q;
    c.at = m !== null && m.index < this.to ? m.index : -1;
    return c.at;
  }

  /**
   * The last sentence end in (p, limit] at or past `useful` (earlier ones
   * never win: see chooseEnd), or -1. A line break ends a sentence (Unicode
   * rule SB4) and nothing before it affects later boundaries, so the
   * segmenter only sees the window's last line, and not much of it before
   * `useful`: on long text it is the splitter's slowest part.
   */
  private sentenceEnd(p: number, limit: number, useful: number): number {
    let lineStart = limit;
    while (lineStart > p && this.text.charCodeAt(lineStart - 1) !== 10) lineStart--;
    let best = lineStart > p ? this.trimEnd(lineStart, p) : -1;
    if (best <= p) best = -1;
    const from = Math.max(lineStart, p, useful - SENTENCE_LOOKBEHIND);
    const sliceEnd = Math.min(this.to, limit + SENTENCE_LOOKAHEAD);
    const slice = this.text.slice(from, sliceEnd);
    for (const seg of (sentences ??= new Intl.Segmenter('en', { granularity: 'sentence' })).segment(slice)) {
      const segEnd = from + seg.index + seg.segment.length;
      // The slice's own end is no boundary unless it is the section's.
      if (segEnd === sliceEnd && sliceEnd < this.to) break;
      const b = this.trimEnd(segEnd, p);
      if (b > limit) break;
      if (b > p && b > best) best = b;
    }
    return best;
  }

  /** The last word end in (p, limit], or -1. */
  private wordEnd(p: number, limit: number): number {
    let i = limit;
    if (i < this.to && !this.isSpace(i)) while (i > p && !this.isSpace(i - 1)) i--;
    i = this.trimEnd(i, p);
    return i > p ? i : -1;
  }

  /** Where the chunk after [s, e) starts, its new text starting at p. */
  private overlapStart(s: number, e: number, p: number): number {
    const ov = this.o.overlap;
    if (ov === 0) return p;
    if (this.o.unit === 'tokens') {
      // The chunk's tokens are tokStarts[0, first).
      let first = 0;
      while (first < this.tokStarts.length && this.tokStarts[first] < e) first++;
      let k = Math.max(0, first - ov);
      if (k < first && this.tokStarts[k] <= s) k++;
      return k < first ? this.tokStarts[k] : p;
    }
    // The first code point after p must still fit.
    const next = isHighSurrogate(this.text.charCodeAt(p)) && isLowSurrogate(this.text.charCodeAt(p + 1)) ? 2 : 1;
    for (let i = Math.max(s + 1, e - ov, p + next - this.o.size); i < e; i++) {
      if (!this.isSpace(i) && this.isSpace(i - 1)) return i;
    }
    return p;
  }

  private skipSpace(i: number): number {
    while (i < this.to && this.isSpace(i)) i++;
    return i;
  }

  /** i moved back over whitespace, not below lo. */
  private trimEnd(i: number, lo: number): number {
    while (i > lo && this.isSpace(i - 1)) i--;
    return i;
  }

  private isSpace(i: number): boolean {
    const c = this.text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) return true;
    if (c < 128) return false;
    return SPACE.test(this.text[i]);
  }
}

const SPACE = /\s/;

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
