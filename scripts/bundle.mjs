// Bundles the CLI into dist/bundle/ so a cold `vdb` call parses a few files
// instead of resolving dozens of ES modules. Heavy, rarely used modules
// (tables, progress bars, the REST server) stay in lazily loaded chunks.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Old chunks have hashed names: clear them so dist/bundle holds one build.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  // Worker threads load their entry files from beside the chunk that starts them.
  entryPoints: { main: 'src/cli/main.ts', 'ndjson-worker': 'src/cli/ndjson-worker.ts', 'batch-worker': 'src/index/batch-worker.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The server stack is loaded from node_modules only by `vdb serve`.
  // The ONNX runtime is the user's optional install (vdb model pull local): never bundled.
  external: ['fastify', '@fastify/*', 'typebox', '@huggingface/transformers'],
  // Bundled CommonJS packages (commander, proper-lockfile) call require().
  banner: { js: "import { createRequire as __vdbRequire } from 'node:module'; const require = __vdbRequire(import.meta.url);" },
  logLevel: 'warning',
});
