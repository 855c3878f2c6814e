/**
 * HTML: the visible text, as a reader would copy it from a browser, parsed by
 * htmlparser2 (entities decoded, malformed markup tolerated). Left out: the
 * <head> (but for <title>), script, style, noscript, template, svg, math,
 * iframe, object, canvas, select options, and any element with the `hidden`
 * attribute or an inline style of display:none or visibility:hidden. Block
 * elements (p, div, li, h1-h6, table rows, …) end paragraphs; <br> ends a
 * line; other whitespace collapses to one space, except inside <pre>. h1-h6
 * start sections, as Markdown headings do. The title is <title>, else the
 * first <h1>, else the file name. Chunk offsets are offsets in this text.
 */
import { Parser } from 'htmlparser2';
import type { Section } from '../../text/splitter.js';
import type { TextUnit } from '../types.js';

const SKIPPED = new Set(['head', 'script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'canvas', 'select', 'datalist']);
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const LINE_BLOCKS = new Set(['li', 'tr', 'dt', 'dd', 'option', 'caption', 'figcaption', 'summary', 'legend']);
const PARAGRAPH_BLOCKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'details', 'dialog', 'div', 'dl', 'fieldset', 'figure', 'footer', 'form',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hgroup', 'hr', 'main', 'menu', 'nav', 'ol', 'p', 'pre', 'section', 'table', 'ul',
]);
const CELLS = new Set(['td', 'th']);
const HEADING = /^h([1-6])$/;

export function parseHtml(html: string, fallbackTitle: string): { title: string; unit: TextUnit } {
  const out = new TextBuilder();
  const sections: Section[] = [];
  const headingStack: { level: number; text: string }[] = [];
  // Open elements, with whether each hides its content.
  const open: { name: string; hides: boolean }[] = [];
  let hiddenDepth = 0;
  let preDepth = 0;
  let title: string | null = null;
  let inTitle = false;
  let titleText = '';
  let heading: { level: number; start: number } | null = null;
  let firstH1: string | null = null;

  const closeHeading = () => {
    if (heading === null) return;
    const text = out.endCapture().trim().replace(/\s+/g, ' ');
    while (headingStack.length > 0 && headingStack[headingStack.length - 1].level >= heading.level) headingStack.pop();
    headingStack.push({ level: heading.level, text });
    if (sections.length > 0) sections[sections.length - 1].end = heading.start;
    sections.push({ start: heading.start, end: -1, heading: text, path: headingStack.map((h) => h.text) });
    if (heading.level === 1 && firstH1 === null) firstH1 = text;
    heading = null;
  };

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name === 'title' && title === null) {
          inTitle = true;
          titleText = '';
        }
        const hides = SKIPPED.has(name) || 'hidden' in attribs || hidesByStyle(attribs.style);
        if (!VOID.has(name)) open.push({ name, hides });
        if (hides && !VOID.has(name)) hiddenDepth++;
        if (hiddenDepth > 0) return;
        if (name === 'br') out.breakLine(1);
        else if (name === 'pre') preDepth++;
        if (PARAGRAPH_BLOCKS.has(name)) out.breakLine(2);
        else if (LINE_BLOCKS.has(name)) out.breakLine(1);
        else if (CELLS.has(name)) out.space();
        const h = HEADING.exec(name);
        if (h && heading === null) {
          out.breakLine(2);
          out.flushBreak();
          heading = { level: Number(h[1]), start: out.size };
          out.startCapture();
        }
      },
      ontext(data) {
        if (inTitle) titleText += data;
        if (hiddenDepth > 0) return;
        out.add(data, preDepth > 0);
      },
      onclosetag(name) {
        if (name === 'title' && inTitle) {
          inTitle = false;
          title = titleText.trim().replace(/\s+/g, ' ');
        }
        if (VOID.has(name)) return;
        // Pop up to the matching element (htmlparser2 reports implied closes too).
        let i = open.length - 1;
        while (i >= 0 && open[i].name !== name) i--;
        if (i < 0) return;
        while (open.length > i) {
          const el = open.pop()!;
          if (el.hides) hiddenDepth--;
          else if (hiddenDepth === 0) {
            if (el.name === 'pre') preDepth--;
            if (HEADING.test(el.name)) closeHeading();
            if (PARAGRAPH_BLOCKS.has(el.name)) out.breakLine(2);
            else if (LINE_BLOCKS.has(el.name)) out.breakLine(1);
          }
        }
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  closeHeading();
  const text = out.text;
  if (sections.length === 0 || sections[0].start > 0) sections.unshift({ start: 0, end: sections.length ? sections[0].start : text.length, heading: null, path: [] });
  sections[sections.length - 1].end = text.length;
  return { title: title || firstH1 || fallbackTitle, unit: { text, sections, metadata: {}, locator: null } };
}

/** display:none or visibility:hidden in an inline style attribute. */
function hidesByStyle(style: string | undefined): boolean {
  if (!style) return false;
  for (const decl of style.split(';')) {
    const colon = decl.indexOf(':');
    if (colon < 0) continue;
    const prop = decl.slice(0, colon).trim().toLowerCase();
    const value = decl.slice(colon + 1).replace('!important', '').trim().toLowerCase();
    if ((prop === 'display' && value === 'none') || (prop === 'visibility' && value === 'hidden')) return true;
  }
  return false;
}

/** Visible text with collapsed whitespace and pending line breaks, emitted only before more text. */
class TextBuilder {
  private parts: string[] = [];
  private length = 0;
  private cached: string | null = '';
  private pendingBreak = 0;
  private pendingSpace = false;
  private lastChar = '';
  private capture: string[] | null = null;

  get size(): number {
    return this.length;
  }

  /** Keeps a copy of what is added from now on (a heading's text). */
  startCapture(): void {
    this.capture = [];
  }

  endCapture(): string {
    const text = this.capture?.join('') ?? '';
    this.capture = null;
    return text;
  }

  get text(): string {
    if (this.cached === null) {
      this.cached = this.parts.join('');
      this.parts = [this.cached];
    }
    return this.cached;
  }

  /** Asks for `n` newlines (1: line, 2: paragraph) before the next text. */
  breakLine(n: number): void {
    if (this.length > 0) this.pendingBreak = Math.max(this.pendingBreak, n);
    this.pendingSpace = false;
  }

  space(): void {
    if (this.length > 0 && this.pendingBreak === 0) this.pendingSpace = true;
  }

  flushBreak(): void {
    if (this.pendingBreak > 0) this.push('\n'.repeat(this.pendingBreak));
    this.pendingBreak = 0;
    this.pendingSpace = false;
  }

  add(data: string, pre: boolean): void {
    if (pre) {
      if (data.length === 0) return;
      this.flushBreak();
      if (this.pendingSpace) this.push(' ');
      this.pendingSpace = false;
      this.push(data);
      return;
    }
    const words = data.split(/[ \t\n\r\f]+/);
    const leading = words[0] === '';
    const trailing = words.length > 1 && words[words.length - 1] === '';
    const body = words.filter((w) => w !== '').join(' ');
    if (body === '') {
      if (data.length > 0 && this.length > 0 && this.pendingBreak === 0) this.pendingSpace = true;
      return;
    }
    if (this.pendingBreak > 0) this.flushBreak();
    else if ((this.pendingSpace || leading) && this.length > 0 && !/\s/.test(this.lastChar)) this.push(' ');
    this.pendingSpace = trailing;
    this.push(body);
  }

  private push(s: string): void {
    this.parts.push(s);
    this.capture?.push(s);
    this.length += s.length;
    this.lastChar = s[s.length - 1];
    this.cached = null;
  }
}
