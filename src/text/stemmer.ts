/**
 * A light English stemmer: step 1 of Porter's algorithm (M.F. Porter, "An
 * algorithm for suffix stripping", 1980), i.e. plurals (1a), -ed/-ing (1b) and
 * a final y after a vowel-bearing stem (1c). It conflates "cats"/"cat",
 * "ponies"/"pony", "running"/"run", "agreed"/"agree" and leaves derivational
 * suffixes (-ation, -ness, -ful) alone, so it merges fewer unrelated words than
 * full Porter. Only words of ASCII letters a-z longer than 2 are stemmed;
 * anything else is returned as it is.
 */
export function stem(word: string): string {
  if (word.length <= 2 || !ASCII_LOWER.test(word)) return word;
  return step1c(step1b(step1a(word)));
}

const ASCII_LOWER = /^[a-z]+$/;

function isConsonant(w: string, i: number): boolean {
  const c = w.charCodeAt(i);
  // a e i o u
  if (c === 97 || c === 101 || c === 105 || c === 111 || c === 117) return false;
  // y is a consonant at the start or after a vowel, a vowel after a consonant.
  if (c === 121) return i === 0 || !isConsonant(w, i - 1);
  return true;
}

/** m in Porter's [C](VC)^m[V], over w[0..end). */
function measure(w: string, end: number): number {
  let m = 0;
  let i = 0;
  while (i < end && isConsonant(w, i)) i++;
  while (i < end) {
    while (i < end && !isConsonant(w, i)) i++;
    if (i >= end) break;
    while (i < end && isConsonant(w, i)) i++;
    m++;
  }
  return m;
}

function hasVowel(w: string, end: number): boolean {
  for (let i = 0; i < end; i++) if (!isConsonant(w, i)) return true;
  return false;
}

/** *d: the stem ends in a double consonant. */
function endsDoubleConsonant(w: string): boolean {
  const n = w.length;
  return n >= 2 && w[n - 1] === w[n - 2] && isConsonant(w, n - 1);
}

/** *o: the stem ends consonant-vowel-consonant, the last not w, x or y. */
function endsCvc(w: string): boolean {
  const n = w.length;
  if (n < 3 || !isConsonant(w, n - 1) || isConsonant(w, n - 2) || !isConsonant(w, n - 3)) return false;
  const last = w[n - 1];
  return last !== 'w' && last !== 'x' && last !== 'y';
}

function step1a(w: string): string {
  if (w.endsWith('sses')) return w.slice(0, -2);
  if (w.endsWith('ies')) return w.slice(0, -2);
  if (w.endsWith('ss')) return w;
  if (w.endsWith('s')) return w.slice(0, -1);
  return w;
}

function step1b(w: string): string {
  if (w.endsWith('eed')) return measure(w, w.length - 3) > 0 ? w.slice(0, -1) : w;
  let stemmed: string;
  if (w.endsWith('ed') && hasVowel(w, w.length - 2)) stemmed = w.slice(0, -2);
  else if (w.endsWith('ing') && hasVowel(w, w.length - 3)) stemmed = w.slice(0, -3);
  else return w;
  if (stemmed.endsWith('at') || stemmed.endsWith('bl') || stemmed.endsWith('iz')) return stemmed + 'e';
  if (endsDoubleConsonant(stemmed)) {
    const last = stemmed[stemmed.length - 1];
    return last === 'l' || last === 's' || last === 'z' ? stemmed : stemmed.slice(0, -1);
  }
  if (measure(stemmed, stemmed.length) === 1 && endsCvc(stemmed)) return stemmed + 'e';
  return stemmed;
}

function step1c(w: string): string {
  return w.endsWith('y') && hasVowel(w, w.length - 1) ? w.slice(0, -1) + 'i' : w;
}
