import { Command, Option } from 'commander';
import type { LibraryView } from '../../domain/types.js';
import { globals, intArg, jsonObjectFlag, modeOf, serviceOf } from '../context.js';
import { printJson, printRecord, printTable, success } from '../output.js';

export function libCommand(): Command {
  const lib = new Command('lib')
    .description('create, list, show, update and delete libraries')
    .addHelpText('after', '\nExamples:\n  $ vdb lib create docs\n  $ vdb lib list --json\n  $ vdb lib show docs');

  lib
    .command('create')
    .description('create a library (default: the letters embedder, 26 dims, cosine)')
    .argument('<name>', 'unique library name')
    .option('--dim <n>', 'vector dimension (alone: explicit embeddings only)', intArg(1, 65536))
    .addOption(new Option('--metric <metric>', 'distance metric').choices(['cosine', 'l2', 'dot']).default('cosine'))
    .option('--embedder <spec>', 'embedder for texts: letters, glove, openai:MODEL[@DIMS], cohere:MODEL[@DIMS], local:NAME_OR_PATH, or none (with --dim)')
    .option('--metadata <json>', 'JSON object stored with the library')
    .addHelpText(
      'after',
      `
Embedders (see the README's Embedders section): glove needs vdb model pull glove once; openai and cohere
read OPENAI_API_KEY / CO_API_KEY (else EMBEDDING_API_KEY); local:PATH needs vdb model pull local.

Examples:
  $ vdb lib create docs
  $ vdb lib create notes --embedder glove
  $ vdb lib create kb --embedder openai:text-embedding-3-small@512
  $ vdb lib create papers --dim 384 --metric dot
  $ LIB=$(vdb lib create notes --metadata '{"owner": "ana"}')`,
    )
    .action(async (name: string, o, cmd: Command) => {
      const svc = await serviceOf(cmd);
      const view = await svc.createLibrary({
        name,
        dim: o.dim,
        metric: o.metric,
        embedder: o.embedder === 'none' ? null : o.embedder,
        metadata: jsonObjectFlag(o.metadata, '--metadata'),
      });
      await printCreated(view, cmd);
    });

  lib
    .command('list')
    .description('list libraries')
    .addHelpText('after', '\nExamples:\n  $ vdb lib list\n  $ vdb lib list --json | jq -r \'.libraries[].name\'')
    .action(async (_o, cmd: Command) => {
      const libs = await (await serviceOf(cmd, { read: true })).listLibraries();
      const mode = modeOf(cmd);
      if (mode.json) return printJson({ libraries: libs });
      await printTable(
        ['id', 'name', 'chunks', 'dim', 'metric', 'embedder', 'index'],
        libs.map((l) => [l.id, l.name, String(l.chunk_count), String(l.dim), l.metric, l.embedder ?? '-', l.index?.type ?? '-']),
        mode,
      );
    });

  lib
    .command('show')
    .description('show one library')
    .argument('<lib>', 'library id or name')
    .addHelpText('after', '\nExamples:\n  $ vdb lib show docs\n  $ vdb lib show docs --json | jq .chunk_count')
    .action(async (ref: string, _o, cmd: Command) => {
      await printRecord(libraryRecord(await (await serviceOf(cmd, { read: true })).getLibrary(ref), modeOf(cmd).json), modeOf(cmd));
    });

  lib
    .command('update')
    .description('rename a library or replace its metadata')
    .argument('<lib>', 'library id or name')
    .option('--name <name>', 'new unique name')
    .option('--metadata <json>', 'new metadata (replaces the old object)')
    .addHelpText('after', '\nExamples:\n  $ vdb lib update docs --name handbook\n  $ vdb lib update docs --metadata \'{"team": "search"}\'')
    .action(async (ref: string, o, cmd: Command) => {
      if (o.name === undefined && o.metadata === undefined) cmd.error('error: nothing to update: give --name and/or --metadata', { exitCode: 2 });
      const view = await (await serviceOf(cmd)).updateLibrary(ref, { name: o.name, metadata: jsonObjectFlag(o.metadata, '--metadata') });
      await printRecord(libraryRecord(view, modeOf(cmd).json), modeOf(cmd));
    });

  lib
    .command('delete')
    .description('delete a library and all its chunks')
    .argument('<lib>', 'library id or name')
    .addHelpText('after', '\nExamples:\n  $ vdb lib delete scratch')
    .action(async (ref: string, _o, cmd: Command) => {
      const view = await (await serviceOf(cmd)).deleteLibrary(ref);
      if (globals(cmd).json) printJson(view);
      else process.stdout.write(`${view.id}\n`);
      await success(`deleted library ${view.name} and its ${view.chunk_count} chunks`);
    });

  return lib;
}

/** The JSON view as is; for tables, the index folded into one readable cell. */
function libraryRecord(view: LibraryView, json: boolean): Record<string, unknown> {
  if (json) return { ...view };
  const idx = view.index;
  return {
    ...view,
    embedder: view.embedder ?? '-',
    index: idx ? `${idx.type} (${idx.indexed} indexed, ${idx.unindexed} unindexed, ${idx.stale} stale)` : '-',
  };
}

async function printCreated(view: LibraryView, cmd: Command): Promise<void> {
  if (globals(cmd).json) printJson(view);
  else process.stdout.write(`${view.id}\n`);
  await success(`created library ${view.name} (${view.dim} dims, ${view.metric}, embedder ${view.embedder ?? 'none'})`);
}
