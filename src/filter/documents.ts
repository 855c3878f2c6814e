/**
 * `doc.KEY` fields: conditions on the metadata of a chunk's document. They are
 * answered by a join, not from the chunk columns: the documents get columns
 * of their own (built from their records, kept while the documents do not
 * change), a condition selects documents, and the chunks of those documents
 * are read off the chunk columns' `doc_id`. A document edit therefore never
 * touches a chunk's columns, and a chunk's columns never hold its document's
 * metadata.
 *
 * A chunk without a document matches a `doc.` condition exactly when an
 * empty document would (so `!has:doc.author` holds for it, `doc.author=Ada`
 * does not).
 */
import type { Leaf, Path } from './ast.js';
import { RowBitmap } from './bitmap.js';
import { ColumnSetBuilder } from './columns.js';
import type { ColumnSet } from './columns.js';
import type { FilterSource } from './evaluate.js';
import { DOC } from './fields.js';

/** A library's documents, as doc.KEY conditions read them. */
export interface DocumentSource {
  /** Every document's id and metadata: the same array (===) while no document is added, changed or removed, so columns built over it are kept until then. */
  list(): readonly { id: string; metadata: object }[];
}

/** Columns over the documents, rebuilt when the documents change. */
export class DocumentColumns {
  private built: { of: readonly object[]; ids: string[]; set: ColumnSet } | null = null;

  /** `src` (the chunk columns) with its `doc.` leaves answered through the documents. */
  source(src: FilterSource, docs: DocumentSource | null): FilterSource {
    return {
      rows: src.rows,
      subjectAt: (row) => src.subjectAt(row),
      leaf: (l: Leaf) => (l.path.steps[0] === DOC ? this.docLeaf(l, src, docs) : src.leaf(l)),
    };
  }

  private docLeaf(l: Leaf, src: FilterSource, docs: DocumentSource | null): RowBitmap {
    const out = new RowBitmap(src.rows);
    const idPath: Path = { steps: ['doc_id'], arrays: 'any', label: 'doc_id' };
    if (docs !== null) {
      const { ids, set } = this.columns(docs);
      const matched = new RowBitmap(set.rows);
      if (set.positive(l, matched, null)) matched.not();
      for (const d of matched.toArray()) out.or(src.leaf({ kind: 'eq', path: idPath, value: ids[d] }));
    }
    // Chunks without a document count as having an empty one.
    const empty = new RowBitmap(1);
    if (EMPTY.positive(l, empty, null) ? !empty.has(0) : empty.has(0)) out.or(src.leaf({ kind: 'eq', path: idPath, value: null }));
    return out;
  }

  private columns(docs: DocumentSource): { ids: string[]; set: ColumnSet } {
    const all = docs.list();
    if (this.built !== null && this.built.of === all) return this.built;
    const b = new ColumnSetBuilder();
    all.forEach((d, i) => b.addSubject(i, { [DOC]: d.metadata }));
    this.built = { of: all, ids: all.map((d) => d.id), set: b.build(all.length) };
    return this.built;
  }
}

/** The columns of one row with no document at all. */
const EMPTY = new ColumnSetBuilder().build(1);
