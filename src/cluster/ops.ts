/**
 * The one table of writes a cluster replicates: for each kind, how the leader
 * prepares a request (validates it against its state and embeds its texts,
 * once, writing nothing) and how every node applies the prepared write to its
 * replica, in log order. Applying depends only on the replica's state and the
 * entry (the service runs with preparedWrites, the cluster's seed and the
 * entry's time), so every node reaches the same state. A write route, the
 * forwarding endpoint and the CLI's --remote all end up here; a new write is
 * a new row.
 */
import type { DocumentPatch, NewDocument } from '../domain/documents.js';
import type { ChunkPatch, IndexType, LibraryPatch, NewChunk, NewLibrary, OnConflict } from '../domain/types.js';
import type { BuildRequest, MetadataTarget, VdbService } from '../service/service.js';
import type { FilterInput } from '../filter/parse.js';
import type { Metadata } from '../domain/types.js';
import { InvalidInput } from '../domain/errors.js';
import { readRecords } from '../transfer/format.js';
import type { NumberedRecord } from '../transfer/format.js';
import { failureView, prepareReplacements } from '../service/replace.js';
import type { DocumentReplacement, ReplaceFailureView, ReplaceResult } from '../service/replace.js';

export interface Prepared {
  /** JSON. */
  payload: unknown;
  /** Rows the payload refers to by position. */
  vectors: Float32Array[];
}

