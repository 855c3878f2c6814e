/**
 * Filter columns: what filters read, in a form made for it (Qdrant's payload
 * indexes). A subject (fields.ts) is flattened into entries (key, value): the
 * key is its step sequence from the root, object keys and EACH for array
 * elements; the value a scalar, or a marker for an empty array or object.
 *
 *   {"id": "c1", "tags": ["a", "b"], "m": {"lang": "en", "authors": [{"name": "Ada"}], "x": []}}
 *     "id" → "c1"   "tags"[] → "a", "b"   "m""lang" → "en"   "m""authors"[]"name" → "Ada"   "m""x" → []
 *
 * A key is written as its steps' tokens one after another: a key step as its
 * JSON string, EACH as `[]`. JSON strings are prefix-free, so a string prefix
 * of a key is a prefix in steps too.
 *
 * One column per key holds every entry of that key, by value:
 *   strings   a dictionary of the distinct strings, sorted (JS order), each
 *             with its rows (ascending); strings that are ISO-8601 instants
 *             also get an index sorted by instant (built on first use)
 *   numbers   the (value, row) pairs sorted by value, then row
 *   true, false, null, [], {}   their rows
 * so equality is a binary search plus a posting list, a range a slice, and a
 * filter becomes a row bitmap without reading a chunk record.
 *
 * Encoded (a v2 snapshot's column sidecar; little-endian):
 *   "VDBCOLS1" | u32 rows | u32 toc bytes | toc: JSON [[key, offset, bytes], ...], padded to 8
 *   per column, at an offset that is a multiple of 8:
 *     u32 × 12   S, string bytes, string entries, number entries, true, false, null, [], {}, 0, 0, 0
 *     f64 numVals[number entries]
 *     u32 strOff[S + 1] | strStart[S + 1] | strRows | numRows | true | false | null | [] | {} rows
 *     u8  the strings' UTF-8 bytes, then zeros to a multiple of 8
 * Columns are read one by one as filters touch them.
 */
import type { Bounds, Leaf, Path, Scalar, Step } from './ast.js';
import { EACH } from './ast.js';
import { RowBitmap } from './bitmap.js';
import { inBounds, parseInstant } from './values.js';
import { analyze } from '../text/tokenizer.js';

const MAGIC = 'VDBCOLS1';
const HEADER_WORDS = 12;

/** Reads a column sidecar's bytes; `damaged` reports what is wrong with them. */
export interface ColumnSource {
  bytes: number;
  readRange(dst: Uint8Array, offset: number): void;
  damaged(what: string): never;
}

/** The rows of a set as a map: `map[row]` is where it lands (−1: nowhere); null: the row itself. */
export type RowMap = Int32Array | null;

