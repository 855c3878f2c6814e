/**
 * TypeBox schemas of the REST API. The same objects validate requests,
 * serialize responses and generate /openapi.json, so the docs cannot drift
 * from the code. They check shape only (types, known fields, k's range);
 * the data rules (dimension, names, embedders) stay in the service.
 *
 * The response schemas mirror the wire types of domain/types.ts; the
 * `Same<…>` checks at the bottom fail to compile if the two ever differ.
 */
import { Type } from 'typebox';
import type { Static, TSchema } from 'typebox';
import { HTTP_STATUS } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import type { DocumentView } from '../domain/documents.js';
import type { ChunkView, Hit, IndexBuildView, IndexView, LibraryView, QueryExplain, QueryResult } from '../domain/types.js';
import type * as Wire from '../domain/wire.js';
import { DEFAULT_K, FUSION_METHODS, MAX_EF, MAX_K, SEARCH_MODES, ON_CONFLICT } from '../domain/types.js';
import { MAX_ID_BYTES } from '../domain/validate.js';
import { METRICS } from '../index/kernels.js';
import { INDEX_KINDS, INDEX_TYPES } from '../index/registry.js';

/** Lists return at most this many items per page. */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
/** One bulk insert takes at most this many chunks (the body limit applies too). */
export const MAX_BULK = 10_000;

const strict = { additionalProperties: false } as const;

const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'any JSON object' });
const Tags = Type.Array(Type.String(), { description: 'non-empty strings; duplicates are dropped' });
const Embedding = Type.Array(Type.Number(), { description: "exactly the library's dim finite numbers" });
const idRule = `printable characters, at most ${MAX_ID_BYTES} UTF-8 bytes`;
const UserId = (what: string) => Type.String({ description: `${what}: ${idRule}` });
const DocId = Type.Union([Type.String(), Type.Null()], { description: 'the document the chunk belongs to (in its library), or null' });
export const OnConflictField = Type.Optional(
  Type.Enum(ON_CONFLICT, { default: 'fail', description: 'when an id exists in the library: fail (409, nothing written), skip (leave it) or replace (upsert)' }),
);

// ---- responses ------------------------------------------------------------

/** Every non-2xx answer: `{"error": {"code", "message"}}`. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(HTTP_STATUS) as ErrorCode[], { description: 'stable machine-readable code; it decides the HTTP status' }),
      message: Type.String(),
    }),
  },
  { $id: 'Error' },
);

/** domain/types.ts IndexView. */
export const IndexViewSchema = Type.Object(
  {
    type: Type.Enum(INDEX_TYPES),
    exact: Type.Boolean(),
    params: Type.Record(Type.String(), Type.Number()),
    built_at: Type.String(),
    indexed: Type.Integer({ description: 'chunks the index structure answers for' }),
    unindexed: Type.Integer({ description: 'chunks added or re-embedded since the build; scanned exactly' }),
    stale: Type.Integer({ description: 'index entries of chunks deleted or re-embedded since; skipped' }),
  },
  { $id: 'IndexView' },
);

/** src/text/state.ts TextIndexView. */
export const TextIndexViewSchema = Type.Object(
  {
    built_at: Type.String(),
    params: Type.Object({ k1: Type.Number(), b: Type.Number() }, { description: "BM25's k1 and b" }),
    indexed: Type.Integer({ description: 'chunks whose current text the stored index holds' }),
    unindexed: Type.Integer({ description: 'chunks added or whose text changed since the build; each text query indexes them in memory' }),
    stale: Type.Integer({ description: 'stored entries of chunks deleted or changed since; each text query drops them' }),
    terms: Type.Integer({ description: 'distinct terms of the stored index' }),
    bytes: Type.Integer({ description: 'bytes of its arrays' }),
  },
  { $id: 'TextIndexView', description: 'the full-text (BM25) index a build stored' },
);
const TextIndexOrNull = Type.Union([TextIndexViewSchema, Type.Null()], { description: 'null: none was built; text queries index every chunk in memory' });

