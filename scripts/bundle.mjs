// Bundles the CLI into dist/bundle/ so a cold `vdb` call parses a few files
// instead of resolving dozens of ES modules, and so the CLI needs nothing from
// node_modules at run time: its libraries (commander, chalk, tables, progress
// bars, the fastify server stack) are devDependencies compiled in here. Heavy,
// rarely used modules (tables, progress bars, the REST server) stay in lazily
// loaded chunks.
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

// Old chunks have hashed names: clear them so dist/bundle holds one build.
rmSync('dist/bundle', { recursive: true, force: true });

// Swagger UI serves its page and assets from files beside its own code: copy
// them beside the bundle and point its `__dirname` there.
const require = createRequire(import.meta.url);
const swaggerUi = dirname(require.resolve('@fastify/swagger-ui/package.json'));
cpSync(join(swaggerUi, 'static'), 'dist/bundle/swagger-ui/static', { recursive: true });
const swaggerUiDir = {
  name: 'swagger-ui-dir',
  setup(b) {
    b.onLoad({ filter: /@fastify[\\/]swagger-ui[\\/].*\.js$/ }, (args) => {
      const own = dirname(args.path).slice(swaggerUi.length).replace(/\\/g, '/');
      const contents = readFileSync(args.path, 'utf8').replace(/\b__dirname\b/g, `(__vdbDir + ${JSON.stringify(`/swagger-ui${own}`)})`);
      return { contents, loader: 'js' };
    });
  },
};

// The SIMD kernels' module, assembled once here from the compiled simd.js (so always the bytes of
// this source) instead of at every start of the CLI.
const { kernelModuleBytes } = await import('../dist/index/simd.js');
const { walkModuleBytes } = await import('../dist/index/walk.js');
const base64Of = (bytesOf) => ({ plain: Buffer.from(bytesOf(false)).toString('base64'), shared: Buffer.from(bytesOf(true)).toString('base64') });
const kernelBytes = base64Of(kernelModuleBytes);
// The HNSW walk's module likewise: assembling it took a cold HNSW query ~0.1 s.
const walkBytes = base64Of(walkModuleBytes);

await build({
  // Worker threads load their entry files from beside the chunk that starts them.
  entryPoints: { main: 'src/cli/main.ts', 'ndjson-worker': 'src/cli/ndjson-worker.ts', 'batch-worker': 'src/index/batch-worker.ts', 'build-worker': 'src/index/build-worker.ts', 'query-worker': 'src/index/query-worker.ts', 'build-thread-worker': 'src/index/build-thread-worker.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Runtime dependencies of the library (package.json "dependencies") stay outside, shared with dist/*.js;
  // so does the ONNX runtime, the user's optional install (vdb model pull local).
  external: [...Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {}), '@huggingface/transformers'],
  plugins: [swaggerUiDir],
  define: { __VDB_KERNEL_BYTES__: JSON.stringify(kernelBytes), __VDB_WALK_BYTES__: JSON.stringify(walkBytes) },
  // Bundled CommonJS packages (commander, fastify, …) call require(); swagger-ui reads files by __dirname.
  banner: {
    js: [
      "import { createRequire as __vdbRequire } from 'node:module';",
      "import { dirname as __vdbDirname } from 'node:path';",
      "import { fileURLToPath as __vdbPath } from 'node:url';",
      'const require = __vdbRequire(import.meta.url);',
      'const __vdbDir = __vdbDirname(__vdbPath(import.meta.url));',
    ].join(' '),
  },
  logLevel: 'warning',
});
