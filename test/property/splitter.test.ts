import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSplitOptions, splitText, type Section, type SplitOptions, type TextChunk } from '../../src/text/splitter.js';
import { WORD_SOURCE, countWords } from '../../src/text/tokenizer.js';

const PIECES = ['alpha', 'be', 'c', 'délta', 'ﬁve', '東京', 'supercalifragilistic', '😀', 'x😀y', 'don’t', '3.14', '-', '(', ').', '. ', '? ', ', ', ' ', ' ', ' ', '  ', '\t', '\n', '\n\n', '\n \n', '\r\n', '\u00a0'];
const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 120 }).map((p) => p.join(''));

const options = fc.oneof(
  fc.integer({ min: 2, max: 60 }).chain((size) => fc.record({ size: fc.constant(size), overlap: fc.integer({ min: 0, max: size - 1 }), unit: fc.constant('chars' as const) })),
  fc.integer({ min: 1, max: 12 }).chain((size) => fc.record({ size: fc.constant(size), overlap: fc.integer({ min: 0, max: size - 1 }), unit: fc.constant('tokens' as const) })),
);

/** Random sections: cut points over the text, some gaps left out. */
function sectionsOf(t: string, cuts: number[], skip: boolean[]): Section[] {
  // Loaders cut between characters, never inside a surrogate pair.
  const points = [...new Set([0, ...cuts.map((c) => Math.floor(c * t.length)).map((c) => (isHigh(t, c) ? c - 1 : c)), t.length])].sort((a, b) => a - b);
  const out: Section[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    if (!skip[i]) out.push({ start: points[i], end: points[i + 1], heading: `h${i}`, path: ['top', `h${i}`] });
  }
  return out;
}

const isSpace = (ch: string) => /\s/.test(ch);
const isHigh = (t: string, i: number) => i > 0 && i < t.length && /[\ud800-\udbff]/.test(t[i - 1]) && /[\udc00-\udfff]/.test(t[i]);

/** Where the chunk after `prev` must start, by the documented overlap rule. */
function expectedStart(t: string, sec: Section, prev: TextChunk, o: SplitOptions): number {
  let p = prev.end;
  while (p < sec.end && isSpace(t[p])) p++;
  if (o.overlap === 0) return p;
  if (o.unit === 'tokens') {
    const starts: number[] = [];
    const re = new RegExp(WORD_SOURCE, 'gv');
    re.lastIndex = prev.start;
    for (let m = re.exec(t); m && m.index < prev.end; m = re.exec(t)) starts.push(m.index);
    const tail = starts.slice(Math.max(0, starts.length - o.overlap)).filter((s) => s > prev.start);
    return tail.length > 0 ? tail[0] : p;
  }
  const next = isHigh(t, p + 1) ? 2 : 1;
  for (let i = Math.max(prev.start + 1, prev.end - o.overlap, p + next - o.size); i < prev.end; i++) {
    if (!isSpace(t[i]) && isSpace(t[i - 1])) return i;
  }
  return p;
}

