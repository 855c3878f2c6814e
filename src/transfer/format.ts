/**
 * The format of `vdb export` and `vdb import`: NDJSON, one record a line.
 *
 *   {"format": "vdb-export", "version": 1}
 *   {"type": "library", "id", "name", "dim", "metric", "embedder", "metadata", "created_at", "updated_at",
 *    "index": null | {"type", "params": {...}}}
 *   {"type": "document", "lib_id", "id", "title", "metadata", "created_at", "updated_at"}
 *   {"type": "chunk", "lib_id", "id", "doc_id", "text", "metadata", "tags", "created_at", "updated_at",
 *    "embedding": {"dtype": "f32", "base64": "..."}}
 *
 * `vdb export` writes the header, then per library its line, its documents
 * in id order and its chunks in row order. Embeddings are little-endian
 * float32 in base64, so every bit survives (a JSON number cannot carry -0);
 * import also takes a plain array of numbers. The index is its definition
 * (type and every parameter): import builds it again. Ids, names and
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
import type { IndexType, Metadata, Metric } from '../domain/types.js';
import { checkEmbedding, checkId, checkKeys, checkMetadata, checkName, checkTags, checkText, checkTitle, prefix } from '../domain/validate.js';
import { getEmbedder } from '../embed/registry.js';
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
  return `${JSON.stringify({
    type: 'library',
    id: lib.id,
    name: lib.name,
    dim: lib.dim,
    metric: lib.metric,
    embedder: lib.embedder,
    metadata: lib.metadata,
    created_at: lib.created_at,
    updated_at: lib.updated_at,
    index: index && { type: index.type, params: index.params },
  })}\n`;
}

export function documentLine(lib: Library, d: Document): string {
  return `${JSON.stringify({ type: 'document', lib_id: lib.id, id: d.id, title: d.title, metadata: d.metadata, created_at: d.created_at, updated_at: d.updated_at })}\n`;
}

export function chunkLine(lib: Library, c: Chunk, vector: Float32Array): string {
  const base64 = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  return `${JSON.stringify({
    type: 'chunk',
    lib_id: lib.id,
    id: c.id,
    doc_id: c.doc_id ?? null,
    text: c.text,
    metadata: c.metadata,
    tags: c.tags,
    created_at: c.created_at,
    updated_at: c.updated_at,
    embedding: { dtype: 'f32', base64 },
  })}\n`;
}

export interface ImportedDocument extends Document {
  line: number;
}

export interface ImportedChunk extends Omit<Chunk, 'seq'> {
  line: number;
}

/** A library line and the documents and chunks that named it. */
export interface ImportedLibrary {
  line: number;
  id: string;
  name: string;
  dim: number;
  metric: Metric;
  embedder: string | null;
  metadata: Metadata;
  created_at: string;
  updated_at: string;
  index: { type: IndexType; params: Record<string, number> } | null;
  documents: ImportedDocument[];
  chunks: ImportedChunk[];
  /** Row i = chunks[i]. */
  vectors: RowBlocks;
}

const LIBRARY_FIELDS = ['type', 'id', 'name', 'dim', 'metric', 'embedder', 'metadata', 'created_at', 'updated_at', 'index'];
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
      const e = withLine(at, () => getEmbedder(embedder));
      if (e.dim !== dim) throw new InvalidInput(`${at}: embedder ${embedder} gives ${e.dim} dims, the library has ${dim}`);
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
      documents: [],
      chunks: [],
      vectors: new RowBlocks(dim),
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
    lib.chunks.push({
      line: n,
      id,
      doc_id: obj.doc_id === undefined || obj.doc_id === null ? undefined : checkId(obj.doc_id, 'doc_id', at),
      text: obj.text === undefined ? '' : checkText(obj.text, at),
      metadata: obj.metadata === undefined ? {} : checkMetadata(obj.metadata, at),
      tags: obj.tags === undefined ? [] : checkTags(obj.tags, at),
      created_at: timestamp(obj.created_at, 'created_at', at),
      updated_at: timestamp(obj.updated_at, 'updated_at', at),
    });
    lib.vectors.push(vector);
    this.chunkCount++;
  }
}

/** Rows packed into blocks of about 16 MiB: no object per row, and no copy of everything as the rows grow. */
export class RowBlocks {
  private readonly blocks: Float32Array[] = [];
  private readonly perBlock: number;
  length = 0;

  constructor(private readonly dim: number) {
    this.perBlock = Math.max(1, Math.floor((4 << 20) / dim));
  }

  push(v: ArrayLike<number>): void {
    const b = Math.floor(this.length / this.perBlock);
    if (b === this.blocks.length) this.blocks.push(new Float32Array(this.perBlock * this.dim));
    this.blocks[b].set(v, (this.length % this.perBlock) * this.dim);
    this.length++;
  }

  /** Row i, a view into its block. */
  row(i: number): Float32Array {
    const at = (i % this.perBlock) * this.dim;
    return this.blocks[Math.floor(i / this.perBlock)].subarray(at, at + this.dim);
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
