/**
 * The package as a user gets it: `npm pack`, then `npm install` of the tarball
 * into an empty project, offline, without dev dependencies; then the installed
 * `vdb demo`, the README's "Use vdb from Node" examples, and the .d.ts under
 * tsc without skipLibCheck. Packs the dist/ that `npm test` has just built.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { packedManifest } from '../../scripts/pack.mjs';
import { ROOT, childEnv, tempDir } from '../helpers/cli.js';
import { serve } from '../helpers/server.js';

const tmp = tempDir('vdb-pack-');
const app = join(tmp.dir, 'app');
const bin = join(app, 'node_modules', '.bin', 'vdb');
let install: { status: number | null; stderr: string };

function npm(args: string[], cwd: string) {
  return spawnSync('npm', args, { cwd, encoding: 'utf8', env: childEnv({ npm_config_update_notifier: 'false' }) });
}

/** The README's ```js blocks of "Use vdb from Node", in order. */
function readmeExamples(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use vdb from Node'), readme.indexOf('## Wire format'));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

beforeAll(() => {
  // A copy of what `files` ships, so packing never touches the worktree's package.json.
  const src = join(tmp.dir, 'src');
  mkdirSync(src);
  const pkg = readFileSync(join(ROOT, 'package.json'), 'utf8');
  writeFileSync(join(src, 'package.json'), packedManifest(pkg));
  for (const f of (JSON.parse(pkg) as { files: string[] }).files) cpSync(join(ROOT, f), join(src, f), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], src);
  expect(packed.status, packed.stderr).toBe(0);
  const tarball = join(tmp.dir, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name": "app", "private": true, "type": "module"}\n');
  // An empty cache and --offline: everything must come from the tarball.
  install = npm(['install', '--offline', '--omit=dev', '--no-audit', '--no-fund', '--cache', join(tmp.dir, 'cache'), tarball], app);
}, 120_000);

afterAll(() => tmp.cleanup());

describe('the packed tarball', () => {
  it('installs offline from the tarball alone, without warnings', () => {
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/warn/i);
  });

  it('runs vdb demo from the install, text query and all', () => {
    const r = spawnSync(bin, ['demo'], { cwd: app, encoding: 'utf8', env: childEnv() });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('7. ask in words');
    expect(r.stdout.trim().split('\n').at(-3)).toMatch(/^1\t0\.\d+\tchk_\w+\tvector databases find the nearest embeddings\t\{\}$/);
  });

  it('starts its worker threads from the install: stdin reader, index build, query pool, with the answers of one thread', () => {
    const db = join(app, 'threads.vdb.json');
    const run = (args: string[], input?: string, env: Record<string, string> = {}) => {
      const r = spawnSync(bin, ['--db', db, ...args], { cwd: app, encoding: 'utf8', input, env: childEnv(env) });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const vector = (i: number) => [Math.sin(i), Math.cos(3 * i), Math.sin(7 * i + 1), 1 + (i % 5)];
    run(['lib', 'create', 't', '--dim', '4', '--embedder', 'none']);
    run(['chunk', 'add', '--lib', 't', '--stdin'], Array.from({ length: 600 }, (_, i) => JSON.stringify({ text: `c${i}`, embedding: vector(i) })).join('\n'));
    run(['index', 'build', '--lib', 't', '--type', 'hnsw'], undefined, { VDB_THREADS: '2' });
    // Enough lines that two threads earn a pool of workers.
    const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ embedding: vector(i + 0.5), k: 3 })).join('\n');
    // A missing worker script would not fail: the pool would not open, and this thread would answer alone.
    const bundle = join(app, 'node_modules', 'vdb', 'dist', 'bundle');
    for (const w of ['ndjson-worker', 'build-worker', 'build-thread-worker', 'batch-worker', 'query-worker']) expect(existsSync(join(bundle, `${w}.cjs`)), w).toBe(true);
    const pooled = run(['query', '--lib', 't', '--stdin'], lines, { VDB_THREADS: '2' });
    expect(pooled.trim().split('\n')).toHaveLength(400);
    expect(pooled).toBe(run(['query', '--lib', 't', '--stdin'], lines, { VDB_THREADS: '1' }));
  });

  it('runs the README examples: the embedded service, and the client against the installed vdb serve', async () => {
    const [embedded, client] = readmeExamples();
    writeFileSync(join(app, 'embedded.mjs'), embedded);
    writeFileSync(join(app, 'client.mjs'), client);
    const local = spawnSync(process.execPath, ['embedded.mjs'], { cwd: app, encoding: 'utf8', env: childEnv() });
    expect(local.status, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/^0\.\d{3} hello vector world\n0\.\d{3} the quick brown fox\nnot_found: library "nope" not found\n$/);

    const server = await serve({ db: join(app, 'served.json'), argv: [bin, '--db', join(app, 'served.json'), 'serve', '--port', '0', '--log-level', 'warn'] });
    try {
      const r = spawnSync(process.execPath, ['client.mjs'], { cwd: app, encoding: 'utf8', env: childEnv({ VDB_URL: server.url }) });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('hello vector world\n404 not_found\n');
    } finally {
      await server.stop();
    }
  });

  it('has .d.ts that compile without skipLibCheck', () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { VdbService, VdbError, NotFound, EXIT_CODES, type Hit, type LibraryView, type QueryRequest } from 'vdb';
import { VdbClient, ApiError, type ChunkView } from 'vdb/client';
const db = new VdbService({ path: 'typed.json', seed: 'x' });
const lib: LibraryView = await db.createLibrary({ name: 'typed', metric: 'dot', dim: 2 });
const hits: Hit[] = (await db.query(lib.id, { embedding: [1, 0], k: 1 })).hits;
const body: QueryRequest = { text: 'hello', k: 3 };
const chunk: Promise<ChunkView> = new VdbClient('http://127.0.0.1:1').getChunk('x');
const code: number = EXIT_CODES[new NotFound('x').code];
export { hits, body, chunk, code, VdbError, ApiError };
`,
    );
    // Stands in for @types/node, whose 3 MB of declarations take ~10 s of CPU to check without skipLibCheck:
    // vdb's .d.ts may use these Node types and no other (one more, and tsc names it here).
    writeFileSync(join(app, 'node-globals.d.ts'), 'declare namespace NodeJS { interface ProcessEnv { [key: string]: string | undefined } }\ndeclare type Buffer = Uint8Array;\n');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        // skipDefaultLibCheck skips TypeScript's own lib.*.d.ts only; every .d.ts of vdb is checked.
        compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, types: [] },
        files: ['check.ts', 'node-globals.d.ts'],
      }),
    );
    let out = '';
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8' });
    } catch (err) {
      out = (err as { stdout: string }).stdout;
    }
    expect(out).toBe('');
  });
});