/** domain/types.ts IndexBuildView: the index after a build, and what the build did. */
export const IndexBuildViewSchema = Type.Object(
  {
    ...IndexViewSchema.properties,
    build: Type.Object({
      mode: Type.Enum(['full', 'incremental', 'none'], {
        description: 'full: built from scratch; incremental: new and re-embedded chunks inserted, stale entries removed; none: it was up to date',
      }),
      reason: Type.Union([Type.String(), Type.Null()], { description: 'why a full build; null otherwise' }),
      inserted: Type.Integer({ description: 'chunks inserted into the index' }),
      removed: Type.Integer({ description: 'entries of deleted or re-embedded chunks removed' }),
    }),
    text_index: TextIndexOrNull,
    text_build: Type.Union(
      [
        Type.Object({
          mode: Type.Enum(['full', 'incremental', 'none'], { description: 'full: built from nothing; incremental: brought up to date; none: it was' }),
          added: Type.Integer({ description: 'chunk texts added' }),
          removed: Type.Integer({ description: 'stale entries removed' }),
        }),
        Type.Null(),
      ],
      { description: 'what the build did to the full-text index; null: left alone' },
    ),
  },
  { $id: 'IndexBuildView', description: 'the index after the build, and what the build did' },
);

/** domain/types.ts LibraryView, as `vdb lib show --json`. */
export const LibraryViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    dim: Type.Integer(),
    metric: Type.Enum(METRICS),
    embedder: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    chunk_count: Type.Integer(),
    document_count: Type.Integer(),
    index: Type.Union([IndexViewSchema, Type.Null()]),
    text_index: TextIndexOrNull,
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'LibraryView', description: 'a library' },
);

/** domain/types.ts ChunkView, as `vdb chunk get --json`. */
export const ChunkViewSchema = Type.Object(
  {
    id: Type.String(),
    lib_id: Type.String(),
    doc_id: DocId,
    text: Type.String(),
    metadata: Metadata,
    tags: Type.Array(Type.String()),
    created_at: Type.String(),
    updated_at: Type.String(),
    embedding: Type.Optional(Type.Array(Type.Number(), { description: 'only with ?with_embedding=true' })),
  },
  { $id: 'ChunkView', description: 'a chunk' },
);

/** One query hit, as `vdb query --json` prints it. */
export const HitSchema = Type.Object(
  {
    id: Type.String(),
    doc_id: DocId,
    text: Type.String(),
    score: Type.Number({
      description: 'vector mode: as Qdrant reports it, cosine similarity and dot product (higher is nearer), Euclidean distance for l2 (lower is nearer); text mode: the BM25 score; hybrid: the fused score (higher is better)',
    }),
    distance: Type.Union([Type.Number(), Type.Null()], {
      description: 'lower is nearer for every metric: cosine 1 − similarity, l2 Euclidean distance, dot −(q·x); null for a text or hybrid hit the vector search did not find',
    }),
    metadata: Metadata,
    modes: Type.Optional(
      Type.Object(
        {
          vector: Type.Union([Type.Object({ rank: Type.Integer(), score: Type.Number(), distance: Type.Number() }), Type.Null()]),
          text: Type.Union([Type.Object({ rank: Type.Integer(), score: Type.Number() }), Type.Null()]),
        },
        { description: 'text and hybrid queries: the rank (from 1) and score each mode gave the hit; null: that mode did not find it' },
      ),
    ),
  },
  { $id: 'Hit', description: 'one hit of a query' },
);

