/**
 * The format of `vdb export` and `vdb import`: NDJSON, one record a line.
 *
 *   {"format": "vdb-export", "version": 1}
 *   {"type": "library", "id", "name", "dim", "metric", "embedder", "metadata", "created_at", "updated_at",
 *    "index": null | {"type", "params": {...}}, "text_index"?: {"params": {"k1", "b"}}}
 *   {"type": "document", "id", "lib_id", "title", "metadata", "created_at", "updated_at"}
 *   {"type": "chunk", "id", "lib_id", "doc_id", "text", "metadata", "tags", "created_at", "updated_at",
 *    "embedding": {"dtype": "f32", "base64": "..."}}
 *
 * `vdb export` writes the header, then per library its line, its documents
 * in id order and its chunks in row order. Embeddings are little-endian
 * float32 in base64, so every bit survives (a JSON number cannot carry -0);
 * import also takes a plain array of numbers. The index is its definition
 * (type and every parameter): import builds it again, and so the full-text
 * index, present only when the library has one. Ids, names and
 * timestamps are kept, so export → import into an empty database → export
 * gives the same bytes.
 *
 * ImportReader checks each line as it arrives (naming its number in every
 * error) and keeps what it read, vectors packed into blocks, for the import
 * to apply as one change.
 */
import type { Document } from '../domain/documents.js';
import { InvalidInput } from '../domain/errors.js';
import type { Chunk, Library } from '../domain/model.js';
import { quote } from '../domain/model.js';
import type { IndexType, LibraryFields, Metric } from '../domain/types.js';
import { checkEmbedding, checkId, checkKeys, checkMetadata, checkName, checkTags, checkText, checkTitle, prefix } from '../domain/validate.js';
import { parseSpec } from '../embed/registry.js';
import { LETTERS_DIM } from '../embed/letters.js';
import { METRICS, norm } from '../index/kernels.js';
import { isIndexType } from '../index/registry.js';
import { decodeBase64 } from '../store/codec.js';

export const EXPORT_FORMAT = 'vdb-export';
export const EXPORT_VERSION = 1;

export function headerLine(): string {
  return `${JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION })}\n`;
}

export function libraryLine(lib: Library): string {
  const index = lib.indexView();
  const text = lib.text.stored;
  const textIndex = text ? { text_index: { params: { k1: text.params.k1, b: text.params.b } } } : {};
  return `${JSON.stringify({ type: 'library', ...lib.fields(), index: index && { type: index.type, params: index.params }, ...textIndex })}\n`;
}

export function documentLine(lib: Library, d: Document): string {
  return `${JSON.stringify({ type: 'document', id: d.id, lib_id: lib.id, title: d.title, metadata: d.metadata, created_at: d.created_at, updated_at: d.updated_at })}\n`;
}

/** The chunk at `row`, as `chunk get --json` shows it, with its embedding in base64. */
export function chunkLine(lib: Library, row: number): string {
  const vector = lib.vectorAt(row);
  const base64 = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  return `${JSON.stringify({ type: 'chunk', ...lib.chunkView(row), embedding: { dtype: 'f32', base64 } })}\n`;
}

/** A record of an export with the line it came from: how an import travels in batches (`vdb import --remote`). */
export type NumberedRecord = [line: number, record: Record<string, unknown>];

/** The library line of what was read, as read. */
export function importedLibraryRecord(L: ImportedLibrary): NumberedRecord {
  const { line, index, textIndex, documents: _d, chunks: _c, chunkLines: _l, vectors: _v, ...fields } = L;
  return [line, { type: 'library', ...fields, index, ...(textIndex ? { text_index: {} } : {}) }];
}

/** Document i of what was read, as a record. */
export function importedDocumentRecord(L: ImportedLibrary, i: number): NumberedRecord {
  const { line, ...d } = L.documents[i];
  return [line, { type: 'document', lib_id: L.id, ...d }];
}

/** Chunk i of what was read, its embedding in base64 (every bit kept). */
export function importedChunkRecord(L: ImportedLibrary, i: number): NumberedRecord {
  const { seq: _, ...c } = L.chunks[i];
  const v = L.vectors.row(i);
  const base64 = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return [L.chunkLines[i], { type: 'chunk', lib_id: L.id, ...c, embedding: { dtype: 'f32', base64 } }];
}

