/**
 * local: the tiny random BERT from ../shared/models, offline. Needs the ONNX
 * runtime (vdb model pull local, which .ci/run does): in CI its absence fails
 * the suite; elsewhere these tests skip with a note.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { findTransformers } from '../../src/embed/local.js';
import { embedTexts, openEmbedder, resolveSpec } from '../../src/embed/registry.js';
import { vdbAsync } from '../helpers/cli.js';
import { TEST_MODELS_DIR, TINY_BERT } from '../helpers/models.js';

process.env.VDB_MODELS_DIR = TEST_MODELS_DIR;
process.env.VDB_EMBED_CACHE = 'off';
delete process.env.VDB_ALLOW_DOWNLOAD;
const runtime = await findTransformers();
if (!runtime && process.env.CI !== 'true') console.warn('embed-local: skipped: no @huggingface/transformers (run VDB_MODELS_DIR=node_modules/.cache/vdb-test-models bin/vdb model pull local)');

describe.skipIf(!runtime && process.env.CI !== 'true')('local embedder (tiny-random-bert)', () => {
  beforeAll(() => {
    if (!runtime) throw new Error('CI=true but @huggingface/transformers is not installed: .ci/run must run vdb model pull local');
    if (!TINY_BERT) throw new Error('../shared/models/tiny-random-bert is missing');
  });

  it('loads offline, records its dimension, gives unit vectors, the same alone, in a batch and across runs', async () => {
    const { spec, dim } = await resolveSpec(`local:${TINY_BERT}`);
    expect(spec).toBe(`local:${TINY_BERT}`);
    expect(dim).toBe(384);
    const e = await openEmbedder(spec, dim);
    const texts = ['a small cat', 'the stock market fell sharply today, as it did last week', 'hello'];
    const batch = await embedTexts(e, texts, { inputType: 'document' });
    for (const v of batch) {
      expect(v).toHaveLength(384);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    // Bit for bit: padding in a batch is masked, and each row's sums run in the same order.
    for (let i = 0; i < texts.length; i++) {
      const [alone] = await embedTexts(e, [texts[i]], { inputType: 'query' });
      expect(Array.from(alone)).toEqual(Array.from(batch[i]));
    }
    const run = await vdbAsync(['embed', '--embedder', `local:${TINY_BERT}`, texts[0]], { env: { VDB_MODELS_DIR: TEST_MODELS_DIR, VDB_EMBED_CACHE: 'off' } });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).embedding).toEqual(Array.from(batch[0]));
  });

  it('a folder that is not a model is a clear error', async () => {
    await expect(resolveSpec('local:/nonexistent/model')).rejects.toThrow('local model "/nonexistent/model" not found (no config.json in /nonexistent/model)');
    // A hub name that was never pulled is not fetched at run time.
    await expect(resolveSpec('local:Xenova/not-pulled')).rejects.toThrow(`local model "Xenova/not-pulled" not found (no config.json in ${TEST_MODELS_DIR}/hf/Xenova/not-pulled)`);
  });
});
