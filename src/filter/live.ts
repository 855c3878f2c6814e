/**
 * A library's filter columns kept in step with its rows, without re-reading
 * its chunk records: a base ColumnSet (built once, or opened from the
 * snapshot's column sidecar) plus the rows changed since, whose columns are
 * built from their records (which a write or a log replay holds in memory).
 *
 *   rowOrigin[row]   the base row a current row came from, −1 when it was
 *                    appended or edited since (a "dirty" row); null while
 *                    row r < base.rows is base row r
 *   dirty            the dirty rows; their columns (`extra`) are built on
 *                    first use after a change
 *
 * Removing rows renumbers rowOrigin and the dirty set (O(rows) integers, no
 * records). Once the dirty rows outgrow a share of the library they are
 * folded into a new base, built from the old base's entries and the dirty
 * rows' records.
 */
import type { Leaf } from './ast.js';
import { RowBitmap } from './bitmap.js';
import { ColumnSet, ColumnSetBuilder } from './columns.js';
import type { RowMap } from './columns.js';
import type { FilterSource } from './evaluate.js';

/** Dirty rows beyond this (and beyond a sixteenth of the library) are folded into the base. */
const FOLD_ROWS = 1024;

export class LiveColumns {
  private base: ColumnSet | null = null;
  /** Opens the base on first use (adoptLater). */
  private pending: (() => ColumnSet) | null = null;
  private baseRows = 0;
  private rows = 0;
  private rowOrigin: Int32Array | null = null;
  private readonly dirty = new Set<number>();
  private extra: ColumnSet | null = null;
  private baseToRow: RowMap | undefined = undefined;

  /** Forgets everything: the next use builds the columns from every record. */
  reset(): void {
    this.base = null;
    this.pending = null;
    this.baseRows = 0;
    this.rows = 0;
    this.rowOrigin = null;
    this.dirty.clear();
    this.changed();
  }

  /** Takes columns that describe the library's rows as they are now (from its snapshot). */
  adopt(base: ColumnSet): void {
    this.reset();
    this.base = base;
    this.rows = base.rows;
    this.baseRows = base.rows;
  }

  /** As adopt, with columns opened on first use (a snapshot's sidecar: unfiltered work never reads it). */
  adoptLater(rows: number, open: () => ColumnSet): void {
    this.reset();
    this.pending = open;
    this.rows = rows;
    this.baseRows = rows;
  }

  /** `count` rows were appended. */
  appended(count: number): void {
    if (!this.known()) return;
    for (let i = 0; i < count; i++) this.dirty.add(this.rows + i);
    if (this.rowOrigin) this.rowOrigin = grow(this.rowOrigin, this.rows + count);
    this.rows += count;
    this.changed();
  }

  /** The record at `row` changed (metadata, tags, timestamps or document). */
  edited(row: number): void {
    if (!this.known() || row >= this.rows) return;
    if (!this.dirty.has(row)) {
      this.origins()[row] = -1;
      this.dirty.add(row);
    }
    this.changed();
  }

  /** The rows in `removed` (ascending, distinct) were removed; the others keep their order. */
  removed(removed: readonly number[]): void {
    if (!this.known() || removed.length === 0) return;
    const origin = this.origins();
    const kept = new Int32Array(this.rows - removed.length);
    let w = 0;
    let k = 0;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (let r = 0; r < this.rows; r++) {
      if (k < removed.length && removed[k] === r) {
        k++;
        continue;
      }
      kept[w++] = origin[r];
    }
    // A dirty row d moves down by the rows removed before it.
    for (const d of dirty) {
      const before = lowerBound(removed, d);
      if (removed[before] !== d) this.dirty.add(d - before);
    }
    this.rowOrigin = kept;
    this.rows = kept.length;
    this.changed();
  }

  /**
   * The columns as a FilterSource over the library's `rows` rows.
   * @param subjectAt the subject of a row, read from its record (dirty rows, first builds, nested filters)
   */
  source(rows: number, subjectAt: (row: number) => object): FilterSource {
    // A library whose rows changed without telling (or never built) is built from its records.
    if (!this.known() || this.rows !== rows) this.build(rows, subjectAt);
    if (this.dirty.size > FOLD_ROWS && this.dirty.size > rows / 16) this.fold(subjectAt);
    const base = this.opened();
    const extra = this.extraColumns(subjectAt);
    const map = this.baseMap();
    return {
      rows,
      leaf(l: Leaf): RowBitmap {
        const out = new RowBitmap(rows);
        const negate = base.positive(l, out, map);
        if (extra) extra.positive(l, out, null);
        return negate ? out.not() : out;
      },
      subjectAt,
    };
  }

  /** One column set for every row now (folding what changed), e.g. to store it with a snapshot. */
  current(rows: number, subjectAt: (row: number) => object): ColumnSet {
    if (!this.known() || this.rows !== rows) this.build(rows, subjectAt);
    else if (this.dirty.size > 0 || this.rowOrigin !== null) this.fold(subjectAt);
    return this.opened();
  }

  private build(rows: number, subjectAt: (row: number) => object): void {
    const b = new ColumnSetBuilder();
    for (let r = 0; r < rows; r++) b.addSubject(r, subjectAt(r));
    this.adopt(b.build(rows));
  }

  /** A new base from the old one's entries, moved to their rows, and the dirty rows' records. */
  private fold(subjectAt: (row: number) => object): void {
    const base = this.opened();
    const map = this.baseMap();
    const b = new ColumnSetBuilder();
    for (const c of base.columns) {
      c.forEachEntry((row, value) => {
        const r = map === null ? row : map[row];
        if (r >= 0) b.add(c.key, r, value);
      });
    }
    for (const r of this.dirty) b.addSubject(r, subjectAt(r));
    this.adopt(b.build(this.rows));
  }

  private extraColumns(subjectAt: (row: number) => object): ColumnSet | null {
    if (this.dirty.size === 0) return null;
    if (this.extra === null) {
      const b = new ColumnSetBuilder();
      for (const r of this.dirty) b.addSubject(r, subjectAt(r));
      this.extra = b.build(this.rows);
    }
    return this.extra;
  }

  /** Base row → current row (−1: removed or dirty); null when every base row is still at its own row. */
  private baseMap(): RowMap {
    if (this.baseToRow !== undefined) return this.baseToRow;
    const origin = this.rowOrigin;
    if (origin === null) return (this.baseToRow = null);
    const map = new Int32Array(this.baseRows).fill(-1);
    for (let r = 0; r < this.rows; r++) if (origin[r] >= 0) map[origin[r]] = r;
    return (this.baseToRow = map);
  }

  private origins(): Int32Array {
    if (this.rowOrigin === null) {
      const baseRows = this.baseRows;
      const o = new Int32Array(this.rows);
      for (let r = 0; r < this.rows; r++) o[r] = r < baseRows ? r : -1;
      this.rowOrigin = o;
    }
    return this.rowOrigin;
  }

  private known(): boolean {
    return this.base !== null || this.pending !== null;
  }

  /** The base, opened if it was adopted for later. */
  private opened(): ColumnSet {
    if (this.base === null) {
      const base = (this.pending as () => ColumnSet)();
      this.pending = null;
      this.base = base;
    }
    return this.base;
  }

  private changed(): void {
    this.extra = null;
    this.baseToRow = undefined;
  }
}

function grow(a: Int32Array, length: number): Int32Array {
  const out = new Int32Array(length).fill(-1);
  out.set(a.subarray(0, Math.min(a.length, length)));
  return out;
}

/** First index i with a[i] >= x. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
