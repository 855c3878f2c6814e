import { Command } from 'commander';
import type { BuildReport, IndexBuildView, IndexView, TextBuildReport, TextIndexView } from '../../domain/types.js';
import { INDEX_KINDS, INDEX_TYPES } from '../../index/registry.js';
import type { IndexType } from '../../index/types.js';
import { globals, intArg, modeOf, serviceOf } from '../context.js';
import { printJson, printRecord, progressBar, success } from '../output.js';

/** `leaf_size` → `--leaf-size`, `leafSize` (commander's attribute name). */
const kebab = (name: string) => name.replace(/_/g, '-');
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export function indexCommand(): Command {
  const index = new Command('index')
    .description('build and inspect a library\'s index')
    .addHelpText('after', '\nExamples:\n  $ vdb index build --lib docs --type hnsw\n  $ vdb index show docs');

  const build = index
    .command('build')
    .description('build the index of a library, or bring its hnsw index up to date in place; queries use it from then on')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--type <type>', `index type: ${INDEX_TYPES.join(', ')} (default: the current index's type, else linear)`)
    .option('--full', 'build from scratch even when the current hnsw index could be updated in place')
    .option('--text', 'build the full-text (BM25) index too, or bring it up to date (vdb ingest makes one)')
    .option('--no-text', 'leave the full-text index as it is');
  // One flag per option of any index type; each is checked against --type below.
  const seen = new Set<string>();
  for (const kind of Object.values(INDEX_KINDS)) {
    for (const opt of kind.options) {
      if (seen.has(opt.name)) continue;
      seen.add(opt.name);
      const dflt = opt.default === null ? '' : ` (default ${opt.default})`;
      build.option(`--${kebab(opt.name)} <n>`, `${kind.type}: ${opt.description}${dflt}`, intArg(opt.min, opt.max));
    }
  }
  build
    .addHelpText(
      'after',
      `
Index types:
${INDEX_TYPES.map((t) => `  ${t.padEnd(8)}${INDEX_KINDS[t].description}`).join('\n')}

The full-text index that text and hybrid queries use (BM25) is brought up to date
too when the library has one (vdb ingest makes one; --text makes one).

Options not given keep the current index's values when the type stays (lsh's
derived --bits and --probes are derived again). An hnsw index is updated in place:
chunks added or re-embedded since are inserted, entries of deleted ones removed and
their neighbours re-linked; it is rebuilt instead with --full, when m or
ef_construction change, when over 25% of its entries are stale, or when more
chunks are new than indexed. Other types are always rebuilt.

Examples:
  $ vdb index build --lib docs
  $ vdb index build --lib docs --type kdtree --leaf-size 32
  $ vdb --seed 7 index build --lib docs --type lsh --tables 12 --bits 10
  $ vdb index build --lib docs --type hnsw --m 16 --ef-construction 200
  $ vdb index build --lib docs --full
  $ vdb index build --lib docs --text`,
    )
    .action(async (o, cmd: Command) => {
      const svc = await serviceOf(cmd);
      const type = (o.type as string | undefined) ?? (await svc.indexInfo(o.lib)).index?.type ?? 'linear';
      if (!(INDEX_TYPES as string[]).includes(type)) cmd.error(`error: unknown index type "${type}" (use one of: ${INDEX_TYPES.join(', ')})`, { exitCode: 2 });
      const kind = INDEX_KINDS[type as IndexType];
      const params: Record<string, number> = {};
      for (const name of seen) {
        const value = o[camel(name)];
        if (value === undefined) continue;
        if (!kind.options.some((opt) => opt.name === name)) {
          const own = kind.options.map((opt) => `--${kebab(opt.name)}`).join(', ') || 'none';
          cmd.error(`error: option --${kebab(name)} does not apply to index type ${type} (its options: ${own})`, { exitCode: 2 });
        }
        params[name] = value;
      }
      const bar = await progressBar(`indexing (${type})`);
      const started = performance.now();
      let view: IndexBuildView;
      try {
        view = await svc.buildIndex(o.lib, { type: type as IndexType, params, full: o.full === true, text: o.text as boolean | undefined }, bar?.update);
      } finally {
        bar?.stop();
      }
      const ms = Math.round(performance.now() - started);
      const { build, text_index, text_build, ...index } = view;
      if (globals(cmd).json) process.stdout.write(`${JSON.stringify(view)}\n`);
      else await printRecord({ ...indexRecord(index), build: describeBuild(build), ...(text_build ? { text_index: describeText(text_index), text_build: describeTextBuild(text_build) } : {}) }, modeOf(cmd));
      await success(`${type} index: ${describeBuild(build)}${text_build ? `; full-text index: ${describeTextBuild(text_build)}` : ''} (${ms} ms)`);
    });

  index
    .command('show')
    .description('show what a library\'s index covers')
    .argument('<lib>', 'library id or name')
    .addHelpText('after', '\nExamples:\n  $ vdb index show docs\n  $ vdb index show docs --json | jq .index.unindexed')
    .action(async (ref: string, _o, cmd: Command) => {
      const info = await (await serviceOf(cmd, { read: true })).indexInfo(ref);
      const mode = modeOf(cmd);
      if (mode.json) return printRecord({ ...info }, mode);
      const vector = info.index ? indexRecord(info.index) : { index: 'none: queries scan every chunk exactly' };
      await printRecord({ lib_id: info.lib_id, chunk_count: info.chunk_count, ...vector, text_index: describeText(info.text_index) }, mode);
    });

  return index;
}

function describeBuild(build: BuildReport): string {
  if (build.mode === 'none') return 'up to date, nothing to do';
  if (build.mode === 'incremental') return `updated in place: inserted ${build.inserted} chunk${build.inserted === 1 ? '' : 's'}, removed ${build.removed} stale entr${build.removed === 1 ? 'y' : 'ies'}`;
  return `built from scratch over ${build.inserted} chunk${build.inserted === 1 ? '' : 's'} (${build.reason})`;
}

function describeText(view: TextIndexView | null): string {
  if (!view) return 'none: text queries index every chunk in memory (vdb index build --text stores one)';
  const pending = view.unindexed + view.stale > 0 ? `; ${view.unindexed} unindexed, ${view.stale} stale (indexed by each query until the next build)` : '';
  return `BM25 k1=${view.params.k1} b=${view.params.b}, ${view.indexed} chunks, ${view.terms} terms, ${view.bytes} bytes, built ${view.built_at}${pending}`;
}

function describeTextBuild(build: TextBuildReport): string {
  if (build.mode === 'none') return 'up to date, nothing to do';
  return `${build.mode === 'full' ? 'built over' : 'updated:'} ${build.added} chunk text${build.added === 1 ? '' : 's'} added${build.removed > 0 ? `, ${build.removed} stale removed` : ''}`;
}

function indexRecord(view: IndexView): Record<string, unknown> {
  return { ...view, params: Object.entries(view.params).map(([k, v]) => `${k}=${v}`).join(' ') || '-' };
}
