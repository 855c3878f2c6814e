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
import type { BuildRequest, VdbService } from '../service/service.js';
import type { FilterInput } from '../filter/parse.js';
import { InvalidInput } from '../domain/errors.js';

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
      return plain({ lib: id, filter: { filter: filter.filter, where: filter.where } });
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
  'index.build': op({
    prepare: async (svc, { lib, req }: { lib: string; req: BuildRequest }) => plain({ lib: libId(svc, lib), req: { type: req.type as IndexType | undefined, params: req.params, full: req.full, text: req.text } }),
    apply: (svc, p: { lib: string; req: BuildRequest }) => svc.buildIndex(p.lib, p.req),
  }),
} satisfies Record<string, OpSpec<never, unknown>>;

export type OpKind = keyof typeof OPS;
export type OpInput<K extends OpKind> = Parameters<(typeof OPS)[K]['prepare']>[1];
export type OpResult<K extends OpKind> = Awaited<ReturnType<(typeof OPS)[K]['apply']>>;

export function isOpKind(kind: unknown): kind is OpKind {
  return typeof kind === 'string' && Object.hasOwn(OPS, kind);
}