/** A column's data: see the layout at the top. */
interface ColumnData {
  strOff: Uint32Array;
  strBytes: Uint8Array;
  strStart: Uint32Array;
  strRows: Uint32Array;
  numVals: Float64Array;
  numRows: Uint32Array;
  trueRows: Uint32Array;
  falseRows: Uint32Array;
  nullRows: Uint32Array;
  emptyArr: Uint32Array;
  emptyObj: Uint32Array;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class Column {
  readonly steps: Step[];
  /** The key's tokens without its EACH steps: what a vdb path ('any' arrays) is compared with. */
  readonly keysOnly: string;
  /** The last step is EACH: the values are elements of an array. */
  readonly inArray: boolean;
  private strings: (string | undefined)[] = [];
  private instants: Float64Array | null = null;
  private byInstant: { ids: Uint32Array; at: Float64Array } | null = null;

  constructor(
    readonly key: string,
    private data: ColumnData | null,
    private readonly load: (() => ColumnData) | null = null,
  ) {
    this.steps = parseKey(key);
    this.keysOnly = this.steps.filter((s) => s !== EACH).map((s) => JSON.stringify(s)).join('');
    this.inArray = this.steps[this.steps.length - 1] === EACH;
  }

  /** The column's arrays, read on first use. */
  get d(): ColumnData {
    if (this.data === null) this.data = (this.load as () => ColumnData)();
    return this.data;
  }

  get stringCount(): number {
    return this.d.strOff.length - 1;
  }

  str(i: number): string {
    let s = this.strings[i];
    if (s === undefined) {
      const d = this.d;
      s = decoder.decode(d.strBytes.subarray(d.strOff[i], d.strOff[i + 1]));
      this.strings[i] = s;
    }
    return s;
  }

  /** Index of string `s` in the dictionary, or −1. */
  find(s: string): number {
    let lo = 0;
    let hi = this.stringCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.str(mid);
      if (v === s) return mid;
      if (v < s) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The instant of each dictionary string (NaN when it is none). */
  instantOf(i: number): number {
    if (this.instants === null) {
      const n = this.stringCount;
      const out = new Float64Array(n);
      for (let j = 0; j < n; j++) out[j] = parseInstant(this.str(j)) ?? NaN;
      this.instants = out;
    }
    return this.instants[i];
  }

  /** Dictionary strings that are instants, sorted by instant. */
  private instantIndex(): { ids: Uint32Array; at: Float64Array } {
    if (this.byInstant) return this.byInstant;
    const ids: number[] = [];
    for (let j = 0; j < this.stringCount; j++) if (!Number.isNaN(this.instantOf(j))) ids.push(j);
    ids.sort((a, b) => this.instantOf(a) - this.instantOf(b) || a - b);
    return (this.byInstant = { ids: Uint32Array.from(ids), at: Float64Array.from(ids, (j) => this.instantOf(j)) });
  }

  /** Calls `visit(first, last)` for each run [first, last) of strRows whose string passes `test`. */
  private eachString(test: (i: number) => boolean, visit: (from: number, to: number) => void): void {
    const st = this.d.strStart;
    for (let i = 0; i < this.stringCount; i++) if (test(i)) visit(st[i], st[i + 1]);
  }

  /** Marks the rows where some value of this column equals `v` (values.ts `scalarEquals`). */
  eq(v: Scalar, mark: Marker): void {
    const d = this.d;
    if (typeof v === 'string') {
      const i = this.find(v);
      if (i >= 0) mark(d.strRows, d.strStart[i], d.strStart[i + 1]);
      const at = parseInstant(v);
      if (at !== null) {
        const idx = this.instantIndex();
        for (let j = lowerBound(idx.at, at, false); j < idx.at.length && idx.at[j] === at; j++) {
          const s = idx.ids[j];
          if (s !== i) mark(d.strRows, d.strStart[s], d.strStart[s + 1]);
        }
      }
    } else if (typeof v === 'number') {
      const from = lowerBound(d.numVals, v, false);
      let to = from;
      while (to < d.numVals.length && d.numVals[to] === v) to++;
      mark(d.numRows, from, to);
    } else if (v === true) mark(d.trueRows, 0, d.trueRows.length);
    else if (v === false) mark(d.falseRows, 0, d.falseRows.length);
    else mark(d.nullRows, 0, d.nullRows.length);
  }

  /** Marks the rows with some value not equal to any of `values`. */
  anyNotIn(values: Scalar[], mark: Marker): void {
    const d = this.d;
    const strs = values.filter((x): x is string => typeof x === 'string');
    const instants = new Set(strs.map(parseInstant).filter((x): x is number => x !== null));
    const exact = new Set(strs);
    this.eachString((i) => !exact.has(this.str(i)) && !instants.has(this.instantOf(i)), (from, to) => mark(d.strRows, from, to));
    const nums = new Set(values.filter((x): x is number => typeof x === 'number'));
    for (let j = 0; j < d.numVals.length; j++) if (!nums.has(d.numVals[j])) mark(d.numRows, j, j + 1);
    if (!values.includes(true)) mark(d.trueRows, 0, d.trueRows.length);
    if (!values.includes(false)) mark(d.falseRows, 0, d.falseRows.length);
    if (!values.includes(null)) mark(d.nullRows, 0, d.nullRows.length);
  }

  range(domain: 'number' | 'instant', b: Bounds, mark: Marker): void {
    const d = this.d;
    if (domain === 'number') {
      const [from, to] = boundsRange(d.numVals, b);
      if (from < to) mark(d.numRows, from, to);
      return;
    }
    const idx = this.instantIndex();
    const [from, to] = boundsRange(idx.at, b);
    for (let j = from; j < to; j++) {
      const s = idx.ids[j];
      mark(d.strRows, d.strStart[s], d.strStart[s + 1]);
    }
  }

  /** Marks the rows with some string value containing `text`. */
  substring(text: string, mark: Marker): void {
    const d = this.d;
    this.eachString((i) => this.str(i).includes(text), (from, to) => mark(d.strRows, from, to));
  }

  /** Marks the rows with some string value whose terms (src/text analyze) include all of `terms`. */
  allTerms(terms: readonly string[], mark: Marker): void {
    const d = this.d;
    this.eachString(
      (i) => {
        const have = new Set(analyze(this.str(i)));
        return terms.every((t) => have.has(t));
      },
      (from, to) => mark(d.strRows, from, to),
    );
  }

  /** Marks every row with an entry here. */
  present(mark: Marker): void {
    const d = this.d;
    mark(d.strRows, 0, d.strRows.length);
    mark(d.numRows, 0, d.numRows.length);
    for (const rows of [d.trueRows, d.falseRows, d.nullRows, d.emptyArr, d.emptyObj]) mark(rows, 0, rows.length);
  }

  /** Marks the rows with a scalar value here (null included; empty arrays and objects are none). */
  scalars(mark: Marker): void {
    const d = this.d;
    mark(d.strRows, 0, d.strRows.length);
    mark(d.numRows, 0, d.numRows.length);
    for (const rows of [d.trueRows, d.falseRows, d.nullRows]) mark(rows, 0, rows.length);
  }

  /** Marks the rows with an entry other than null and [] (what makes a path not empty). */
  substantive(mark: Marker): void {
    const d = this.d;
    mark(d.strRows, 0, d.strRows.length);
    mark(d.numRows, 0, d.numRows.length);
    for (const rows of [d.trueRows, d.falseRows, d.emptyObj]) mark(rows, 0, rows.length);
  }

  nulls(mark: Marker): void {
    mark(this.d.nullRows, 0, this.d.nullRows.length);
  }

  /** Every entry as (row, value); EMPTY_ARRAY and EMPTY_OBJECT stand for the markers. */
  forEachEntry(visit: (row: number, value: Value) => void): void {
    const d = this.d;
    for (let i = 0; i < this.stringCount; i++) {
      const s = this.str(i);
      for (let j = d.strStart[i]; j < d.strStart[i + 1]; j++) visit(d.strRows[j], s);
    }
    for (let j = 0; j < d.numVals.length; j++) visit(d.numRows[j], d.numVals[j]);
    for (const r of d.trueRows) visit(r, true);
    for (const r of d.falseRows) visit(r, false);
    for (const r of d.nullRows) visit(r, null);
    for (const r of d.emptyArr) visit(r, EMPTY_ARRAY);
    for (const r of d.emptyObj) visit(r, EMPTY_OBJECT);
  }
}

/** Called with a slice [from, to) of a posting list: the rows to mark. */
export type Marker = (rows: Uint32Array, from: number, to: number) => void;

export const EMPTY_ARRAY = Symbol('[]');
export const EMPTY_OBJECT = Symbol('{}');
export type Value = Scalar | typeof EMPTY_ARRAY | typeof EMPTY_OBJECT;

/** Sets the bits of rows[from..to) in `out`, through `map` when given. */
export function marker(out: RowBitmap, map: RowMap): Marker {
  const w = out.words;
  if (map === null) {
    return (rows, from, to) => {
      for (let i = from; i < to; i++) {
        const r = rows[i];
        w[r >>> 5] |= 1 << (r & 31);
      }
    };
  }
  return (rows, from, to) => {
    for (let i = from; i < to; i++) {
      const r = map[rows[i]];
      if (r >= 0) w[r >>> 5] |= 1 << (r & 31);
    }
  };
}

/**
 * The columns of one set of rows (a library's base, or what changed since),
 * immutable once built or opened.
 */
export class ColumnSet {
  private readonly byPath = new Map<string, Column[]>();

  constructor(
    readonly rows: number,
    readonly columns: readonly Column[],
  ) {}

  /** Columns holding the values at `path` (ast.ts): keysOnly equal ('any'), or the key itself or it plus [] ('explicit'). */
  valueColumns(path: Path): Column[] {
    return this.lookup('v', path, (c, k) => (path.arrays === 'any' ? c.keysOnly === k : c.key === k || c.key === `${k}[]`));
  }

  /** Columns at or below `path`: what makes it present. */
  prefixColumns(path: Path): Column[] {
    return this.lookup('p', path, (c, k) => (path.arrays === 'any' ? c.keysOnly.startsWith(k) : c.key.startsWith(k)));
  }

  /** Value columns whose entries are the end values themselves, not elements of a leaf array. */
  exactColumns(path: Path): Column[] {
    const key = keyOf(path.steps);
    return this.valueColumns(path).filter((c) => (path.arrays === 'any' ? !c.inArray : c.key === key));
  }

  private lookup(kind: string, path: Path, test: (c: Column, key: string) => boolean): Column[] {
    const k = keyOf(path.arrays === 'any' ? path.steps.filter((s) => s !== EACH) : path.steps);
    const memo = `${kind}${path.arrays}${k}`;
    let found = this.byPath.get(memo);
    if (!found) {
      found = this.columns.filter((c) => test(c, k));
      this.byPath.set(memo, found);
    }
    return found;
  }

  /**
   * Marks, through `map`, the rows of this set where the leaf's positive part
   * holds; returns whether the leaf is its complement (isEmpty, and count
   * when 0 is within its bounds), which the caller takes over every row.
   */
  positive(leaf: Leaf, out: RowBitmap, map: RowMap): boolean {
    const mark = marker(out, map);
    switch (leaf.kind) {
      case 'eq':
        for (const c of this.valueColumns(leaf.path)) c.eq(leaf.value, mark);
        return false;
      case 'in':
        for (const c of this.valueColumns(leaf.path)) for (const v of leaf.values) c.eq(v, mark);
        return false;
      case 'anyNotIn':
        for (const c of this.valueColumns(leaf.path)) c.anyNotIn(leaf.values, mark);
        return false;
      case 'range':
        for (const c of this.valueColumns(leaf.path)) c.range(leaf.domain, leaf.bounds, mark);
        return false;
      case 'exists':
        for (const c of this.prefixColumns(leaf.path)) c.present(mark);
        return false;
      case 'contains':
        for (const c of this.valueColumns(leaf.path)) {
          if (c.inArray) c.eq(leaf.value, mark);
          else if (typeof leaf.value === 'string') c.substring(leaf.value, mark);
        }
        return false;
      case 'substring':
        for (const c of this.valueColumns(leaf.path)) c.substring(leaf.text, mark);
        return false;
      case 'terms':
        for (const c of this.valueColumns(leaf.path)) c.allTerms(leaf.terms, mark);
        return false;
      case 'isNull':
        for (const c of this.exactColumns(leaf.path)) c.nulls(mark);
        return false;
      case 'isEmpty': {
        const exact = new Set(this.exactColumns(leaf.path));
        for (const c of this.prefixColumns(leaf.path)) {
          if (exact.has(c)) c.substantive(mark);
          else c.present(mark);
        }
        return true;
      }
      case 'count': {
        const counts = new Uint32Array(this.rows);
        const tally: Marker = (rows, from, to) => {
          for (let i = from; i < to; i++) counts[rows[i]]++;
        };
        for (const c of this.valueColumns(leaf.path)) c.scalars(tally);
        const zeroIn = inBounds(0, leaf.bounds);
        const one = new Uint32Array(1);
        for (let r = 0; r < this.rows; r++) {
          if (counts[r] > 0 && inBounds(counts[r], leaf.bounds) !== zeroIn) {
            one[0] = r;
            mark(one, 0, 1);
          }
        }
        return zeroIn;
      }
    }
  }

  /** Every column read into memory (before the source goes away, or to encode it). */
  loadAll(): void {
    for (const c of this.columns) void c.d;
  }

  /** The encoded form (layout at the top); deterministic: the same set gives the same bytes. */
  encode(): Uint8Array {
    this.loadAll();
    const segments = this.columns.map(encodeColumn);
    const tocFor = (start: number) => {
      const toc: [string, number, number][] = [];
      let at = start;
      segments.forEach((seg, i) => {
        toc.push([this.columns[i].key, at, seg.byteLength]);
        at += seg.byteLength;
      });
      return toc;
    };
    // The offsets depend on the toc's own length: iterate until it is stable (twice at most in practice).
    let tocBytes = encoder.encode(JSON.stringify(tocFor(0)));
    for (;;) {
      const start = up8(16 + tocBytes.byteLength);
      const next = encoder.encode(JSON.stringify(tocFor(start)));
      if (up8(16 + next.byteLength) === start) {
        tocBytes = next;
        break;
      }
      tocBytes = next;
    }
    const start = up8(16 + tocBytes.byteLength);
    const total = start + segments.reduce((s, x) => s + x.byteLength, 0);
    const out = new Uint8Array(total);
    out.set(encoder.encode(MAGIC), 0);
    const view = new DataView(out.buffer);
    view.setUint32(8, this.rows, true);
    view.setUint32(12, tocBytes.byteLength, true);
    out.set(tocBytes, 16);
    let at = start;
    for (const seg of segments) {
      out.set(seg, at);
      at += seg.byteLength;
    }
    return out;
  }

  /**
   * Opens an encoded set: reads its header and table of contents now, each
   * column when first used.
   * @throws via source.damaged when the header or table is wrong
   */
  static open(source: ColumnSource, rows: number): ColumnSet {
    if (source.bytes < 16) source.damaged('the filter columns are shorter than their header');
    const head = new Uint8Array(16);
    source.readRange(head, 0);
    const view = new DataView(head.buffer);
    if (decoder.decode(head.subarray(0, 8)) !== MAGIC) source.damaged('the filter columns do not start with their header');
    if (view.getUint32(8, true) !== rows) source.damaged(`the filter columns hold ${view.getUint32(8, true)} rows, the library ${rows}`);
    const tocLength = view.getUint32(12, true);
    if (16 + tocLength > source.bytes) source.damaged('the filter columns table runs past the end');
    const tocBytes = new Uint8Array(tocLength);
    source.readRange(tocBytes, 16);
    let toc: unknown;
    try {
      toc = JSON.parse(decoder.decode(tocBytes));
    } catch {
      return source.damaged('the filter columns table is not valid JSON');
    }
    if (!Array.isArray(toc)) return source.damaged('the filter columns table is not a list');
    const columns = toc.map((e: unknown) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || !Number.isSafeInteger(e[1]) || !Number.isSafeInteger(e[2]) || e[1] % 8 !== 0 || e[1] + e[2] > source.bytes) {
        return source.damaged('the filter columns table has a bad entry');
      }
      const [key, offset, bytes] = e as [string, number, number];
      try {
        parseKey(key);
      } catch {
        source.damaged(`the filter columns table has a bad key ${JSON.stringify(key)}`);
      }
      return new Column(key, null, () => {
        const seg = new Uint8Array(bytes);
        source.readRange(seg, offset);
        try {
          return decodeColumn(seg, rows);
        } catch (err) {
          return source.damaged(`filter column ${key}: ${(err as Error).message}`);
        }
      });
    });
    return new ColumnSet(rows, columns);
  }
}