/** documents.ts DocumentView, as `vdb doc get --json`. */
export const DocumentViewSchema = Type.Object(
  {
    id: Type.String(),
    lib_id: Type.String(),
    title: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    chunk_count: Type.Integer({ description: 'chunks that name this document' }),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { $id: 'DocumentView', description: 'a document' },
);

/** domain/types.ts QueryExplain: how a query was answered. */
export const QueryExplainSchema = Type.Object(
  {
    plan: Type.Enum(['index', 'exact-scan', 'text', 'none'], { description: "index: the index searched (among the matches); exact-scan: every (matching) chunk scored; text: BM25 alone (text mode); none: nothing matches. Hybrid: the vector search's plan" }),
    index: Type.Union([Type.Enum(INDEX_TYPES), Type.Null()]),
    filter: Type.Union([Type.String(), Type.Null()], { description: 'the filter as vdb read it' }),
    chunks: Type.Integer(),
    matches: Type.Union([Type.Integer(), Type.Null()], { description: 'chunks the filter matches; null without a filter' }),
    reason: Type.String({ description: 'why this plan' }),
    search: Type.Union([Type.String(), Type.Null()], { description: 'what the index did, when it says' }),
    unindexed: Type.Integer({ description: 'chunks added or re-embedded since the build, scanned exactly beside the index' }),
    terms: Type.Optional(Type.Array(Type.String(), { description: 'text and hybrid: the terms BM25 matched' })),
  },
  { $id: 'QueryExplain' },
);

/** domain/types.ts QueryResult: `{"hits": [...]}`, with `explain` when asked for. */
export const QueryResultSchema = Type.Object(
  {
    mode: Type.Optional(Type.Enum(['text', 'hybrid'], { description: 'text and hybrid queries only' })),
    hits: Type.Array(HitSchema, { description: 'best first' }),
    explain: Type.Optional(QueryExplainSchema),
  },
  { $id: 'QueryResult', description: 'the k best chunks, best first: nearest (vector), best BM25 score (text) or best fused score (hybrid)' },
);

/** `…/count`: how many chunks (match). */
export const CountSchema = Type.Object({ lib_id: Type.String(), count: Type.Integer() }, { description: 'how many chunks hold, or match the filter' });

/** `POST …/chunks/delete`: what a delete by filter removed (or would, with dry_run). */
export const DeletedSchema = Type.Object(
  { deleted: Type.Integer(), ids: Type.Array(Type.String(), { description: 'in insertion order' }), chunks: Type.Optional(Type.Array(ChunkViewSchema, { description: 'with with_chunks: the chunks themselves' })) },
  { description: 'the chunks deleted (with dry_run: that would be)' },
);

/** `GET …/index`, as `vdb index show --json`. */
export const IndexInfoSchema = Type.Object({
  lib_id: Type.String(),
  chunk_count: Type.Integer(),
  index: Type.Union([IndexViewSchema, Type.Null()], { description: 'null: no index was built; queries scan exactly' }),
  text_index: TextIndexOrNull,
}, { description: "what the library's indexes cover" });

const page = { total: Type.Integer(), offset: Type.Integer(), limit: Type.Integer() };
/** One page of a list: the items, how many there are in all, and the page's bounds. */
export const LibraryPage = Type.Object({ libraries: Type.Array(LibraryViewSchema), ...page }, { description: 'one page of libraries, oldest first' });
export const ChunkPage = Type.Object({ chunks: Type.Array(ChunkViewSchema), ...page }, { description: 'one page of chunks, in insertion order' });
export const DocumentPage = Type.Object({ documents: Type.Array(DocumentViewSchema), ...page }, { description: 'one page of documents, in id order' });
const outcomeCounts = {
  added: Type.Integer(),
  replaced: Type.Integer({ description: 'existing ids replaced (on_conflict replace)' }),
  unchanged: Type.Integer({ description: 'existing ids given again with identical content (nothing written)' }),
  skipped: Type.Integer({ description: 'existing ids left as they were (on_conflict skip)' }),
};
/** Answer of a bulk insert, in input order (a skipped item shows the chunk that was there), and what it did. */
export const ChunkList = Type.Object(
  { chunks: Type.Array(ChunkViewSchema), ...outcomeCounts },
  { description: 'the chunks of the request, in input order, and how many were added, replaced, unchanged and skipped' },
);
/** Answer of a bulk delete: what was deleted. */
export const DeletedChunks = Type.Object({ chunks: Type.Array(ChunkViewSchema) }, { description: 'the chunks deleted' });
/** Answer of a batch of documents, in input order, and what it did. */
export const DocumentList = Type.Object({ documents: Type.Array(DocumentViewSchema), ...outcomeCounts }, { description: 'the documents of the request, in input order, and how many were added, replaced, unchanged and skipped' });
export const DeletedDocuments = Type.Object({ documents: Type.Array(DocumentViewSchema) }, { description: 'the documents deleted, each with the number of its chunks deleted' });
/** `GET /healthz`. */
export const Health = Type.Object({ status: Type.Literal('ok') }, { description: 'the server is up' });

// ---- requests ---------------------------------------------------------------

/** `:lib` in paths: a library id or name. */
export const LibParams = Type.Object({ lib: Type.String({ description: 'library id or name' }) });
export const ChunkParams = Type.Object({ id: Type.String({ description: 'chunk id' }) });
export const LibChunkParams = Type.Object({ lib: LibParams.properties.lib, id: ChunkParams.properties.id });
export const LibDocParams = Type.Object({ lib: LibParams.properties.lib, id: Type.String({ description: 'document id' }) });

/** `?offset&limit`, with defaults, for every list. */
export const PageQuery = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE }),
  },
  strict,
);

