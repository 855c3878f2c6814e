// Bundles the CLI into dist/bundle/ so a cold `vdb` call parses a few files
// instead of resolving dozens of ES modules. Heavy, rarely used modules
// (tables, progress bars, the REST server) stay in lazily loaded chunks.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Old chunks have hashed names: clear them so dist/bundle holds one build.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  // Worker threads load their entry files from beside the chunk that starts them.
  entryPoints: { main: 'src/cli/main.ts', 'ndjson-worker': 'src/cli/ndjson-worker.ts', 'batch-worker': 'src/index/batch-worker.ts', 'build-worker': 'src/index/build-worker.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The server stack is loaded from node_modules only by `vdb serve`; the lock addon is a native file found there.
  external: ['fastify', '@fastify/*', 'typebox', 'fs-native-extensions', 'fs-native-extensions/*'],
  // Bundled CommonJS packages (commander) call require().
  banner: { js: "import { createRequire as __vdbRequire } from 'node:module'; const require = __vdbRequire(import.meta.url);" },
  logLevel: 'warning',
});
