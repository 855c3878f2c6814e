/** Models the embedder tests share: converted or installed once, reused across runs. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, vdbAsync } from './cli.js';

/** Where the tests keep models: VDB_TEST_MODELS_DIR, else inside node_modules (gone with a fresh clone). */
export const TEST_MODELS_DIR = process.env.VDB_TEST_MODELS_DIR ?? join(ROOT, 'node_modules', '.cache', 'vdb-test-models');

/** ../shared/models/tiny-random-bert beside the clone, else the workplace's copy. */
export const TINY_BERT = [join(ROOT, '..', 'shared', 'models', 'tiny-random-bert'), '/work/shared/models/tiny-random-bert'].find((p) => existsSync(p)) ?? '';

/** Converts GloVe from node_modules (the devDependency) once; ~10 s the first time. */
export async function ensureGlove(): Promise<void> {
  if (existsSync(join(TEST_MODELS_DIR, 'glove', 'glove-6B-100d.v1.bin'))) return;
  const r = await vdbAsync(['model', 'pull', 'glove'], { env: { VDB_MODELS_DIR: TEST_MODELS_DIR } });
  if (r.code !== 0) throw new Error(`vdb model pull glove failed (${r.code}): ${r.stderr}`);
}