const withEmbedding = Type.Boolean({ default: false, description: 'include embeddings' });

/** The filter of a request: JSON and shorthand, ANDed; the service parses and checks them (400 when bad). */
const filterFields = {
  filter: Type.Optional(Type.Unknown({ description: 'JSON filter, e.g. {"lang": "en", "year": {"$gte": 2020}} (README "Filters")' })),
  where: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'shorthand filters such as "lang=en", "year>=2020"; all must hold' })),
};
/** In a query string the JSON filter is text. */
const filterQuery = {
  filter: Type.Optional(Type.String({ description: 'JSON filter (URL-encoded), e.g. {"lang":"en"}' })),
  where: filterFields.where,
};

/** `?offset&limit&with_embedding&filter&where` for chunk lists; `?with_embedding` for one chunk. */
export const ChunkPageQuery = Type.Object({ ...PageQuery.properties, with_embedding: withEmbedding, ...filterQuery }, strict);
/** `POST …/chunks/list`: a page of the chunks matching a filter, the filter in the body. */
export const ChunkListBody = Type.Object(
  { offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })), with_embedding: Type.Optional(withEmbedding), ...filterFields },
  strict,
);
/** `…/count`: in the body (POST) or the query string (GET). */
export const CountBody = Type.Object(filterFields, strict);
export const CountQuery = Type.Object(filterQuery, strict);
/** `POST …/chunks/delete`: a filter is required ({} matches every chunk). */
export const DeleteWhereBody = Type.Object({ ...filterFields, dry_run: Type.Optional(Type.Boolean({ default: false, description: 'say what would be deleted, delete nothing' })), with_chunks: Type.Optional(Type.Boolean({ default: false, description: 'answer with the deleted chunks too' })) }, { ...strict, minProperties: 1 });
export const ChunkGetQuery = Type.Object({ with_embedding: withEmbedding }, strict);

/** `POST /libraries`; defaults and checks as `vdb lib create`. */
export const NewLibraryBody = Type.Object(
  {
    name: Type.String({ description: 'unique name' }),
    dim: Type.Optional(Type.Integer({ description: 'vector dimension; alone: explicit embeddings only' })),
    metric: Type.Optional(Type.Enum(METRICS, { default: 'cosine' })),
    embedder: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'embedder SPEC: letters (the default without dim), glove, openai:MODEL[@DIMS], cohere:MODEL[@DIMS], local:NAME_OR_PATH; or null for explicit embeddings only' })),
    metadata: Type.Optional(Metadata),
  },
  strict,
);

/** `PATCH /libraries/:lib`: at least one field. */
export const LibraryPatchBody = Type.Object({ name: Type.Optional(Type.String()), metadata: Type.Optional(Metadata) }, { ...strict, minProperties: 1 });

const chunkFields = {
  doc_id: Type.Optional(DocId),
  text: Type.Optional(Type.String({ description: "embedded with the library's embedder unless embedding is given" })),
  embedding: Type.Optional(Embedding),
  metadata: Type.Optional(Metadata),
  tags: Type.Optional(Tags),
};

