import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stem } from '../../src/text/stemmer.js';
import { analyze, countWords, forEachWord } from '../../src/text/tokenizer.js';

describe('stemmer (Porter step 1)', () => {
  // Porter's own examples for steps 1a, 1b and 1c.
  it.each([
    ['caresses', 'caress'], ['ponies', 'poni'], ['ties', 'ti'], ['caress', 'caress'], ['cats', 'cat'],
    ['feed', 'feed'], ['agreed', 'agree'], ['plastered', 'plaster'], ['bled', 'bled'], ['motoring', 'motor'], ['sing', 'sing'],
    ['conflated', 'conflate'], ['troubled', 'trouble'], ['sized', 'size'], ['hopping', 'hop'], ['tanned', 'tan'],
    ['falling', 'fall'], ['hissing', 'hiss'], ['fizzed', 'fizz'], ['failing', 'fail'], ['filing', 'file'],
    ['happy', 'happi'], ['sky', 'sky'], ['is', 'is'], ['naïve', 'naïve'],
  ])('%s → %s', (word, want) => expect(stem(word)).toBe(want));
});

describe('analyzer', () => {
  it('lower-cases, splits on Unicode word boundaries, drops stop words and stems', () => {
    expect(analyze("The dogs' owner's CATS are running; Don’t e-mail café 東京 3.14 Ｆｕｌｌ")).toEqual([
      'dog', 'owner', 'cat', 'run', "don't", 'e', 'mail', 'café', '東', '京', '3', '14', 'full',
    ]);
    expect(analyze('to be or not to be')).toEqual([]);
    expect(analyze('')).toEqual([]);
  });

  it('reads ASCII text as the general rules do (its fast path)', () => {
    const ascii = fc.string({ unit: fc.constantFrom(...'aZ09 \'-._,\n\tTheS'.split(''), 'the', "'s", 'ing', 'ies') });
    fc.assert(
      fc.property(ascii, (t) => {
        const words: string[] = [];
        forEachWord(t, (s, e) => words.push(t.slice(s, e)));
        const general = words.map((w) => w.toLowerCase().replace(/'s$/, '')).filter((w) => w !== '' && !['the', 'a', 'is'].includes(w));
        expect(analyze(t).length).toBeLessThanOrEqual(general.length);
        // The same words through the general (non-ASCII) path: a non-ASCII separator changes no word.
        expect(analyze(t)).toEqual(analyze(`${t}\u00a0`));
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('gives word offsets into the text', () => {
    const text = 'Hi, wörld! x_y';
    const spans: string[] = [];
    forEachWord(text, (s, e) => spans.push(`${text.slice(s, e)}@${s}`));
    expect(spans).toEqual(['Hi@0', 'wörld@4', 'x@11', 'y@13']);
    expect(countWords(text, 4, 12)).toBe(2);
  });
});