/** Reads numbered records (a batch of an import) as ImportReader does lines. */
export function readRecords(records: readonly NumberedRecord[]): ImportReader {
  const reader = new ImportReader();
  reader.add(0, { format: EXPORT_FORMAT, version: EXPORT_VERSION });
  for (const [n, obj] of records) reader.add(n, obj);
  return reader;
}

export interface ImportedDocument extends Document {
  line: number;
}

/** A library line and the documents and chunks that named it. */
export interface ImportedLibrary extends LibraryFields {
  line: number;
  index: { type: IndexType; params: Record<string, number> } | null;
  /** The library had a full-text index: import builds one. */
  textIndex: boolean;
  documents: ImportedDocument[];
  /** Ready to be stored as they are (seq 0 until appended). */
  chunks: Chunk[];
  /** The line of each chunk. */
  chunkLines: number[];
  /** Row i = chunks[i]. */
  vectors: RowBuffer;
}

const LIBRARY_FIELDS = ['type', 'id', 'name', 'dim', 'metric', 'embedder', 'metadata', 'created_at', 'updated_at', 'index', 'text_index'];
const DOCUMENT_FIELDS = ['type', 'lib_id', 'id', 'title', 'metadata', 'created_at', 'updated_at'];
const CHUNK_FIELDS = ['type', 'lib_id', 'id', 'doc_id', 'text', 'metadata', 'tags', 'created_at', 'updated_at', 'embedding'];

/** Checks export lines one by one and keeps what they hold. */
export class ImportReader {
  readonly libraries: ImportedLibrary[] = [];
  private readonly byId = new Map<string, ImportedLibrary>();
  private readonly names = new Set<string>();
  private header = false;
  /** Per library: document id → line, chunk id → line (to name both lines of a repeat). */
  private readonly seen = new Map<ImportedLibrary, { docs: Map<string, number>; chunks: Map<string, number> }>();
  chunkCount = 0;

  /**
   * Takes line `n`, parsed.
   * @throws InvalidInput naming the line and what is wrong with it
   */
  add(n: number, obj: Record<string, unknown>): void {
    const at = `line ${n}`;
    if (obj.format !== undefined) {
      if (obj.format !== EXPORT_FORMAT || obj.version !== EXPORT_VERSION) {
        throw new InvalidInput(`${at}: not a vdb export this vdb reads (expected {"format": "${EXPORT_FORMAT}", "version": ${EXPORT_VERSION}})`);
      }
      checkKeys(obj, ['format', 'version'], at);
      this.header = true;
      return;
    }
    if (!this.header) throw new InvalidInput(`${at}: a vdb export starts with {"format": "${EXPORT_FORMAT}", "version": ${EXPORT_VERSION}}`, { hint: 'make one with vdb export' });
    switch (obj.type) {
      case 'library':
        return this.addLibrary(n, obj, at);
      case 'document':
        return this.addDocument(n, obj, at);
      case 'chunk':
        return this.addChunk(n, obj, at);
      default:
        throw new InvalidInput(`${at}: "type" must be "library", "document" or "chunk", got ${JSON.stringify(obj.type) ?? 'nothing'}`);
    }
  }