const newChunkFields = { id: Type.Optional(UserId('your own id, unique in the library; generated (chk_…) when absent')), ...chunkFields };
/** One chunk of a bulk insert. */
export const NewChunk = Type.Object(newChunkFields, strict);
/** The seed's `POST /api/v1/chunks/`: one chunk, naming its library. */
export const NewChunkBody = Type.Object({ lib_id: Type.String({ description: 'library id or name' }), ...newChunkFields, on_conflict: OnConflictField }, strict);
/** `POST /libraries/:lib/chunks`: all or nothing. */
export const BulkChunksBody = Type.Object({ chunks: Type.Array(NewChunk, { minItems: 1, maxItems: MAX_BULK }), on_conflict: OnConflictField }, strict);
/** `POST /chunks/delete`: all or none. */
export const ChunkIdsBody = Type.Object(
  { ids: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_BULK, description: 'chunk ids' }), lib: Type.Optional(Type.String({ description: 'their library (needed when several hold an id)' })) },
  strict,
);
/** `PATCH /chunks/:id`: at least one field; a new text is re-embedded; `"doc_id": null` takes it out of its document. */
export const ChunkPatchBody = Type.Object(chunkFields, { ...strict, minProperties: 1 });

const Title = Type.Union([Type.String(), Type.Null()], { description: 'null or "": no title' });
/** `POST /libraries/:lib/documents`. */
export const NewDocumentBody = Type.Object(
  { id: Type.Optional(UserId('your own id (a path, a URL), unique in the library; generated (doc_…) when absent')), title: Type.Optional(Title), metadata: Type.Optional(Metadata), on_conflict: OnConflictField },
  strict,
);
/** One document of a batch. */
export const NewDocument = Type.Object({ id: NewDocumentBody.properties.id, title: NewDocumentBody.properties.title, metadata: NewDocumentBody.properties.metadata }, strict);
/** `POST /libraries/:lib/documents/batch`: all or nothing. */
export const BulkDocumentsBody = Type.Object({ documents: Type.Array(NewDocument, { minItems: 1, maxItems: MAX_BULK }), on_conflict: OnConflictField }, strict);
/** `POST /libraries/:lib/documents/delete`: all or none. */
export const DocumentIdsBody = Type.Object({ ids: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_BULK, description: 'document ids' }) }, strict);
/** `PATCH /libraries/:lib/documents/:id`: at least one field, each replacing the old one. */
export const DocumentPatchBody = Type.Object({ title: Type.Optional(Title), metadata: Type.Optional(Metadata) }, { ...strict, minProperties: 1 });