/** Collects entries, then freezes them into a ColumnSet. */
export class ColumnSetBuilder {
  private readonly columns = new Map<string, ColumnBuilder>();
  // Subjects are walked along a trie of their keys, so no key string is built or hashed per entry.
  private readonly root = new KeyNode('', this.columns);

  /** Adds the entries of one subject (any JSON object) as row `row`. */
  addSubject(row: number, subject: object): void {
    this.walk(row, subject, this.root);
  }

  /** Adds one entry. */
  add(key: string, row: number, value: Value): void {
    let c = this.columns.get(key);
    if (!c) this.columns.set(key, (c = new ColumnBuilder()));
    c.add(row, value);
  }

  private walk(row: number, v: unknown, node: KeyNode): void {
    if (v === undefined) return;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') node.column().add(row, v);
    else if (typeof v === 'number') node.column().add(row, Number.isFinite(v) ? v : null);
    else if (Array.isArray(v)) {
      if (v.length === 0) node.column().add(row, EMPTY_ARRAY);
      const each = node.element();
      for (const e of v) this.walk(row, e === undefined ? null : e, each);
    } else if (typeof v === 'object') {
      let empty = true;
      for (const name of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[name];
        if (x === undefined) continue;
        empty = false;
        this.walk(row, x, node.child(name));
      }
      if (empty && node !== this.root) node.column().add(row, EMPTY_OBJECT);
    }
  }