  private addLibrary(n: number, obj: Record<string, unknown>, at: string): void {
    checkKeys(obj, LIBRARY_FIELDS, at);
    const id = checkId(obj.id, 'id', at);
    if (this.byId.has(id)) throw new InvalidInput(`${at}: library id ${quote(id)} is given twice (also line ${this.byId.get(id)!.line})`);
    const name = withLine(at, () => checkName(obj.name));
    if (this.names.has(name)) throw new InvalidInput(`${at}: library name ${quote(name)} is given twice`);
    const dim = obj.dim;
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > 65536) throw new InvalidInput(`${at}: dim must be an integer from 1 to 65536`);
    if (typeof obj.metric !== 'string' || !(METRICS as readonly string[]).includes(obj.metric)) throw new InvalidInput(`${at}: metric must be one of ${METRICS.join(', ')}`);
    const embedder = obj.embedder ?? null;
    if (embedder !== null) {
      if (typeof embedder !== 'string') throw new InvalidInput(`${at}: embedder must be a string or null`);
      // The spec is checked here; an HTTP or local model is opened (and its dimension probed) only when it embeds.
      const spec = withLine(at, () => parseSpec(embedder));
      const fixed = spec.provider === 'letters' ? LETTERS_DIM : spec.dims;
      if (fixed !== undefined && fixed !== dim) throw new InvalidInput(`${at}: embedder ${embedder} gives ${fixed} dims, the library has ${dim}`);
    }
    const lib: ImportedLibrary = {
      line: n,
      id,
      name,
      dim,
      metric: obj.metric as Metric,
      embedder,
      metadata: obj.metadata === undefined ? {} : checkMetadata(obj.metadata, at),
      created_at: timestamp(obj.created_at, 'created_at', at),
      updated_at: timestamp(obj.updated_at, 'updated_at', at),
      index: indexDefinition(obj.index, at),
      textIndex: textIndexDefinition(obj.text_index, at),
      documents: [],
      chunks: [],
      chunkLines: [],
      vectors: new RowBuffer(dim),
    };
    this.libraries.push(lib);
    this.byId.set(id, lib);
    this.names.add(name);
    this.seen.set(lib, { docs: new Map(), chunks: new Map() });
  }

  private libraryOf(obj: Record<string, unknown>, at: string): ImportedLibrary {
    const lib = typeof obj.lib_id === 'string' ? this.byId.get(obj.lib_id) : undefined;
    if (!lib) throw new InvalidInput(`${at}: lib_id ${JSON.stringify(obj.lib_id) ?? 'is missing and'} names no library line above it`);
    return lib;
  }

  private addDocument(n: number, obj: Record<string, unknown>, at: string): void {
    checkKeys(obj, DOCUMENT_FIELDS, at);
    const lib = this.libraryOf(obj, at);
    const id = checkId(obj.id, 'id', at);
    const docs = this.seen.get(lib)!.docs;
    if (docs.has(id)) throw new InvalidInput(`${at}: document ${quote(id)} is given twice (also line ${docs.get(id)})`);
    docs.set(id, n);
    lib.documents.push({
      line: n,
      id,
      title: obj.title === undefined ? null : checkTitle(obj.title, at),
      metadata: obj.metadata === undefined ? {} : checkMetadata(obj.metadata, at),
      created_at: timestamp(obj.created_at, 'created_at', at),
      updated_at: timestamp(obj.updated_at, 'updated_at', at),
    });
  }

  private addChunk(n: number, obj: Record<string, unknown>, at: string): void {
    checkKeys(obj, CHUNK_FIELDS, at);
    const lib = this.libraryOf(obj, at);
    const id = checkId(obj.id, 'id', at);
    const chunks = this.seen.get(lib)!.chunks;
    if (chunks.has(id)) throw new InvalidInput(`${at}: chunk ${quote(id)} is given twice (also line ${chunks.get(id)})`);
    const vector = embeddingOf(obj.embedding, lib, at);
    chunks.set(id, n);
    const chunk: Chunk = {
      id,
      text: obj.text === undefined ? '' : checkText(obj.text, at),
      metadata: obj.metadata === undefined ? {} : checkMetadata(obj.metadata, at),
      tags: obj.tags === undefined ? [] : checkTags(obj.tags, at),
      created_at: timestamp(obj.created_at, 'created_at', at),
      updated_at: timestamp(obj.updated_at, 'updated_at', at),
      seq: 0,
    };
    if (obj.doc_id !== undefined && obj.doc_id !== null) chunk.doc_id = checkId(obj.doc_id, 'doc_id', at);
    lib.chunks.push(chunk);
    lib.chunkLines.push(n);
    lib.vectors.push(vector);
    this.chunkCount++;
  }
}

/** Largest resizable ArrayBuffer node 20 makes. */
const MAX_GROWABLE = 2 ** 32;
type Growable = ArrayBuffer & { resize(bytes: number): void };

/**
 * Rows of one library, in one buffer that grows in place (a resizable
 * ArrayBuffer: pages are committed as it grows, nothing is copied), so the
 * library can take it as its vectors and an import of 1M × 384 holds them
 * once. Past 4 GiB, rows go to blocks and `all()` copies them once.
 */
export class RowBuffer {
  private readonly buffer: Growable;
  private readonly blocks: Float32Array[] = [];
  private readonly perBlock: number;
  private readonly inBuffer: number;
  length = 0;

  /** @param maxBytes bytes the growable buffer takes before rows go to blocks (tests make it small) */
  constructor(
    private readonly dim: number,
    maxBytes = MAX_GROWABLE,
  ) {
    // ES2024's constructor option, in node 20; the lib types here are ES2022.
    this.buffer = new (ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Growable)(0, { maxByteLength: maxBytes });
    this.inBuffer = Math.floor(maxBytes / 4 / dim);
    this.perBlock = Math.max(1, Math.floor((4 << 20) / dim));
  }

