/**
 * Where embedders keep their files. Everything lives under one cache folder
 * (XDG): models (the converted GloVe table, the ONNX runtime vdb installs) and
 * the embedding cache, each movable on its own.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `$VDB_CACHE_DIR`, else `$XDG_CACHE_HOME/vdb`, else `~/.cache/vdb`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VDB_CACHE_DIR) return resolve(env.VDB_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec ignores relative paths.
  return xdg && xdg.startsWith('/') ? join(xdg, 'vdb') : join(homedir(), '.cache', 'vdb');
}

/** Installed models: `$VDB_MODELS_DIR`, else `<cache>/models`. */
export function modelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VDB_MODELS_DIR ? resolve(env.VDB_MODELS_DIR) : join(cacheRoot(env), 'models');
}

/** The embedding cache folder, or null when `VDB_EMBED_CACHE=off`. */
export function embedCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env.VDB_EMBED_CACHE;
  if (v === 'off' || v === '0' || v === 'false') return null;
  return v ? resolve(v) : join(cacheRoot(env), 'embeddings');
}
