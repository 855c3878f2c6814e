/**
 * Terminal tables, fitted to the terminal's width. Linear in the number of
 * cells (cli-table3 lays out rows in quadratic time: 8,000 rows took 37 s).
 *
 *   ┌────┬──────────────┐
 *   │ id │ text         │     one space of padding each side of a cell,
 *   ├────┼──────────────┤     no rule between body rows
 *   │ a  │ hello wor…   │     flexible columns give up width first: cut
 *   └────┴──────────────┘     with … (or wrapped over lines with wrap: true)
 */

export interface TableLayout {
  /** Total width to fit in, in terminal cells (process.stdout.columns). */
  width: number;
  /** Columns that shrink when the table is too wide, the first one first; the others keep their width. */
  flex: number[];
  /** Wrap flexible cells over several lines instead of cutting them. */
  wrap: boolean;
  /** Styles the header cells (bold), given the padded text. */
  head?: (text: string) => string;
}

/** A flexible column keeps at least this many cells while others can still give. */
const MIN_FLEX = 12;

/** Renders the table (no header row with `head` null); cells are flattened to one line (whitespace runs become one space). */
export function renderTable(head: string[] | null, rows: string[][], layout: TableLayout): string {
  const cells = rows.map((r) => r.map(flatten));
  const widths = (head ?? rows[0] ?? []).map((h) => (head ? displayWidth(h) : 0));
  for (const r of cells) for (let c = 0; c < r.length; c++) widths[c] = Math.max(widths[c], displayWidth(r[c]));
  fit(widths, layout);

  const rule = (l: string, m: string, r: string) => `${l}${widths.map((w) => '─'.repeat(w + 2)).join(m)}${r}\n`;
  const flex = new Set(layout.flex);
  const line = (r: string[], style?: (s: string) => string) => {
    const parts = r.map((cell, c) => (layout.wrap && flex.has(c) ? wrapCell(cell, widths[c]) : [cut(cell, widths[c])]));
    const height = Math.max(...parts.map((p) => p.length));
    let out = '';
    for (let i = 0; i < height; i++) {
      const padded = parts.map((p, c) => {
        const text = p[i] ?? '';
        const cell = ` ${text}${' '.repeat(widths[c] - displayWidth(text))} `;
        return style ? style(cell) : cell;
      });
      out += `│${padded.join('│')}│\n`;
    }
    return out;
  };
  let out = rule('┌', '┬', '┐') + (head ? line(head.map(flatten), layout.head) + rule('├', '┼', '┤') : '');
  for (const r of cells) out += line(r);
  return out + rule('└', '┴', '┘');
}

/** Shrinks the flexible columns, first listed first, until the table fits (or they are all at 1). */
function fit(widths: number[], layout: TableLayout): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + 3 * widths.length + 1;
  for (const floor of [MIN_FLEX, 1]) {
    for (const c of layout.flex) {
      const over = total() - layout.width;
      if (over <= 0) return;
      widths[c] = Math.max(Math.min(widths[c], floor), widths[c] - over);
    }
  }
}

function flatten(s: string): string {
  return s.replace(/\s+/g, ' ');
}

/** The longest prefix that fits in `width` cells, with … when cut. */
function cut(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Lines of at most `width` cells, broken at spaces where a word fits, else inside the word. */
function wrapCell(s: string, width: number): string[] {
  const lines: string[] = [];
  let lineText = '';
  let lineWidth = 0;
  for (const word of s.split(' ')) {
    const ww = displayWidth(word);
    if (lineWidth > 0 && lineWidth + 1 + ww <= width) {
      lineText += ` ${word}`;
      lineWidth += 1 + ww;
      continue;
    }
    if (lineWidth > 0) lines.push(lineText);
    lineText = '';
    lineWidth = 0;
    for (const ch of word) {
      const cw = charWidth(ch.codePointAt(0)!);
      if (lineWidth + cw > width && lineWidth > 0) {
        lines.push(lineText);
        lineText = '';
        lineWidth = 0;
      }
      lineText += ch;
      lineWidth += cw;
    }
  }
  lines.push(lineText);
  return lines;
}

/** Terminal cells taken by a string: wide East Asian and emoji characters take 2, combining marks 0. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.includes('\u001b') ? s.replace(ANSI, '') : s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** Colour escapes (chalk's) take no cells. */
const ANSI = /\u001b\[[0-9;]*m/g;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}\u200b\ufe00-\ufe0f]/u;
const CONTROL = /\p{Cc}/u;

function charWidth(cp: number): number {
  if (cp < 0x7f) return cp < 0x20 ? 0 : 1;
  const ch = String.fromCodePoint(cp);
  if (ZERO_WIDTH.test(ch) || CONTROL.test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** East Asian Wide and Fullwidth ranges, and the emoji blocks terminals draw two cells wide. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