  push(v: ArrayLike<number>): void {
    const i = this.length++;
    if (i < this.inBuffer) {
      const need = (i + 1) * this.dim * 4;
      if (need > this.buffer.byteLength) this.buffer.resize(Math.min(this.inBuffer * this.dim * 4, Math.max(need, Math.ceil(this.buffer.byteLength * 1.5), 1 << 16)));
      new Float32Array(this.buffer, i * this.dim * 4, this.dim).set(v);
      return;
    }
    const j = i - this.inBuffer;
    if (j % this.perBlock === 0) this.blocks.push(new Float32Array(this.perBlock * this.dim));
    this.blocks[this.blocks.length - 1].set(v, (j % this.perBlock) * this.dim);
  }

  /** Row i, a view. */
  row(i: number): Float32Array {
    if (i < this.inBuffer) return new Float32Array(this.buffer, i * this.dim * 4, this.dim);
    const j = i - this.inBuffer;
    const at = (j % this.perBlock) * this.dim;
    return this.blocks[Math.floor(j / this.perBlock)].subarray(at, at + this.dim);
  }

  /** Every row, row-major: a view of the buffer, or (past 4 GiB) one copy. */
  all(): Float32Array {
    const floats = this.length * this.dim;
    if (this.length <= this.inBuffer) return new Float32Array(this.buffer, 0, floats);
    const out = new Float32Array(floats);
    for (let i = 0; i < this.length; i++) out.set(this.row(i), i * this.dim);
    return out;
  }
}

function embeddingOf(raw: unknown, lib: ImportedLibrary, at: string): Float32Array {
  let v: Float32Array;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !ArrayBuffer.isView(raw)) {
    const { dtype, base64 } = raw as Record<string, unknown>;
    if (dtype !== 'f32' || typeof base64 !== 'string') throw new InvalidInput(`${at}: embedding must be {"dtype": "f32", "base64": "..."} or an array of numbers`);
    let decoded: Float32Array;
    try {
      decoded = decodeBase64(base64, Float32Array);
    } catch (err) {
      throw new InvalidInput(`${at}: embedding: ${(err as Error).message}`);
    }
    // The same checks as numbers get: the length, and finite values (NaN and infinities have bit patterns too).
    v = checkEmbedding(decoded, lib.dim, at);
  } else if (raw === undefined) {
    throw new InvalidInput(`${at}: a chunk line needs its "embedding"`);
  } else {
    v = checkEmbedding(raw, lib.dim, at);
  }
  if (lib.metric === 'cosine' && norm(v, 0, v.length) === 0) throw new InvalidInput(`${at}: embedding is all zeros; cosine distance needs a non-zero vector`);
  return v;
}

function indexDefinition(raw: unknown, at: string): ImportedLibrary['index'] {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidInput(`${at}: index must be null or {"type", "params"}`);
  const { type, params } = raw as Record<string, unknown>;
  checkKeys(raw as Record<string, unknown>, ['type', 'params'], `${at}: index`);
  if (typeof type !== 'string' || !isIndexType(type)) throw new InvalidInput(`${at}: index type ${JSON.stringify(type)} is unknown`);
  const p = params === undefined ? {} : params;
  if (p === null || typeof p !== 'object' || Array.isArray(p) || Object.values(p).some((x) => typeof x !== 'number')) {
    throw new InvalidInput(`${at}: index params must be an object of numbers`);
  }
  return { type, params: p as Record<string, number> };
}

/** `"text_index": {"params": {"k1", "b"}}` or absent; the params are BM25's defaults, the only ones vdb builds. */
function textIndexDefinition(raw: unknown, at: string): boolean {
  if (raw === null || raw === undefined) return false;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidInput(`${at}: text_index must be absent or {"params": {"k1", "b"}}`);
  checkKeys(raw as Record<string, unknown>, ['params'], `${at}: text_index`);
  return true;
}

function timestamp(v: unknown, field: string, at: string): string {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new InvalidInput(`${at}: ${field} must be an ISO 8601 time such as "2024-01-01T00:00:00.000Z"`);
  return v;
}

/** Runs a check whose message has no line yet, adding it. */
function withLine<T>(at: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof InvalidInput) throw new InvalidInput(prefix(at, err.message), { hint: err.hint });
    throw err;
  }
}
