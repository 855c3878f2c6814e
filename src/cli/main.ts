/**
 * The vdb program: global options, one subcommand per noun, and the one place
 * where errors become a `vdb: error: …` line and an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT_CODES, oneLine, VdbError } from '../domain/errors.js';
import { chunkCommand } from './commands/chunk.js';
import { clusterCommand } from './commands/cluster.js';
import { compactCommand } from './commands/compact.js';
import { countCommand } from './commands/count.js';
import { demoCommand } from './commands/demo.js';
import { docCommand } from './commands/doc.js';

import { embedCommand } from './commands/embed.js';
import { indexCommand } from './commands/index-cmd.js';
import { ingestCommand } from './commands/ingest.js';
import { libCommand } from './commands/lib.js';
import { modelCommand } from './commands/model.js';
import { queryCommand } from './commands/query.js';
import { serveCommand } from './commands/serve.js';
import { exportCommand, importCommand } from './commands/transfer.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The subcommands, by the name each gives its Command, in help's order. */
const SUBCOMMANDS: readonly (readonly [string, () => Command])[] = [
  ['lib', libCommand],
  ['doc', docCommand],
  ['chunk', chunkCommand],
  ['ingest', ingestCommand],
  ['index', indexCommand],
  ['query', queryCommand],
  ['count', countCommand],
  ['embed', embedCommand],
  ['model', modelCommand],
  ['export', exportCommand],
  ['import', importCommand],
  ['compact', compactCommand],
  ['serve', serveCommand],
  ['cluster', clusterCommand],
  ['demo', () => demoCommand(run)],
];

/** The subcommand `argv` runs (its first word past the global options), or null when it names none of them. */
function subcommandNamed(argv: readonly string[], program: Command): string | null {
  const taking = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return null;
    if (!arg.startsWith('-')) return SUBCOMMANDS.some(([name]) => name === arg) ? arg : null;
    if (taking.has(arg)) i++;
  }
  return null;
}

/** The vdb program; given the command line, only the subcommand it names is set up (see subcommandNamed). */
export function buildProgram(argv: readonly string[] = []): Command {
  const program = new Command('vdb')
    .description('a vector database you drive from the shell')
    .version(VERSION, '-V, --version')
    .option('--db <path>', 'snapshot file (default: $VDB_DB, else ./vdb.json)')
    .option('--json', 'machine-readable output: JSON (NDJSON for bulk commands)')
    .option('--wide', 'tables on a terminal: wrap long texts over several lines instead of cutting them to its width')
    .option('--seed <seed>', 'seed for ids and index randomness (default: $VDB_SEED); with SOURCE_DATE_EPOCH, snapshots are byte-identical')
    .option('--remote <url>', 'run the command against the server at this URL instead of --db (default: $VDB_REMOTE; key: $VDB_API_KEY)')
    .addOption(new Option('--consistency <level>', 'with --remote, reads from a cluster node: strong waits until it applied every committed write').choices(['strong', 'local']))
    .addHelpText(
      'after',
      `
Examples:
  $ vdb demo
  $ vdb lib create docs --embedder glove && vdb ingest --lib docs ./handbook
  $ vdb lib create docs && vdb chunk add --lib docs "hello vector world"
  $ vdb query --lib docs --text "hello" -k 3 --json
  $ vdb query --lib docs --text "hello" --where tag=intro --explain
  $ vdb count --lib docs --where 'created_after=2024-01-01'
  $ vdb model pull glove && vdb lib create notes --embedder glove
  $ vdb serve --port 8000
  $ vdb export > backup.ndjson && vdb --db restored.json import < backup.ndjson
  $ vdb --remote http://127.0.0.1:8000 lib list
  $ vdb cluster status --remote http://127.0.0.1:8001
  $ vdb compact

Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid input, 4 not found, 5 conflict,
6 corrupt snapshot, 7 locked, 8 I/O error, 9 embedder failed or not installed,
10 cluster unavailable (no leader yet, etcd out of reach). VDB_DEBUG=1 prints stack traces.`,
    );
  // A command line that names a subcommand sets up only that one (all fifteen cost every cold command ~5 ms);
  // none, help or an unknown name (commander suggests the nearest) sets up all.
  const named = subcommandNamed(argv, program);
  for (const [name, make] of SUBCOMMANDS) if (named === null || named === name) program.addCommand(make());
  configure(program);
  return program;
}

/** Every (sub)command: throw instead of exiting, and print commander's errors our way. */
function configure(cmd: Command): void {
  cmd.exitOverride();
  // Subcommand examples use --db, --json and --seed: list them in every help.
  cmd.configureHelp({ showGlobalOptions: true });
  cmd.showSuggestionAfterError(true);
  cmd.configureOutput({
    // One line: commander puts its "Did you mean …?" on a line of its own.
    outputError: (str, write) => write(`vdb: ${str.trim().replace(/\s*\n\s*/g, ' ')} (see ${commandPath(cmd)} --help)\n`),
  });
  for (const sub of cmd.commands) configure(sub);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Runs vdb with `argv` (without the node and script paths); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  const debug = process.env.VDB_DEBUG === '1';
  if (err instanceof CommanderError) {
    // Help and --version "fail" with exit code 0; real usage errors were already printed.
    return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
  }
  if (err instanceof VdbError) {
    process.stderr.write(`vdb: error: ${err.display}\n`);
    if (debug) process.stderr.write(`${err.stack}\n`);
    return EXIT_CODES[err.code];
  }
  const e = err as Error;
  process.stderr.write(`vdb: error: internal error: ${e?.message ?? String(err)}${debug ? '' : ' (set VDB_DEBUG=1 for details)'}\n`);
  if (debug) process.stderr.write(`${e?.stack}\n`);
  return EXIT_CODES.internal;
}

/** Entry point of bin/vdb. */
export async function main(): Promise<void> {
  // `vdb … | head` closes the pipe early: stop quietly, as other CLI tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await run(process.argv.slice(2));
}