  build(rows: number): ColumnSet {
    const keys = [...this.columns.keys()].sort();
    return new ColumnSet(
      rows,
      keys.map((k) => new Column(k, (this.columns.get(k) as ColumnBuilder).finish())),
    );
  }
}

/** A key of the builder's trie: its column and the keys below it. */
class KeyNode {
  private col: ColumnBuilder | null = null;
  private children: Map<string, KeyNode> | null = null;
  private each: KeyNode | null = null;

  constructor(
    readonly key: string,
    private readonly columns: Map<string, ColumnBuilder>,
  ) {}

  column(): ColumnBuilder {
    if (this.col === null) {
      let c = this.columns.get(this.key);
      if (!c) this.columns.set(this.key, (c = new ColumnBuilder()));
      this.col = c;
    }
    return this.col;
  }

  child(name: string): KeyNode {
    const children = (this.children ??= new Map());
    let c = children.get(name);
    if (!c) children.set(name, (c = new KeyNode(this.key + tokenOf(name), this.columns)));
    return c;
  }

  element(): KeyNode {
    return (this.each ??= new KeyNode(`${this.key}[]`, this.columns));
  }
}

const TOKENS = new Map<string, string>();

/** A key step's token, memoised: the same few names come up for every chunk. */
function tokenOf(name: string): string {
  let t = TOKENS.get(name);
  if (t === undefined) {
    t = JSON.stringify(name);
    if (TOKENS.size < 4096) TOKENS.set(name, t);
  }
  return t;
}