/** One document of `POST /libraries/:lib/documents/replace`: the document afterwards, with exactly these chunks. */
export const ReplaceDocument = Type.Object(
  {
    id: UserId('the document id'),
    title: Type.Optional(Title),
    metadata: Type.Optional(Metadata),
    chunks: Type.Array(NewChunk, { maxItems: MAX_BULK, description: "its chunks afterwards: each id is added or replaced in place; the document's other chunks are deleted" }),
  },
  strict,
);
/** `POST /libraries/:lib/documents/replace`: what `vdb ingest --remote` sends per batch of files. */
export const ReplaceDocumentsBody = Type.Object(
  {
    documents: Type.Array(ReplaceDocument, { minItems: 1, maxItems: MAX_BULK }),
    isolate: Type.Optional(Type.Boolean({ default: false, description: 'leave out (and report) documents whose input is invalid, instead of refusing the whole request' })),
  },
  strict,
);
const ChunkCounts = Type.Object({ added: Type.Integer(), replaced: Type.Integer(), unchanged: Type.Integer(), removed: Type.Integer() });
export const ReplaceResults = Type.Object(
  {
    results: Type.Array(
      Type.Union([
        Type.Object({ id: Type.String(), document: Type.Enum(['added', 'replaced', 'unchanged']), chunks: ChunkCounts }),
        Type.Object({ id: Type.String(), error: Type.Object({ code: Type.String(), message: Type.String(), hint: Type.Optional(Type.String()) }) }),
      ]),
      { description: 'per document, in request order: what became of it, or (isolate) why it was left out' },
    ),
  },
  { description: 'one atomic change on a single node; on a cluster one per log entry (with isolate, several, each document whole in one)' },
);
/** `POST /libraries/:lib/text-index`. */
export const TextIndexBody = Type.Object(
  { when_worth_it: Type.Optional(Type.Boolean({ default: false, description: 'only when the library is small or at least 1/16 of its rows wait (as vdb ingest does at its end); else answer null' })) },
  strict,
);
export const TextIndexStored = Type.Object(
  { text_build: Type.Union([Type.Object({ mode: Type.Enum(['full', 'incremental', 'none']), added: Type.Integer(), removed: Type.Integer() }), Type.Null()]) },
  { description: 'the full-text index build, or null when it was not worth storing' },
);
const NumberedRecords = Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Record(Type.String(), Type.Unknown())]), {
  maxItems: MAX_BULK + 1,
  description: 'records of a vdb export (README "Export and import"), each with the line it came from: errors name that line',
});
/** `POST /import/check`. */
export const ImportCheckBody = Type.Object(
  {
    records: NumberedRecords,
    on_conflict: OnConflictField,
    outside: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'per library id: documents its chunks name that the export does not hold' })),
  },
  strict,
);
/** `POST /import/batch`. */
export const ImportBatchBody = Type.Object(
  {
    records: NumberedRecords,
    on_conflict: OnConflictField,
    into: Type.Optional(Type.Object({ id: Type.String(), created: Type.Boolean() }, { ...strict, description: "what the library's first batch answered: later batches add to that library" })),
    last: Type.Boolean({ description: "the library's last batch: its indexes are built" }),
    changed: Type.Optional(Type.Boolean({ description: 'earlier batches added or replaced chunks' })),
  },
  strict,
);
const Counts = Type.Object({ added: Type.Integer(), replaced: Type.Integer(), unchanged: Type.Integer(), skipped: Type.Integer() });
export const ImportedLibrarySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created: Type.Boolean(),
    documents: Counts,
    chunks: Counts,
    index: Type.Union([IndexBuildViewSchema.properties.build, Type.Null()], { description: 'the index build (last batch), or null' }),
    text_index: IndexBuildViewSchema.properties.text_build,
  },
  { description: 'what the batch did to its library, as one entry of vdb import --json' },
);

/** A filter in a replicated write: its JSON or shorthand forms, or the AST a Qdrant filter compiled to. */
export const OpFilter = Type.Object({ ...filterFields, ast: Type.Optional(Type.Unknown({ description: "vdb's filter AST (src/filter/ast.ts)" })) }, strict);

// Every index type's options as top-level integers; the service checks which apply to `type`.
const indexOptions: Record<string, TSchema> = {};
for (const kind of Object.values(INDEX_KINDS)) {
  for (const o of kind.options) {
    indexOptions[o.name] ??= Type.Optional(Type.Integer({ minimum: o.min, maximum: o.max, description: `${kind.type}: ${o.description}` }));
  }
}
/**
 * `POST /libraries/:lib/index`: `{}` or `{"type", ...options}`, the seed's form, plus
 * `full`. Without a type: the current index's, else linear (so no schema default).
 */
export const BuildIndexBody = Type.Object(
  {
    type: Type.Optional(Type.Enum(INDEX_TYPES, { description: "default: the library's current index type, else linear" })),
    full: Type.Optional(Type.Boolean({ default: false, description: 'build from scratch even when the current hnsw index could be updated in place' })),
    text: Type.Optional(Type.Boolean({ description: 'true: build the full-text index too, or bring it up to date; false: leave it; absent: bring it up to date if there is one' })),
    ...indexOptions,
  },
  strict,
);

