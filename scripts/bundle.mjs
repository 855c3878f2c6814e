// Bundles the CLI into dist/bundle/: one CommonJS script (cli.cjs) that bin/vdb
// compiles with a V8 code cache made here, so a cold `vdb` call compiles almost
// nothing and resolves no module graph; and one CommonJS script per worker
// thread's entry. The CLI needs nothing from node_modules at run
// time: its libraries (commander, chalk, tables, progress bars, the fastify
// server stack) are devDependencies compiled in here. Heavy, rarely used modules
// (tables, progress bars, the REST server) are run only when first imported.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { STAMP, buildInputs } from './build-inputs.mjs';

// Taken first: a source edited while this runs makes the next `npm test` build again.
const inputs = buildInputs();

// Clear it, so dist/bundle holds one build (and no ES module chunks of older ones).
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

// The REST server's packages (fastify and its plugins, typebox), one CommonJS module made by a build of its own
// and run when `vdb serve` first requires it. Bundled as they are, typebox's ~2,200 functions (it is ES modules)
// sat at the top level of cli.cjs and were made at every start, and each of fastify's ~150 CommonJS files added
// a wrapper there: ~10 ms and 350 KB of code cache on a cold query. One module also keeps one copy of what they
// share; minified, as only stack traces inside these packages lose their names.
const SERVER_PACKAGES = ['fastify', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/type-provider-typebox', 'typebox'];
const SERVER_IMPORTS = [...SERVER_PACKAGES, 'typebox/compile', 'typebox/format', 'typebox/value'];

/** A plugin that bundles `imports` (of `packages`) as one CommonJS module with `options`, run on first require. */
function prebundled(name, packages, imports, options) {
  const whole = `${name} (prebundled)`;
  const escape = (s) => s.replace(/[/.]/g, (c) => `\\${c}`);
  return {
    name: `prebundled-${name}`,
    setup(b) {
      b.onResolve({ filter: new RegExp(`^(${packages.map(escape).join('|')})(/.*)?$`) }, ({ path }) =>
        imports.includes(path)
          ? { path, namespace: 'prebundled-part' }
          : { errors: [{ text: `${path} is not among the prebundled imports of ${name}: add it in scripts/bundle.mjs` }] },
      );
      b.onResolve({ filter: /^/, namespace: 'prebundled-part' }, () => ({ path: whole, namespace: 'prebundled' }));
      // Each import: what require() of it gives, as it would from node_modules.
      b.onLoad({ filter: /^/, namespace: 'prebundled-part' }, ({ path }) => ({
        contents: `module.exports = require(${JSON.stringify(whole)})[${imports.indexOf(path)}];`,
        loader: 'js',
      }));
      b.onLoad({ filter: /^/, namespace: 'prebundled' }, async () => {
        const { outputFiles } = await build({
          ...options,
          stdin: { contents: `module.exports = [${imports.map((path) => `require('${path}')`).join(', ')}];`, resolveDir: process.cwd(), loader: 'js' },
          bundle: true,
          format: 'cjs',
          write: false,
        });
        return { contents: outputFiles[0].text, loader: 'js' };
      });
    },
  };
}

// commander requires node:child_process (with net, dgram, …: ~2 ms of every start) for executable
// subcommands, which vdb has none of; it gets spawn loaded on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, ({ importer }) => (/[\\/]node_modules[\\/]commander[\\/]/.test(importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined));
    b.onLoad({ filter: /^/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = { spawn: (...args) => process.getBuiltinModule('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
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
// And the passes a cold query makes over every slot (index/passes.ts; never shared: both variants are its bytes).
const { passesModuleBytes } = await import('../dist/index/passes.js');
const passesBytes = base64Of(passesModuleBytes);
// And the stdin reader's number scanner (cli/number-scan.ts; never shared either).
const { scanModuleBytes } = await import('../dist/cli/number-scan.js');
const scanBytes = base64Of(scanModuleBytes);

const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  plugins: [swaggerUiDir],
  define: {
    __VDB_KERNEL_BYTES__: JSON.stringify(kernelBytes),
    __VDB_WALK_BYTES__: JSON.stringify(walkBytes),
    __VDB_PASSES_BYTES__: JSON.stringify(passesBytes),
    __VDB_SCAN_BYTES__: JSON.stringify(scanBytes),
    __VDB_WORKER_EXT__: JSON.stringify('.cjs'),
  },
  logLevel: 'warning',
};
// Runtime dependencies of the library (package.json "dependencies") stay outside, shared with dist/*.js;
// so does the ONNX runtime, the user's optional install (vdb model pull local).
const dependencies = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {});

// The CLI itself, as one CommonJS script: bin/vdb compiles it with V8's code cache (a cold command spent
// ~60 ms compiling ES modules, which Node 20 cannot cache). It sits beside the worker scripts, so the URLs it makes
// from import.meta.url (worker entries, package.json) are theirs. The ES-module-only dependencies are
// compiled in (required from CommonJS they would need require(esm)); the rest stay outside as above.
const manifestOf = (name) => JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8'));
const esmOnly = dependencies.filter((d) => manifestOf(d).type === 'module' && !hasRequireExport(d));
const cliExternal = [...dependencies.filter((d) => !esmOnly.includes(d)), '@huggingface/transformers'];
// Both the CLI and the worker entries: one CommonJS script each, beside one another in dist/bundle.
const commonJs = {
  ...shared,
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // Without comments the script is plain ASCII: read as a one-byte string (a stray "…" in one made every
  // start decode 4 MB as UTF-16, 30 ms) and shorter. Names stay, for VDB_DEBUG's stack traces.
  minifyWhitespace: true,
  charset: 'ascii',
  // The bundled packages' license notices go to cli.cjs.LEGAL.txt beside it.
  legalComments: 'external',
  // import() compiled from V8's code cache loses the hooks that make it work: etcd3 (CommonJS) is required
  // instead, the one ES module outside (the ONNX runtime) comes through bin/vdb (src/embed/local.ts).
  supported: { 'dynamic-import': false },
  external: cliExternal,
  define: { ...shared.define, 'import.meta.url': '__vdbUrl' },
  banner: { js: "const __vdbUrl = require('node:url').pathToFileURL(__filename).href; const __vdbDir = __dirname;" },
};
await build({
  ...commonJs,
  entryPoints: { cli: 'src/cli/main.ts' },
  plugins: [
    ...shared.plugins,
    prebundled('server', SERVER_PACKAGES, SERVER_IMPORTS, { ...shared, define: {}, minify: true, charset: 'ascii', legalComments: 'inline', supported: { 'dynamic-import': false }, external: cliExternal }),
    lazyChildProcessForCommander,
  ],
});

// The worker threads' entries (the URLs the CLI makes from import.meta.url are these; thread.ts names them .cjs
// here): an ES module entry booted Node's ES module loader in every worker, ~10 ms of CPU each, and a
// `query --stdin` starts three.
await build({
  ...commonJs,
  entryPoints: { 'ndjson-worker': 'src/cli/ndjson-worker.ts', 'batch-worker': 'src/index/batch-worker.ts', 'build-worker': 'src/index/build-worker.ts', 'query-worker': 'src/index/query-worker.ts', 'build-thread-worker': 'src/index/build-thread-worker.ts' },
});

// bin/vdb reads the script as latin1, the fastest decoding, which is exact only for ASCII.
const cli = readFileSync('dist/bundle/cli.cjs');
const wide = cli.findIndex((b) => b > 0x7f);
if (wide !== -1) throw new Error(`dist/bundle/cli.cjs is not ASCII at byte ${wide}: ${JSON.stringify(cli.subarray(Math.max(0, wide - 60), wide + 20).toString())}`);

/** Whether package `name` exports a CommonJS entry ("require" condition) beside its ES one. */
function hasRequireExport(name) {
  const exp = manifestOf(name).exports;
  const root = exp && typeof exp === 'object' && '.' in exp ? exp['.'] : exp;
  return root !== null && typeof root === 'object' && 'require' in root;
}

// Its code cache, made by running the usual commands once (scripts/code-cache.mjs): V8 then skips compiling
// what they use. bin/vdb rewrites it when V8 refuses it (another Node version).
try {
  execFileSync(process.execPath, ['scripts/code-cache.mjs'], { stdio: ['ignore', 'ignore', 'pipe'] });
} catch (err) {
  process.stderr.write(`code cache: ${err.stderr?.toString().trim() || err.message}\n`);
  throw err;
}

// The inputs this build was made from (scripts/build-if-changed.mjs), written last: only a whole build has them.
writeFileSync(STAMP, `${inputs}\n`);