/** The key string of steps. */
export function keyOf(steps: readonly Step[]): string {
  let k = '';
  for (const s of steps) k += s === EACH ? '[]' : tokenOf(s);
  return k;
}

/** Steps of a key string. @throws Error when it is not one */
export function parseKey(key: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  while (i < key.length) {
    if (key.startsWith('[]', i)) {
      steps.push(EACH);
      i += 2;
      continue;
    }
    if (key[i] !== '"') throw new Error(`bad column key ${key}`);
    let j = i + 1;
    while (j < key.length && key[j] !== '"') j += key[j] === '\\' ? 2 : 1;
    if (j >= key.length) throw new Error(`bad column key ${key}`);
    steps.push(JSON.parse(key.slice(i, j + 1)) as string);
    i = j + 1;
  }
  if (steps.length === 0) throw new Error('empty column key');
  return steps;
}

class ColumnBuilder {
  private readonly strs = new Map<string, number[]>();
  private readonly numRows: number[] = [];
  private readonly numVals: number[] = [];
  private readonly lists = { t: [] as number[], f: [] as number[], n: [] as number[], ea: [] as number[], eo: [] as number[] };

  add(row: number, v: Value): void {
    if (typeof v === 'string') {
      const list = this.strs.get(v);
      if (list) list.push(row);
      else this.strs.set(v, [row]);
    } else if (typeof v === 'number') {
      this.numRows.push(row);
      this.numVals.push(v);
    } else if (v === true) this.lists.t.push(row);
    else if (v === false) this.lists.f.push(row);
    else if (v === null) this.lists.n.push(row);
    else if (v === EMPTY_ARRAY) this.lists.ea.push(row);
    else this.lists.eo.push(row);
  }

