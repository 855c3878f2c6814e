/**
 * Markdown: the file's text as it is (markup kept, so offsets are exact), cut
 * into sections at its headings: ATX (`# Title` … `###### Title`, closing #s
 * dropped) and setext (a line underlined with === or ---), by CommonMark's
 * rules for where a heading may start (at most 3 spaces of indent, not inside
 * a fenced code block, a setext underline only under a paragraph line). Each
 * section runs from its heading line to the next heading; text before the
 * first heading is a section without one. A section's path is its enclosing
 * headings by level. YAML front matter (a first line `---` up to a line `---`
 * or `...`) is metadata, not text: it is in no section, and its `title:` line,
 * if any, is the title. Otherwise the title is the first level-1 heading, else
 * the first heading, else the file name.
 */
import type { Section } from '../../text/splitter.js';
import type { TextUnit } from '../types.js';

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+|$)(.*)$/;
const ATX_CLOSE = /(?:^|[ \t]+)#+[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const FRONT_MATTER_END = /^(?:---|\.\.\.)[ \t]*$/;
const FRONT_MATTER_TITLE = /^title:[ \t]*(.*?)[ \t]*$/;

interface Line {
  start: number;
  end: number;
  text: string;
}

export function parseMarkdown(text: string, fallbackTitle: string): { title: string; unit: TextUnit } {
  const lines = splitLines(text);
  let first = 0;
  let fmTitle: string | null = null;
  if (lines.length > 0 && /^---[ \t]*$/.test(lines[0].text)) {
    const close = lines.findIndex((l, i) => i > 0 && FRONT_MATTER_END.test(l.text));
    if (close > 0) {
      first = close + 1;
      for (const l of lines.slice(1, close)) {
        const m = FRONT_MATTER_TITLE.exec(l.text);
        if (m) fmTitle = unquote(m[1]);
      }
    }
  }
  const headings: { line: number; level: number; text: string }[] = [];
  let fence: { char: string; length: number } | null = null;
  let paragraphLine = false;
  for (let i = first; i < lines.length; i++) {
    const t = lines[i].text;
    if (fence !== null) {
      const m = FENCE.exec(t);
      if (m && m[1][0] === fence.char && m[1].length >= fence.length && m[2].trim() === '') fence = null;
      continue;
    }
    const f = FENCE.exec(t);
    // A backtick fence's info string may not hold a backtick.
    if (f && !(f[1][0] === '`' && f[2].includes('`'))) {
      fence = { char: f[1][0], length: f[1].length };
      paragraphLine = false;
      continue;
    }
    const atx = ATX.exec(t);
    if (atx) {
      headings.push({ line: i, level: atx[1].length, text: atx[2].replace(ATX_CLOSE, '').trim() });
      paragraphLine = false;
      continue;
    }
    const setext = SETEXT.exec(t);
    if (setext && paragraphLine) {
      // The heading is the paragraph line above; a multi-line paragraph's earlier lines stay in the section before.
      headings.push({ line: i - 1, level: setext[1][0] === '=' ? 1 : 2, text: lines[i - 1].text.trim() });
      paragraphLine = false;
      continue;
    }
    paragraphLine = t.trim() !== '' && !/^ {4,}|^\t/.test(t) ;
  }

  const bodyStart = first < lines.length ? lines[first].start : text.length;
  const sections: Section[] = [];
  const stack: { level: number; text: string }[] = [];
  if (headings.length === 0 || lines[headings[0].line].start > bodyStart) {
    sections.push({ start: bodyStart, end: headings.length ? lines[headings[0].line].start : text.length, heading: null, path: [] });
  }
  headings.forEach((h, i) => {
    while (stack.length > 0 && stack[stack.length - 1].level >= h.level) stack.pop();
    stack.push({ level: h.level, text: h.text });
    const end = i + 1 < headings.length ? lines[headings[i + 1].line].start : text.length;
    sections.push({ start: lines[h.line].start, end, heading: h.text, path: stack.map((s) => s.text) });
  });
  const title = fmTitle || headings.find((h) => h.level === 1)?.text || headings[0]?.text || fallbackTitle;
  return { title, unit: { text, sections, metadata: {}, locator: null } };
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    out.push({ start, end, text: text.slice(start, end) });
    start = nl + 1;
  }
  return out;
}

function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/.exec(s);
  return m ? m[2] : s;
}
