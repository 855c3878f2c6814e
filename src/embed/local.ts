/**
 * `local:NAME_OR_PATH`: a sentence-embedding model run on the CPU by
 * @huggingface/transformers (ONNX). The runtime is not a dependency of vdb
 * (it brings ~470 MB): it is found next to vdb (a user's `npm install
 * @huggingface/transformers`) or where `vdb model pull local` installs it.
 * Models load from a folder (local:./my-model) or from vdb's model folder
 * (local:Xenova/all-MiniLM-L6-v2 after `vdb model pull local:Xenova/…`);
 * nothing is downloaded at run time unless VDB_ALLOW_DOWNLOAD=1.
 * Pooling and normalisation follow the model's sentence-transformers files
 * (1_Pooling/config.json, modules.json); without them, mean pooling and unit length.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmbedderError } from '../domain/errors.js';
import { modelsDir } from './paths.js';
import type { ResolvedSpec } from './registry.js';
import type { Embedder } from './types.js';

export const TRANSFORMERS_PACKAGE = '@huggingface/transformers';
export const TRANSFORMERS_VERSION = '4.3.2';

/** Where `vdb model pull local` installs the runtime (an npm prefix of its own). */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(modelsDir(env), 'transformers');
}

/** Where named models live (`vdb model pull local:NAME` downloads into it). */
export function hubDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(modelsDir(env), 'hf');
}

// The runtime is not a dependency, so its types are not there to import.
type Transformers = any;

/** The runtime, or null when it is installed nowhere vdb looks. */
export async function findTransformers(env: NodeJS.ProcessEnv = process.env): Promise<{ mod: Transformers; from: string } | null> {
  const places = [import.meta.url, pathToFileURL(join(runtimeDir(env), 'package.json')).href];
  for (const place of places) {
    let path: string;
    try {
      path = createRequire(place).resolve(TRANSFORMERS_PACKAGE);
    } catch {
      continue;
    }
    const mod = await importModule(pathToFileURL(path).href);
    return { mod: mod.pipeline ? mod : mod.default, from: path };
  }
  return null;
}

/**
 * import() of an ES module outside vdb. The CLI script takes bin/vdb's (its own
 * import() is lost when V8 compiles it from the code cache, and it is built
 * with import() turned into require(), which an ES module may refuse).
 */
function importModule(url: string): Promise<Transformers> {
  const fromBin = (globalThis as { __vdbImport?: (url: string) => Promise<Transformers> }).__vdbImport;
  return fromBin ? fromBin(url) : import(url);
}

async function transformers(): Promise<Transformers> {
  const found = await findTransformers();
  if (!found) {
    throw new EmbedderError(`local embedders need ${TRANSFORMERS_PACKAGE}, which is not installed`, {
      hint: `run vdb model pull local (about 470 MB), or npm install ${TRANSFORMERS_PACKAGE} next to vdb`,
    });
  }
  return found.mod;
}

interface ModelPlace {
  /** transformers' localModelPath and the model id inside it. */
  root: string;
  id: string;
  /** The model's folder. */
  dir: string;
}

function isPath(nameOrPath: string): boolean {
  return isAbsolute(nameOrPath) || nameOrPath.startsWith('.') || nameOrPath.startsWith('~') || existsSync(nameOrPath);
}

/** The model's folder: a path as given, else a named model in vdb's model folder. */
function place(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): ModelPlace {
  if (isPath(nameOrPath)) {
    const dir = resolve(nameOrPath.replace(/^~(?=\/|$)/, process.env.HOME ?? '~'));
    return { root: `${dirname(dir)}/`, id: basename(dir), dir };
  }
  return { root: `${hubDir(env)}/`, id: nameOrPath, dir: join(hubDir(env), nameOrPath) };
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

interface ModelFacts {
  dim: number;
  pooling: 'mean' | 'cls';
  normalize: boolean;
  dtype: 'fp32' | 'q8' | undefined;
  /** Changes when the weights do: part of the cache key. */
  fingerprint: string;
}

function modelFacts(p: ModelPlace, spec: string): ModelFacts {
  const config = readJson(join(p.dir, 'config.json'));
  if (!config) {
    throw new EmbedderError(`local model "${spec.slice('local:'.length)}" not found (no config.json in ${p.dir})`, {
      hint: 'give the folder of an ONNX model (config.json, tokenizer.json, onnx/model.onnx), or run vdb model pull local:NAME',
    });
  }
  const pool = readJson(join(p.dir, '1_Pooling', 'config.json'));
  const modules = readJson(join(p.dir, 'modules.json')) as unknown as { type?: string }[] | null;
  const dim = Number(pool?.word_embedding_dimension ?? config.hidden_size ?? config.dim ?? config.d_model);
  if (!Number.isInteger(dim) || dim < 1) throw new EmbedderError(`local model ${p.dir}: config.json gives no hidden_size`);
  const onnx = ['model.onnx', 'model_quantized.onnx'].map((f) => join(p.dir, 'onnx', f)).find((f) => existsSync(f));
  const st = onnx ? statSync(onnx) : null;
  return {
    dim,
    pooling: pool?.pooling_mode_cls_token === true ? 'cls' : 'mean',
    normalize: Array.isArray(modules) ? modules.some((m) => typeof m?.type === 'string' && m.type.endsWith('Normalize')) : true,
    dtype: onnx?.endsWith('model.onnx') ? 'fp32' : onnx ? 'q8' : undefined,
    fingerprint: st ? `${st.size}:${Math.floor(st.mtimeMs)}` : 'remote',
  };
}

/** The SPEC a new library records (paths made absolute) and its dimension. */
export async function resolveLocal(nameOrPath: string): Promise<ResolvedSpec> {
  const p = place(nameOrPath);
  const spec = `local:${isPath(nameOrPath) ? p.dir : nameOrPath}`;
  const facts = modelFacts(p, spec);
  await transformers();
  return { spec, dim: facts.dim };
}

export async function localEmbedder(nameOrPath: string): Promise<Embedder> {
  const p = place(nameOrPath);
  const spec = `local:${nameOrPath}`;
  const facts = modelFacts(p, spec);
  const t = await transformers();
  t.env.allowLocalModels = true;
  t.env.localModelPath = p.root;
  t.env.cacheDir = hubDir();
  t.env.allowRemoteModels = process.env.VDB_ALLOW_DOWNLOAD === '1';
  let extractor: Promise<Transformers> | null = null;
  return {
    spec,
    dim: facts.dim,
    maxBatch: 32,
    cacheScope: facts.fingerprint,
    async embed(texts) {
      extractor ??= t.pipeline('feature-extraction', p.id, { dtype: facts.dtype, device: 'cpu' }).catch((err: Error) => {
        extractor = null;
        throw new EmbedderError(`local model ${p.dir} did not load: ${err.message.split('\n')[0]}`);
      });
      const run = await extractor;
      const out = await run(texts, { pooling: facts.pooling, normalize: facts.normalize });
      const data = out.data as Float32Array;
      const [n, d] = out.dims as number[];
      if (n !== texts.length || d !== facts.dim) throw new EmbedderError(`local model ${p.dir} gave ${n}×${d} values for ${texts.length} texts of ${facts.dim} dims`);
      return Array.from({ length: n }, (_, i) => data.slice(i * d, (i + 1) * d));
    },
    async close() {
      const run = await extractor?.catch(() => null);
      await run?.dispose?.();
    },
  };
}
