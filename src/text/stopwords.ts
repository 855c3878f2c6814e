/**
 * The English stop words left out of the full-text index and of queries:
 * Lucene's default English set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET), 33
 * words. Deliberately short: BM25's idf already makes frequent words cheap,
 * and a long list would make phrases such as "to be or not to be" unfindable.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it',
  'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these',
  'they', 'this', 'to', 'was', 'will', 'with',
]);