  finish(): ColumnData {
    const strings = [...this.strs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const strOff = new Uint32Array(strings.length + 1);
    const strStart = new Uint32Array(strings.length + 1);
    let chars = 0;
    for (const s of strings) chars += s.length;
    // One buffer for every string's UTF-8 (3 bytes per UTF-16 unit at most), filled in place.
    const utf8 = new Uint8Array(3 * chars);
    let bytes = 0;
    let entries = 0;
    strings.forEach((s, i) => {
      strOff[i] = bytes;
      strStart[i] = entries;
      bytes += encoder.encodeInto(s, utf8.subarray(bytes)).written;
      entries += (this.strs.get(s) as number[]).length;
    });
    strOff[strings.length] = bytes;
    strStart[strings.length] = entries;
    const strRows = new Uint32Array(entries);
    strings.forEach((s, i) => strRows.set(sortedRows(this.strs.get(s) as number[]), strStart[i]));
    const vals = Float64Array.from(this.numVals);
    const rows = Uint32Array.from(this.numRows);
    const order = new Uint32Array(vals.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => vals[a] - vals[b] || rows[a] - rows[b]);
    return {
      strOff,
      strBytes: utf8.slice(0, bytes),
      strStart,
      strRows,
      numVals: Float64Array.from(order, (i) => vals[i]),
      numRows: Uint32Array.from(order, (i) => rows[i]),
      trueRows: sortedRows(this.lists.t),
      falseRows: sortedRows(this.lists.f),
      nullRows: sortedRows(this.lists.n),
      emptyArr: sortedRows(this.lists.ea),
      emptyObj: sortedRows(this.lists.eo),
    };
  }
}

/** Rows ascending; a row listed twice (two equal values in one array) stays twice, which marking does not mind. */
function sortedRows(rows: number[]): Uint32Array {
  const a = Uint32Array.from(rows);
  for (let i = 1; i < a.length; i++) {
    if (a[i] < a[i - 1]) return a.sort();
  }
  return a;
}

function encodeColumn(c: Column): Uint8Array {
  const d = c.d;
  const u32s = [d.strOff, d.strStart, d.strRows, d.numRows, d.trueRows, d.falseRows, d.nullRows, d.emptyArr, d.emptyObj];
  const u32Words = u32s.reduce((s, a) => s + a.length, 0);
  const total = up8(HEADER_WORDS * 4 + d.numVals.length * 8 + u32Words * 4 + d.strBytes.byteLength);
  const out = new Uint8Array(total);
  const head = new Uint32Array(out.buffer, 0, HEADER_WORDS);
  head.set([d.strOff.length - 1, d.strBytes.byteLength, d.strRows.length, d.numVals.length, d.trueRows.length, d.falseRows.length, d.nullRows.length, d.emptyArr.length, d.emptyObj.length]);
  let at = HEADER_WORDS * 4;
  new Float64Array(out.buffer, at, d.numVals.length).set(d.numVals);
  at += d.numVals.length * 8;
  for (const a of u32s) {
    new Uint32Array(out.buffer, at, a.length).set(a);
    at += a.length * 4;
  }
  out.set(d.strBytes, at);
  return out;
}

/** @throws Error when the segment is inconsistent */
function decodeColumn(seg: Uint8Array, rows: number): ColumnData {
  if (seg.byteLength < HEADER_WORDS * 4) throw new Error('segment is shorter than its header');
  const head = new Uint32Array(seg.buffer, seg.byteOffset, HEADER_WORDS);
  const [strings, strBytes, strEntries, numEntries, t, f, n, ea, eo] = head;
  const need = HEADER_WORDS * 4 + numEntries * 8 + (2 * (strings + 1) + strEntries + numEntries + t + f + n + ea + eo) * 4 + strBytes;
  if (need > seg.byteLength) throw new Error('segment is shorter than its counts say');
  let at = seg.byteOffset + HEADER_WORDS * 4;
  const numVals = new Float64Array(seg.buffer, at, numEntries);
  at += numEntries * 8;
  const u32 = (len: number): Uint32Array => {
    const a = new Uint32Array(seg.buffer, at, len);
    at += len * 4;
    return a;
  };
  const d: ColumnData = {
    numVals,
    strOff: u32(strings + 1),
    strStart: u32(strings + 1),
    strRows: u32(strEntries),
    numRows: u32(numEntries),
    trueRows: u32(t),
    falseRows: u32(f),
    nullRows: u32(n),
    emptyArr: u32(ea),
    emptyObj: u32(eo),
    strBytes: new Uint8Array(0),
  };
  d.strBytes = new Uint8Array(seg.buffer, at, strBytes);
  if (d.strOff[strings] !== strBytes || d.strStart[strings] !== strEntries) throw new Error('string tables do not add up');
  for (let i = 0; i < strings; i++) if (d.strOff[i] > d.strOff[i + 1] || d.strStart[i] >= d.strStart[i + 1]) throw new Error('string tables are not ascending');
  for (const list of [d.strRows, d.numRows, d.trueRows, d.falseRows, d.nullRows, d.emptyArr, d.emptyObj]) {
    for (let i = 0; i < list.length; i++) if (list[i] >= rows) throw new Error(`row ${list[i]} is past the ${rows} rows`);
  }
  for (let i = 1; i < numEntries; i++) if (!(numVals[i - 1] <= numVals[i])) throw new Error('numbers are not sorted');
  return d;
}

function up8(n: number): number {
  return (n + 7) & ~7;
}

/** First index i with a[i] > x (strict) or a[i] >= x, in an ascending array. */
function lowerBound(a: Float64Array, x: number, strict: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (strict ? a[mid] <= x : a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The slice [from, to) of an ascending array within the bounds. */
function boundsRange(a: Float64Array, b: Bounds): [number, number] {
  let from = 0;
  let to = a.length;
  if (b.gt !== undefined) from = Math.max(from, lowerBound(a, b.gt, true));
  if (b.gte !== undefined) from = Math.max(from, lowerBound(a, b.gte, false));
  if (b.lt !== undefined) to = Math.min(to, lowerBound(a, b.lt, false));
  if (b.lte !== undefined) to = Math.min(to, lowerBound(a, b.lte, true));
  return [from, to];
}
