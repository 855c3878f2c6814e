import { describe, expect, it } from 'vitest';
import { parseSource, sourceOf, formatOf, parseFormat, type Parsed } from '../../src/ingest/load.js';
import { decodeText, looksBinary } from '../../src/ingest/decode.js';
import { splitText } from '../../src/text/splitter.js';
import type { LoadedDocument } from '../../src/ingest/types.js';

const MTIME = new Date('2026-01-02T03:04:05Z');
function load(path: string, content: string | Buffer, options: Parameters<typeof parseSource>[1] = {}): LoadedDocument {
  const parsed: Parsed = parseSource(sourceOf(path, Buffer.isBuffer(content) ? content : Buffer.from(content), MTIME), options);
  if (parsed.kind !== 'document') throw new Error('binary');
  return parsed.doc;
}
const headingsOf = (d: LoadedDocument) => d.units[0].sections.map((s) => [s.heading, s.path.join(' > '), d.units[0].text.slice(s.start, s.end)]);

describe('loaders', () => {
  it('plain text: the whole file, with per-file metadata', () => {
    const d = load('notes/a.txt', 'hello\nworld\n');
    expect(d.meta).toEqual({
      path: 'notes/a.txt', title: 'a', size: 12, mtime: '2026-01-02T03:04:05.000Z', format: 'text',
      // sha256sum of the same 12 bytes
      sha256: '4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92',
    });
    expect(d.units).toEqual([{ text: 'hello\nworld\n', sections: [{ start: 0, end: 12, heading: null, path: [] }], metadata: {}, locator: null }]);
    // A UTF-8 byte-order mark is not text.
    expect(load('b.txt', Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69])).units[0].text).toBe('hi');
  });

  it('markdown: headings as sections with their paths, front matter as metadata, code fences ignored', () => {
    const md = ['---', 'title: "The Guide"', 'tags: [a]', '---', 'Intro text.', '', '# Install', 'Run it.', '', '```sh', '# not a heading', '```', '## From npm  ##', 'npm i', 'Usage', '=====', 'Use it.', ''].join('\n');
    const d = load('guide.md', md);
    expect(d.meta.title).toBe('The Guide');
    expect(d.meta.format).toBe('markdown');
    expect(headingsOf(d)).toEqual([
      [null, '', 'Intro text.\n\n'],
      ['Install', 'Install', '# Install\nRun it.\n\n```sh\n# not a heading\n```\n'],
      ['From npm', 'Install > From npm', '## From npm  ##\nnpm i\n'],
      ['Usage', 'Usage', 'Usage\n=====\nUse it.\n'],
    ]);
    // Offsets are offsets in the file's text, so chunks can be cut back out of the file.
    for (const c of splitText(md, { size: 20, overlap: 5, unit: 'chars' }, d.units[0].sections)) expect(md.slice(c.start, c.end)).toBe(c.text);
    expect(load('x.md', 'Title\n---\nbody').meta.title).toBe('Title');
    expect(load('y.markdown', 'no headings').meta.title).toBe('y');
  });

  it('html: visible text only, blocks as paragraphs, headings as sections', () => {
    const html = `<!doctype html><html><head><title> My  Page </title><style>p{color:red}</style><script>var x = "<p>no</p>";</script></head>
      <body><nav hidden>menu</nav><h1>Main &amp; only</h1><p>First   para
      with <b>bold</b> text.</p><div style="display: none">secret</div><h2>Sub</h2><ul><li>one</li><li>two</li></ul>
      <p>Line<br>break</p><pre>  keep   this
  as is</pre><table><tr><td>a</td><td>b</td></tr></table><noscript>no js</noscript><template>tpl</template></body></html>`;
    const d = load('site/page.html', html);
    expect(d.meta.title).toBe('My Page');
    const text = d.units[0].text;
    expect(text).toBe('Main & only\n\nFirst para with bold text.\n\nSub\n\none\ntwo\n\nLine\nbreak\n\n  keep   this\n  as is\n\na b');
    expect(headingsOf(d).map(([h, p]) => [h, p])).toEqual([
      ['Main & only', 'Main & only'],
      ['Sub', 'Main & only > Sub'],
    ]);
    expect(load('t.htm', '<p>no title</p><h1>Head</h1>').meta.title).toBe('Head');
    expect(load('u.html', '<p>x</p>').units[0].sections).toEqual([{ start: 0, end: 1, heading: null, path: [] }]);
  });

  it('json and json lines: one unit per record, other fields as metadata', () => {
    const d = load('data.json', JSON.stringify([{ text: 'a', lang: 'en', n: 1 }, 'bare', { body: 'x', text: 'b', nested: { k: [1] } }]));
    expect(d.units.map((u) => [u.text, u.metadata, u.locator])).toEqual([
      ['a', { lang: 'en', n: 1 }, { record: 0 }],
      ['bare', {}, { record: 1 }],
      ['b', { body: 'x', nested: { k: [1] } }, { record: 2 }],
    ]);
    expect(load('one.json', '{"text": "solo", "id": 7}').units[0].metadata).toEqual({ id: 7 });
    const l = load('d.ndjson', '{"body": "x", "id": 1}\n\n{"body": "y", "id": 2}\n', { textField: 'body' });
    expect(l.meta.format).toBe('jsonl');
    expect(l.units.map((u) => [u.text, u.metadata, u.locator])).toEqual([
      ['x', { id: 1 }, { line: 1 }],
      ['y', { id: 2 }, { line: 3 }],
    ]);
    expect(() => load('bad.jsonl', '{"text": "ok"}\n{"text": 3}\n')).toThrow('bad.jsonl: line 2: a number field "text", expected a string');
    expect(() => load('bad.jsonl', '{"text": "ok"}\n{oops\n')).toThrow(/bad.jsonl: line 2: not valid JSON/);
    expect(() => load('bad.json', '[{"title": "t"}]')).toThrow('bad.json: record 0: no field "text", expected a string');
    expect(() => load('bad.json', '[1]')).toThrow(/record 0: a record must be an object or a string, got number/);
  });

  it('csv and tsv: a header row, the text column, other columns as metadata', () => {
    const d = load('t.csv', 'id,text,lang\n1,"hello, world",en\n2,"multi\nline ""quoted""",de\n');
    expect(d.units.map((u) => [u.text, u.metadata, u.locator])).toEqual([
      ['hello, world', { id: '1', lang: 'en' }, { row: 1 }],
      ['multi\nline "quoted"', { id: '2', lang: 'de' }, { row: 2 }],
    ]);
    expect(load('t.tsv', 'body\tn\nx y\t1\n', { textField: 'body' }).units[0]).toMatchObject({ text: 'x y', metadata: { n: '1' } });
    expect(() => load('t.csv', 'a,b\n1,2\n')).toThrow('t.csv: no column "text" (columns: a, b)');
    expect(() => load('t.csv', 'text,b\n"1,2\n')).toThrow(/t.csv: not valid CSV/);
  });

  it('decoding: UTF-16 with a byte-order mark, undecodable bytes named by line, binary files', () => {
    expect(decodeText(Buffer.from([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00]), 'u16.txt')).toBe('hé');
    expect(() => decodeText(Buffer.from('ok\nstill ok\ncaf\xe9\n', 'latin1'), 'latin1.txt')).toThrow('latin1.txt: not valid UTF-8 (line 3, byte 15)');
    expect(() => load('x.md', Buffer.from([0x61, 0xc3, 0x28]))).toThrow(/x.md: not valid UTF-8 \(line 1, byte 1\)/);
    expect(looksBinary(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]))).toBe(true);
    expect(parseSource(sourceOf('img.png', Buffer.from([0x89, 0x00]), MTIME))).toEqual({ kind: 'binary' });
    expect(looksBinary(Buffer.from([0xff, 0xfe, 0x68, 0x00]))).toBe(false);
  });

  it('formats by extension, or as asked', () => {
    expect(['a.MD', 'b.htm', 'c.json', 'd.jsonl', 'e.csv', 'f.tsv', 'g.py', 'Makefile'].map(formatOf)).toEqual(['markdown', 'html', 'json', 'jsonl', 'csv', 'tsv', 'text', 'text']);
    expect(load('notes.txt', '# Heading\nbody', { format: 'markdown' }).units[0].sections[0].heading).toBe('Heading');
    expect(() => parseFormat('pdf')).toThrow(/unknown format "pdf"/);
  });
});
