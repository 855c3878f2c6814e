/**
 * The embedding cache: one small file per vector, named by the SHA-256 of
 * (SPEC, scope, input type, text), under `<cache>/embeddings/ab/cdef…`. A
 * text embedded once is never sent again. Files are written to a temporary
 * name and renamed, so concurrent writers and readers never see half a file;
 * the folder is bounded (VDB_EMBED_CACHE_MAX_MB, oldest files evicted first).
 * Only vectors are stored: no text, no key.
 *
 *   file: "VDBE" | u32 dim | f32[dim] | u32 crc32 of the f32 bytes
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { InputType } from './types.js';

const MAGIC = 0x45424456; // "VDBE" little-endian
const DEFAULT_MAX_MB = 512;
const DAY_MS = 86_400_000;

export class EmbeddingCache {
  private written = 0;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  static fromEnv(dir: string, env: NodeJS.ProcessEnv = process.env): EmbeddingCache {
    const mb = Number(env.VDB_EMBED_CACHE_MAX_MB);
    return new EmbeddingCache(dir, (Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_MAX_MB) * 1024 * 1024);
  }

  /** The key of one text: everything that decides its vector, hashed. */
  static key(spec: string, scope: string, inputType: InputType, text: string): string {
    return createHash('sha256').update(`vdb-embed-1\0${spec}\0${scope}\0${inputType}\0`).update(text, 'utf8').digest('hex');
  }

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), key.slice(2));
  }

  /** The cached vector, or null (missing, of another dimension or damaged: treated as a miss). */
  get(key: string, dim: number): Float32Array | null {
    let b: Buffer;
    const p = this.path(key);
    try {
      b = readFileSync(p);
    } catch {
      return null;
    }
    if (b.length !== 12 + 4 * dim || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== dim) return null;
    const body = b.subarray(8, 8 + 4 * dim);
    if (crc32(body) !== b.readUInt32LE(8 + 4 * dim)) return null;
    // Recently used files survive eviction; touching at most daily keeps hits read-only.
    try {
      if (Date.now() - statSync(p).mtimeMs > DAY_MS) {
        const now = new Date();
        utimesSync(p, now, now);
      }
    } catch {
      // Evicted meanwhile: the vector read is still good.
    }
    return new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  }

  /** Stores vectors; failures (disk full, read-only folder) only cost a later miss. */
  putMany(entries: [key: string, vector: Float32Array][]): void {
    for (const [key, vector] of entries) {
      const p = this.path(key);
      const b = Buffer.alloc(12 + 4 * vector.length);
      b.writeUInt32LE(MAGIC, 0);
      b.writeUInt32LE(vector.length, 4);
      Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(b, 8);
      b.writeUInt32LE(crc32(b.subarray(8, 8 + 4 * vector.length)), 8 + 4 * vector.length);
      const tmp = `${p}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        mkdirSync(join(this.dir, key.slice(0, 2)), { recursive: true });
        writeFileSync(tmp, b);
        renameSync(tmp, p);
        this.written += b.length;
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // never created
        }
      }
    }
    if (this.written > this.maxBytes / 16) {
      this.written = 0;
      this.evict();
    }
  }

  /** Deletes the oldest files until the folder is under 3/4 of its bound; old temp files go too. */
  evict(): void {
    const files: { path: string; size: number; mtime: number }[] = [];
    let total = 0;
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return;
    }
    const now = Date.now();
    for (const shard of shards) {
      let names: string[];
      try {
        names = readdirSync(join(this.dir, shard));
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(this.dir, shard, name);
        try {
          const st = statSync(path);
          if (name.endsWith('.tmp')) {
            if (now - st.mtimeMs > 3_600_000) unlinkSync(path);
            continue;
          }
          files.push({ path, size: st.size, mtime: st.mtimeMs });
          total += st.size;
        } catch {
          // removed by another process
        }
      }
    }
    if (total <= this.maxBytes) return;
    files.sort((a, b) => a.mtime - b.mtime || (a.path < b.path ? -1 : 1));
    for (const f of files) {
      if (total <= this.maxBytes * 0.75) break;
      try {
        unlinkSync(f.path);
      } catch {
        // already gone
      }
      total -= f.size;
    }
  }
}
