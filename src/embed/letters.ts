/** The seed's toy embedding: counts of a..z in the lower-cased text (26 dims). */
export const LETTERS_DIM = 26;

export function embedLetters(text: string): Float32Array {
  const v = new Float32Array(LETTERS_DIM);
  const lower = text.toLowerCase();
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i) - 97;
    if (c >= 0 && c < LETTERS_DIM) v[c]++;
  }
  return v;
}
