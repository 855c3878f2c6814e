import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/domain/random.js';
import { awayFromMatches } from '../../src/index/hnsw.js';
import { SignCodes } from '../../src/index/signcodes.js';
import { VdbService } from '../../src/service/service.js';
import { tempDir } from '../helpers/cli.js';

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

describe('hnsw: a filter that every chunk matches', () => {
  it('runs the unfiltered search: the same hits and search, and explain says why', async () => {
    const tmp = tempDir();
    try {
      const svc = new VdbService({ path: join(tmp.dir, 'db.json') });
      await svc.createLibrary({ name: 'v', dim: 8, metric: 'l2', embedder: null });
      const r = seededRandom('all-match');
      await svc.addChunks('v', Array.from({ length: 400 }, (_, i) => ({ embedding: Array.from({ length: 8 }, () => r.gaussian()), metadata: { n: i } })));
      // A small beam, so a search among "matching" rows would walk differently from the plain one.
      await svc.buildIndex('v', { type: 'hnsw', params: { m: 4, ef_construction: 16, ef_search: 10 } });
      const session = await svc.querySession('v');
      try {
        for (let q = 0; q < 20; q++) {
          const embedding = Array.from({ length: 8 }, () => r.gaussian());
          const plain = await session.query({ embedding, k: 10, explain: true });
          const all = await session.query({ embedding, k: 10, where: ['n>=0'], explain: true });
          expect(all.hits).toEqual(plain.hits);
          expect(all.explain).toMatchObject({ plan: 'index', matches: 400, search: plain.explain?.search });
          expect(all.explain?.reason).toMatch(/every chunk matches, so the hnsw index searches as without a filter/);
        }
      } finally {
        await session.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('hnsw: a filter matching many entries, in a session', () => {
  it.skipIf(!SignCodes.available(16))('is scanned by sign codes once the graph is in memory, and explain names that scan', async () => {
    const tmp = tempDir();
    try {
      const svc = new VdbService({ path: join(tmp.dir, 'db.json') });
      await svc.createLibrary({ name: 'v', dim: 16, metric: 'cosine', embedder: null });
      const r = seededRandom('sign-scan');
      await svc.addChunks('v', Array.from({ length: 3000 }, (_, i) => ({ embedding: Array.from({ length: 16 }, () => r.gaussian()), metadata: { n: i } })));
      await svc.buildIndex('v', { type: 'hnsw', params: { m: 8, ef_construction: 40, ef_search: 16 } });
      const session = await svc.querySession('v');
      try {
        for (let q = 0; q < 4; q++) {
          const embedding = Array.from({ length: 16 }, () => r.gaussian());
          // 2,000 of 3,000: more than 2·48·ef (a 1-bit pass first), at most 256·ef (scanned, not walked).
          const res = await session.query({ embedding, k: 10, where: ['n<2000'], explain: true });
          expect(res.hits).toHaveLength(10);
          expect(res.hits.every((h) => (h.metadata.n as number) < 2000)).toBe(true);
          expect(res.explain?.search).toMatch(/^2,000 matching entries: scan of their 1-bit sign codes \(a 1-bit query, then a 4-bit one for the nearest [\d,]+\), the nearest [\d,]+ by int8, the nearest of 256 re-scored exactly$/);
        }
      } finally {
        await session.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