interface OpSpec<I, R> {
  /** On the leader, against its replica: may read, validate and embed; never writes. */
  prepare(svc: VdbService, input: I): Promise<Prepared>;
  /** On every node: the write itself. Throws before changing anything when it fails. */
  apply(svc: VdbService, payload: any, vectors: Float32Array[]): Promise<R>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function op<I, R>(spec: OpSpec<I, R>): OpSpec<I, R> {
  return spec;
}

const plain = (payload: unknown): Prepared => ({ payload, vectors: [] });

/** A library as its id: the write goes to the library the request named, even if it is renamed meanwhile. */
function libId(svc: VdbService, ref: string): string {
  return svc.getLibrary(ref).id;
}

export const OPS = {
  'library.create': op({
    prepare: async (svc, input: NewLibrary) => plain(await svc.prepareLibrary(input)),
    apply: (svc, p: NewLibrary) => svc.createLibrary(p),
  }),
  'library.update': op({
    prepare: async (svc, { lib, patch }: { lib: string; patch: LibraryPatch }) => plain({ lib: libId(svc, lib), patch }),
    apply: (svc, p: { lib: string; patch: LibraryPatch }) => svc.updateLibrary(p.lib, p.patch),
  }),
  'library.delete': op({
    prepare: async (svc, { lib }: { lib: string }) => plain({ lib: libId(svc, lib) }),
    apply: (svc, p: { lib: string }) => svc.deleteLibrary(p.lib),
  }),
  'chunk.put': op({
    prepare: async (svc, { lib, items, on_conflict }: { lib: string; items: NewChunk[]; on_conflict?: OnConflict }) => {
      const id = libId(svc, lib);
      const ready = await svc.prepareChunkPut(id, items, { onConflict: on_conflict });
      // Items on_conflict skip leaves alone carry no vector (row -1).
      const vectors: Float32Array[] = [];
      const rows = ready.map((c) => (c.embedding === undefined ? -1 : vectors.push(c.embedding as Float32Array) - 1));
      return { payload: { lib: id, items: ready.map(({ embedding: _, ...rest }) => rest), rows, on_conflict }, vectors };
    },
    apply: (svc, p: { lib: string; items: NewChunk[]; rows: number[]; on_conflict?: OnConflict }, vectors) => {
      if (p.rows.length !== p.items.length || p.rows.some((r) => r >= vectors.length)) throw new InvalidInput('a chunk.put entry names vectors it does not hold');
      return svc.putChunks(p.lib, p.items.map((item, i) => (p.rows[i] < 0 ? item : { ...item, embedding: vectors[p.rows[i]] })), { onConflict: p.on_conflict });
    },
  }),
  'chunk.update': op({
    prepare: async (svc, { id, patch, lib }: { id: string; patch: ChunkPatch; lib?: string }) => {
      const libRef = lib === undefined ? undefined : libId(svc, lib);
      const { embedding, ...rest } = await svc.prepareChunkPatch(id, patch, libRef);
      return { payload: { id, patch: rest, lib: libRef }, vectors: embedding === undefined ? [] : [embedding as Float32Array] };
    },
    apply: (svc, p: { id: string; patch: ChunkPatch; lib?: string }, vectors) => svc.updateChunk(p.id, vectors.length === 1 ? { ...p.patch, embedding: vectors[0] } : p.patch, p.lib),
  }),
  'chunk.delete': op({
    prepare: async (svc, { ids, lib }: { ids: string[]; lib?: string }) => plain({ ids, lib: lib === undefined ? undefined : libId(svc, lib) }),
    apply: (svc, p: { ids: string[]; lib?: string }) => svc.deleteChunks(p.ids, p.lib),
  }),
  'chunk.delete_where': op({
    // The filter is evaluated when the entry is applied, at its place in the log: the same chunks on every node.
    prepare: async (svc, { lib, filter }: { lib: string; filter: FilterInput }) => {
      const id = libId(svc, lib);
      await svc.deleteWhere(id, filter, { dryRun: true });
      return plain({ lib: id, filter: filterOf(filter) });
    },
    apply: (svc, p: { lib: string; filter: FilterInput }) => svc.deleteWhere(p.lib, p.filter),
  }),
  'doc.add': op({
    prepare: async (svc, { lib, items, on_conflict }: { lib: string; items: NewDocument[]; on_conflict?: OnConflict }) => plain({ lib: libId(svc, lib), items, on_conflict }),
    apply: (svc, p: { lib: string; items: NewDocument[]; on_conflict?: OnConflict }) => svc.documents.add(p.lib, p.items, { onConflict: p.on_conflict }),
  }),
  'doc.update': op({
    prepare: async (svc, { id, patch, lib }: { id: string; patch: DocumentPatch; lib?: string }) => plain({ id, patch, lib: lib === undefined ? undefined : libId(svc, lib) }),
    apply: (svc, p: { id: string; patch: DocumentPatch; lib?: string }) => svc.documents.update(p.id, p.patch, p.lib),
  }),
  'doc.delete': op({
    prepare: async (svc, { ids, lib }: { ids: string[]; lib?: string }) => plain({ ids, lib: lib === undefined ? undefined : libId(svc, lib) }),
    apply: (svc, p: { ids: string[]; lib?: string }) => svc.documents.delete(p.ids, p.lib),
  }),
  'doc.replace': op({
    // The leader checks and embeds; documents it leaves out (isolate) travel as failures, by input position.
    prepare: async (svc, { lib, items, isolate }: { lib: string; items: DocumentReplacement[]; isolate?: boolean }) => {
      const id = libId(svc, lib);
      const { ready, failed } = await prepareReplacements(svc, id, items, { isolate });
      const vectors: Float32Array[] = [];
      const docs = ready.map(({ item }) => ({ ...item, chunks: item.chunks.map(({ embedding, ...rest }) => (vectors.push(embedding as Float32Array), rest)) }));
      const failures = [...failed].map(([i, error]) => ({ at: i, ...failureView({ id: String(items[i]?.id), error }) }));
      return { payload: { lib: id, count: items.length, at: ready.map((r) => r.at), items: docs, failed: failures, isolate }, vectors };
    },
    apply: async (svc, p: { lib: string; count: number; at: number[]; items: DocumentReplacement[]; failed: (ReplaceFailureView & { at: number })[]; isolate?: boolean }, vectors) => {
      let k = 0;
      const items = p.items.map((d) => ({ ...d, chunks: d.chunks.map((c) => ({ ...c, embedding: vectors[k++] })) }));
      if (k !== vectors.length || p.at.length !== items.length) throw new InvalidInput('a doc.replace entry names vectors it does not hold');
      const out: (ReplaceResult | ReplaceFailureView)[] = new Array(p.count);
      if (items.length > 0) {
        const results = await svc.documents.replace(p.lib, items, { isolate: p.isolate });
        results.forEach((r, j) => (out[p.at[j]] = 'error' in r ? failureView(r) : r));
      }
      for (const { at, ...f } of p.failed) out[at] = f;
      return out;
    },
  }),
  'chunk.set_metadata': op({
    // Chunks picked by a filter are picked where the entry lands in the log, as chunk.delete_where.
    prepare: async (svc, { lib, target, values, mode, path }: { lib: string; target: MetadataTarget; values: Metadata; mode: 'merge' | 'replace'; path?: string[] }) =>
      plain({ lib: libId(svc, lib), target: targetOf(target), values, mode, path }),
    apply: (svc, p: { lib: string; target: MetadataTarget; values: Metadata; mode: 'merge' | 'replace'; path?: string[] }) => svc.setMetadata(p.lib, p.target, p.values, { mode: p.mode, path: p.path }),
  }),
  'chunk.unset_metadata': op({
    prepare: async (svc, { lib, target, paths }: { lib: string; target: MetadataTarget; paths: string[][] }) => plain({ lib: libId(svc, lib), target: targetOf(target), paths }),
    apply: (svc, p: { lib: string; target: MetadataTarget; paths: string[][] }) => svc.unsetMetadata(p.lib, p.target, p.paths),
  }),
  'text.store': op({
    // Whether it is worth storing is decided on each replica, which are all at the same state there.
    prepare: async (svc, { lib, when_worth_it }: { lib: string; when_worth_it?: boolean }) => plain({ lib: libId(svc, lib), when_worth_it }),
    apply: (svc, p: { lib: string; when_worth_it?: boolean }) => svc.storeTextIndex(p.lib, { whenWorthIt: p.when_worth_it }),
  }),
  'library.import': op({
    // Records travel as read (embeddings in base64, every bit kept); the leader reads them once to refuse a bad batch before it is appended.
    prepare: async (_svc, input: { records: NumberedRecord[]; on_conflict?: OnConflict; into?: { id: string; created: boolean }; last: boolean; changed?: boolean }) => {
      readRecords(input.records);
      return plain(input);
    },
    apply: (svc, p: { records: NumberedRecord[]; on_conflict?: OnConflict; into?: { id: string; created: boolean }; last: boolean; changed?: boolean }) =>
      svc.importBatch(p.records, { onConflict: p.on_conflict, into: p.into, last: p.last, changed: p.changed }),
  }),
  'index.build': op({
    prepare: async (svc, { lib, req }: { lib: string; req: BuildRequest }) => plain({ lib: libId(svc, lib), req: { type: req.type as IndexType | undefined, params: req.params, full: req.full, text: req.text } }),
    apply: (svc, p: { lib: string; req: BuildRequest }) => svc.buildIndex(p.lib, p.req),
  }),
} satisfies Record<string, OpSpec<never, unknown>>;

/** A filter as JSON for the log: its text forms, or the AST a Qdrant filter compiled to. */
function filterOf(f: FilterInput): FilterInput {
  return { filter: f.filter, where: f.where, ast: f.ast };
}

function targetOf(t: MetadataTarget): MetadataTarget {
  return t.filter ? { filter: filterOf(t.filter) } : { ids: t.ids };
}

export type OpKind = keyof typeof OPS;
export type OpInput<K extends OpKind> = Parameters<(typeof OPS)[K]['prepare']>[1];
export type OpResult<K extends OpKind> = Awaited<ReturnType<(typeof OPS)[K]['apply']>>;

export function isOpKind(kind: unknown): kind is OpKind {
  return typeof kind === 'string' && Object.hasOwn(OPS, kind);
}
