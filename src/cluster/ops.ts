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
import type { ChunkPatch, IndexType, LibraryPatch, NewChunk, NewLibrary } from '../domain/types.js';
import type { BuildRequest, VdbService } from '../service/service.js';
import { isObject } from '../store/snapshot.js';
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
  'chunk.add': op({
    prepare: async (svc, { lib, items }: { lib: string; items: NewChunk[] }) => {
      const id = libId(svc, lib);
      const ready = await svc.prepareChunks(id, items);
      return { payload: { lib: id, items: ready.map(({ embedding: _, ...rest }) => rest) }, vectors: ready.map((c) => c.embedding as Float32Array) };
    },
    apply: (svc, p: { lib: string; items: NewChunk[] }, vectors) => {
      if (vectors.length !== p.items.length) throw new InvalidInput('a chunk.add entry needs one vector per chunk');
      return svc.addChunks(p.lib, p.items.map((item, i) => ({ ...item, embedding: vectors[i] })));
    },
  }),
  'chunk.update': op({
    prepare: async (svc, { id, patch }: { id: string; patch: ChunkPatch }) => {
      const { embedding, ...rest } = await svc.prepareChunkPatch(id, patch);
      return { payload: { id, patch: rest }, vectors: embedding === undefined ? [] : [embedding as Float32Array] };
    },
    apply: (svc, p: { id: string; patch: ChunkPatch }, vectors) => svc.updateChunk(p.id, vectors.length === 1 ? { ...p.patch, embedding: vectors[0] } : p.patch),
  }),
  'chunk.delete': op({
    prepare: async (_svc, { ids }: { ids: string[] }) => plain({ ids }),
    apply: (svc, p: { ids: string[] }) => svc.deleteChunks(p.ids),
  }),
  'index.build': op({
    prepare: async (svc, { lib, req }: { lib: string; req: BuildRequest }) => plain({ lib: libId(svc, lib), req: { type: req.type as IndexType | undefined, params: req.params, full: req.full } }),
    apply: (svc, p: { lib: string; req: BuildRequest }) => svc.buildIndex(p.lib, p.req),
  }),
} satisfies Record<string, OpSpec<never, unknown>>;

export type OpKind = keyof typeof OPS;
export type OpInput<K extends OpKind> = Parameters<(typeof OPS)[K]['prepare']>[1];
export type OpResult<K extends OpKind> = Awaited<ReturnType<(typeof OPS)[K]['apply']>>;

export function isOpKind(kind: unknown): kind is OpKind {
  return typeof kind === 'string' && Object.hasOwn(OPS, kind);
}

/** Checks a forwarded request's shape before it reaches prepare (a node's own routes build it typed). */
export function checkOpRequest(body: unknown): { kind: OpKind; input: unknown; key: string | undefined } {
  if (!isObject(body) || !isOpKind(body.kind) || !isObject(body.input)) throw new InvalidInput(`an op request is {"kind": one of ${Object.keys(OPS).join(', ')}, "input": {...}, "key"?}`);
  if (body.key !== undefined && (typeof body.key !== 'string' || body.key === '' || body.key.length > 200)) throw new InvalidInput('key must be a string of 1 to 200 characters');
  return { kind: body.kind, input: body.input, key: body.key as string | undefined };
}