describe('splitter', () => {
  it('chunks cover the text, overlap as asked, stay within the size, with exact offsets', () => {
    fc.assert(
      fc.property(text, options, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), fc.array(fc.boolean(), { maxLength: 5 }), (t, o, cuts, skip) => {
        const sections = sectionsOf(t, cuts, skip);
        const chunks = [...splitText(t, o, sections)];
        sections.forEach((sec, si) => {
          const mine = chunks.filter((c) => c.section === si);
          const covered = new Uint8Array(t.length);
          mine.forEach((c, i) => {
            expect(t.slice(c.start, c.end)).toBe(c.text);
            expect(c.text.length).toBeGreaterThan(0);
            expect(c.text.trim()).toBe(c.text);
            expect(c.start).toBeGreaterThanOrEqual(sec.start);
            expect(c.end).toBeLessThanOrEqual(sec.end);
            expect(c.heading).toBe(sec.heading);
            expect(isHigh(t, c.start) || isHigh(t, c.end)).toBe(false);
            if (o.unit === 'chars') expect(c.end - c.start).toBeLessThanOrEqual(o.size);
            else expect(countWords(c.text)).toBeLessThanOrEqual(o.size);
            covered.fill(1, c.start, c.end);
            if (i > 0) {
              const prev = mine[i - 1];
              expect(c.start).toBeGreaterThan(prev.start);
              expect(c.end).toBeGreaterThan(prev.end);
              expect(c.start).toBe(expectedStart(t, sec, prev, o));
              const shared = t.slice(c.start, Math.max(c.start, prev.end));
              if (o.unit === 'chars') expect(shared.length).toBeLessThanOrEqual(o.overlap);
              else expect(countWords(shared)).toBeLessThanOrEqual(o.overlap);
            }
          });
          for (let i = sec.start; i < sec.end; i++) if (!isSpace(t[i])) expect(covered[i], `offset ${i} of ${JSON.stringify(t)}`).toBe(1);
        });
        // Nothing outside the sections, nothing across them.
        for (const c of chunks) expect(c.end).toBeLessThanOrEqual(sections[c.section].end);
      }),
      { seed: 77, numRuns: 600 },
    );
  });

  it('ends chunks at paragraphs, then sentences, then words, then cuts', () => {
    const o = { size: 40, overlap: 0, unit: 'chars' as const };
    const split = (t: string, opts: SplitOptions = o) => [...splitText(t, opts)].map((c) => c.text);
    // Two paragraphs that fit together stay together; the third starts anew.
    expect(split('One two three.\n\nFour five six.\n\nSeven eight nine ten eleven.')).toEqual(['One two three.\n\nFour five six.', 'Seven eight nine ten eleven.']);
    // A long paragraph breaks after its last sentence that fits.
    expect(split('First sentence is here. Second one is here. Third.')).toEqual(['First sentence is here.', 'Second one is here. Third.']);
    // A paragraph end that would leave the chunk under half full loses to a later sentence end.
    expect(split('Tiny.\n\nA long sentence here. Another sentence goes on and on.')).toEqual(['Tiny.\n\nA long sentence here.', 'Another sentence goes on and on.']);
    // No sentence end: the last word end; a word longer than the size is cut.
    expect(split('alpha beta gamma delta epsilon zeta eta theta iota')).toEqual(['alpha beta gamma delta epsilon zeta eta', 'theta iota']);
    expect(split('x'.repeat(90))).toEqual(['x'.repeat(40), 'x'.repeat(40), 'x'.repeat(10)]);
    // Overlap repeats whole words of the previous chunk's tail.
    expect(split('alpha beta gamma delta epsilon zeta eta theta iota', { size: 25, overlap: 11, unit: 'chars' })).toEqual([
      'alpha beta gamma delta',
      'gamma delta epsilon zeta',
      'zeta eta theta iota',
    ]);
    expect(split('a b c d e f g h', { size: 4, overlap: 2, unit: 'tokens' })).toEqual(['a b c d', 'c d e f', 'e f g h']);
  });

  it('refuses bad options', () => {
    expect(checkSplitOptions({ size: 1000, overlap: 200, unit: 'chars' })).toBeNull();
    expect(checkSplitOptions({ size: 1, overlap: 0, unit: 'chars' })).toMatch(/chunk size must be an integer from 2/);
    expect(checkSplitOptions({ size: 10, overlap: 10, unit: 'tokens' })).toMatch(/overlap must be .*\(9\)/);
    expect(checkSplitOptions({ size: 10, overlap: 0, unit: 'words' as 'chars' })).toMatch(/chars or tokens/);
    expect(() => [...splitText('abc', { size: 10, overlap: 0, unit: 'chars' }, [{ start: 2, end: 1, heading: null, path: [] }])]).toThrow(/section 0/);
  });
});