/** `POST /libraries/:lib/query`: an embedding or a text; k defaults to 10. */
export const QueryBody = Type.Object(
  {
    embedding: Type.Optional(Embedding),
    text: Type.Optional(Type.String({ description: "vector mode: embedded with the library's embedder; text and hybrid: its words are matched (BM25)" })),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_K, default: DEFAULT_K })),
    ef: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EF, description: "hnsw only: candidate list size for this query, instead of the index's ef_search" })),
    mode: Type.Optional(Type.Enum(SEARCH_MODES, { description: 'vector: nearest embeddings; text: BM25 over the chunk texts; hybrid: both, fused. Default: hybrid on a library with a full-text index (text without an embedder), vector otherwise' })),
    fusion: Type.Optional(Type.Enum(FUSION_METHODS, { description: 'hybrid: score (min-max scaled scores weighted by alpha, the default) or rrf (reciprocal rank fusion)' })),
    alpha: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "hybrid with score fusion: the vector list's weight (default 0.3)" })),
    ...filterFields,
    explain: Type.Optional(Type.Boolean({ description: 'add "explain": which plan answered and why' })),
  },
  {
    ...strict,
    description: 'vector mode: exactly one of text and embedding; text mode: text; hybrid: text, and an embedding when the library has no embedder',
    examples: [{ text: 'hello vector world', k: 3 }, { embedding: [0.1, 0.2, 0.3], k: 3 }, { text: 'reset my password', mode: 'hybrid', k: 5 }],
  },
);

/** Request and answer types, for the client: plain interfaces in domain/wire.ts, checked against the schemas below. */
export type {
  BuildIndexRequest,
  ChunkListRequest,
  ChunkListView,
  ChunkPageView,
  ChunkPatchRequest,
  CountRequest,
  CountView,
  DeletedView,
  DeleteWhereRequest,
  DocumentPageView,
  DocumentPatchRequest,
  IndexInfo,
  LibraryPageView,
  LibraryPatchRequest,
  NewChunkRequest,
  NewDocumentRequest,
  NewLibraryRequest,
  QueryRequest,
} from '../domain/wire.js';

// ---- compile-time drift checks ------------------------------------------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type SchemasMatchWireTypes = [
  Assert<Same<Static<typeof LibraryViewSchema>, LibraryView>>,
  Assert<Same<Static<typeof ChunkViewSchema>, ChunkView>>,
  Assert<Same<Static<typeof IndexViewSchema>, IndexView>>,
  Assert<Same<Static<typeof IndexBuildViewSchema>, IndexBuildView>>,
  Assert<Same<Static<typeof HitSchema>, Hit>>,
  Assert<Same<Static<typeof DocumentViewSchema>, DocumentView>>,
  Assert<Same<Static<typeof QueryResultSchema>, QueryResult>>,
  Assert<Same<Static<typeof QueryExplainSchema>, QueryExplain>>,
  Assert<Same<Static<typeof NewLibraryBody>, Wire.NewLibraryRequest>>,
  Assert<Same<Static<typeof LibraryPatchBody>, Wire.LibraryPatchRequest>>,
  Assert<Same<Static<typeof NewChunk>, Wire.NewChunkRequest>>,
  Assert<Same<Static<typeof ChunkPatchBody>, Wire.ChunkPatchRequest>>,
  Assert<Same<Static<typeof QueryBody>, Wire.QueryRequest>>,
  Assert<Same<Static<typeof IndexInfoSchema>, Wire.IndexInfo>>,
  Assert<Same<Static<typeof LibraryPage>, Wire.LibraryPageView>>,
  Assert<Same<Static<typeof ChunkPage>, Wire.ChunkPageView>>,
  Assert<Same<Static<typeof DocumentPage>, Wire.DocumentPageView>>,
  Assert<Same<Static<typeof ChunkList>, Wire.ChunkListView>>,
  Assert<Same<Static<typeof NewDocumentBody>, Wire.NewDocumentRequest>>,
  Assert<Same<Static<typeof DocumentPatchBody>, Wire.DocumentPatchRequest>>,
  // Index options are declared per type at run time: every body the schema accepts is a BuildIndexRequest.
  Assert<Static<typeof BuildIndexBody> extends Wire.BuildIndexRequest ? true : false>,
  Assert<Same<Static<typeof ChunkListBody>, Wire.ChunkListRequest>>,
  Assert<Same<Static<typeof CountBody>, Wire.CountRequest>>,
  Assert<Same<Static<typeof DeleteWhereBody>, Wire.DeleteWhereRequest>>,
  Assert<Same<Static<typeof CountSchema>, Wire.CountView>>,
  Assert<Same<Static<typeof DeletedSchema>, Wire.DeletedView>>,
];
