import { describe, expect, it } from 'vitest';
import { chunkDocument } from '../../src/ingest/chunks.js';
import { parseSource, sourceOf, type Parsed } from '../../src/ingest/load.js';
import type { LoadedDocument } from '../../src/ingest/types.js';

function load(path: string, content: string, textField?: string): LoadedDocument {
  const p: Parsed = parseSource(sourceOf(path, Buffer.from(content), new Date(0)), { textField });
  if (p.kind !== 'document') throw new Error('binary');
  return p.doc;
}
const small = { size: 30, overlap: 0, unit: 'chars' as const };

describe('document chunks', () => {
  it('markdown chunks carry their heading, section path and offsets in the file', () => {
    const md = '# Guide\nIntro line.\n\n## Install\nRun npm install now. Then run it again.\n';
    const chunks = [...chunkDocument(load('g.md', md), small)];
    expect(chunks).toEqual([
      { text: '# Guide\nIntro line.', metadata: { heading: 'Guide', section: ['Guide'], start: 0, end: 19 } },
      // The line end after the heading would leave the chunk under half full: the last word end that fits wins.
      { text: '## Install\nRun npm install', metadata: { heading: 'Install', section: ['Guide', 'Install'], start: 21, end: 47 } },
      { text: 'now. Then run it again.', metadata: { heading: 'Install', section: ['Guide', 'Install'], start: 48, end: 71 } },
    ]);
    for (const c of chunks) expect(md.slice(c.metadata.start as number, c.metadata.end as number)).toBe(c.text);
  });

  it('records keep their fields and say which record each chunk came from', () => {
    const jsonl = '{"text": "short one", "lang": "en"}\n{"text": "a much longer record text that needs two chunks", "lang": "de"}\n';
    const chunks = [...chunkDocument(load('r.jsonl', jsonl), small)];
    expect(chunks.map((c) => [c.text, c.metadata])).toEqual([
      ['short one', { lang: 'en', line: 1, start: 0, end: 9 }],
      ['a much longer record text that', { lang: 'de', line: 2, start: 0, end: 30 }],
      ['needs two chunks', { lang: 'de', line: 2, start: 31, end: 47 }],
    ]);
  });

  it('refuses a record field that a chunk position would overwrite', () => {
    expect(() => [...chunkDocument(load('r.csv', 'text,start\nx,1\n'), small)]).toThrow('r.csv: row 1 has a field "start", a name ingest gives each chunk\'s position');
  });
});
