import { describe, expect, it } from 'vitest';
import { awayFromMatches } from '../../src/index/hnsw.js';

describe('hnsw: a filter taken for correlated with the vectors', () => {
  it('needs a shortfall near the query beyond chance, not a small unlucky neighbourhood', () => {
    // 20 % overall; 300 neighbours would hold 60 matches. 44 is under three quarters of that, but within 3 sd (6.9).
    expect(awayFromMatches({ seen: 300, hit: 44 }, 0.2)).toBe(false);
    expect(awayFromMatches({ seen: 300, hit: 30 }, 0.2)).toBe(true);
    // A region of 10 % with 5 % of a 700-node neighbourhood (synth100k's cluster-correlated filter): 35 of 71.
    expect(awayFromMatches({ seen: 700, hit: 35 }, 0.1)).toBe(true);
    // Near the query as common as overall, or more: never.
    expect(awayFromMatches({ seen: 700, hit: 70 }, 0.1)).toBe(false);
    expect(awayFromMatches({ seen: 700, hit: 700 }, 0.1)).toBe(false);
    expect(awayFromMatches({ seen: 0, hit: 0 }, 0.1)).toBe(false);
  });
});
