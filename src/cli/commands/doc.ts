import { Command } from 'commander';
import type { DocumentView, NewDocument } from '../../domain/documents.js';
import { InvalidInput } from '../../domain/errors.js';
import { checkKeys } from '../../domain/validate.js';
import { globals, intArg, jsonObjectFlag, modeOf, serviceOf } from '../context.js';
import { stdinObjects } from '../ndjson.js';
import { printJson, printNdjson, printRecord, printTable, success } from '../output.js';
import { libOption, onConflictOption, outcomeSummary } from './chunk.js';

const DOC_FIELDS = ['id', 'title', 'metadata'] as const;
// Lines printed by `doc list --json` carry these too; accepted and ignored.
const VIEW_FIELDS = ['lib_id', 'chunk_count', 'created_at', 'updated_at'] as const;

export function docCommand(): Command {
  const doc = new Command('doc')
    .description('add, list, get, update and delete documents (a document groups chunks: a file, a page)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ vdb doc add --lib docs --id handbook.md --title "Handbook"\n  $ vdb chunk add --lib docs --doc handbook.md "first paragraph"\n  $ vdb doc delete handbook.md --lib docs',
    );

  doc
    .command('add')
    .description('add a document, or NDJSON lines of them from --stdin (all or nothing)')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--id <id>', 'its own id (a path, a URL), unique in the library; default: a generated doc_… id')
    .option('--title <title>', 'title')
    .option('--metadata <json>', 'JSON object stored with the document')
    .addOption(onConflictOption('a document'))
    .option('--stdin', 'read NDJSON lines {"id"?, "title"?, "metadata"?}')
    .addHelpText(
      'after',
      `
Ids: any printable string up to 256 bytes, unique in the library. --on-conflict replace
replaces the title and metadata of a document that exists (its chunks stay).

Examples:
  $ vdb doc add --lib docs --id https://example.com/faq --title FAQ --metadata '{"lang": "en"}'
  $ DOC=$(vdb doc add --lib docs --title "Meeting notes")
  $ find notes -name '*.md' | jq -Rc '{id: .}' | vdb doc add --lib docs --stdin --on-conflict skip`,
    )
    .action(async (o, cmd: Command) => {
      let items: NewDocument[];
      let where: ((i: number) => string | undefined) | undefined;
      if (o.stdin) {
        if ([o.id, o.title, o.metadata].some((v) => v !== undefined)) cmd.error('error: --stdin takes every field from its lines; drop --id, --title and --metadata', { exitCode: 2 });
        const lines: number[] = [];
        items = [];
        for await (const [n, obj] of stdinObjects('{"id": "notes/a.md", "title": "A"}')) {
          checkKeys(obj, [...DOC_FIELDS, ...VIEW_FIELDS], `line ${n}`);
          items.push({ id: obj.id, title: obj.title, metadata: obj.metadata } as NewDocument);
          lines.push(n);
        }
        if (items.length === 0) throw new InvalidInput('no documents on stdin: expected NDJSON lines such as {"id": "notes/a.md"}');
        where = (i) => `line ${lines[i]}`;
      } else {
        items = [{ id: o.id, title: o.title, metadata: jsonObjectFlag(o.metadata, '--metadata') }];
      }
      const { documents, outcomes } = await (await serviceOf(cmd)).documents.add(o.lib, items, { onConflict: o.onConflict, where });
      if (globals(cmd).json) {
        if (o.stdin) printNdjson(documents);
        else printJson(documents[0]);
      } else process.stdout.write(documents.map((d) => `${d.id}\n`).join(''));
      await success(outcomeSummary(outcomes, 'document'));
    });

  doc
    .command('list')
    .description('list the documents of a library, in id order (--json: NDJSON)')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--offset <n>', 'skip this many documents', intArg(0), 0)
    .option('--limit <n>', 'list at most this many', intArg(0))
    .addHelpText('after', '\nExamples:\n  $ vdb doc list --lib docs\n  $ vdb doc list --lib docs --json | jq -r .id')
    .action(async (o, cmd: Command) => {
      const { documents } = await (await serviceOf(cmd, { read: true })).documents.list(o.lib, { offset: o.offset, limit: o.limit });
      const mode = modeOf(cmd);
      if (mode.json) return printNdjson(documents);
      await printTable(['id', 'title', 'chunks', 'metadata'], documents.map(docRow), mode, [1, 3]);
    });

  doc
    .command('get')
    .description('show one document, with how many chunks it has')
    .argument('<id>', 'document id')
    .addOption(libOption('document'))
    .addHelpText('after', '\nExamples:\n  $ vdb doc get handbook.md --lib docs --json')
    .action(async (id: string, o, cmd: Command) => {
      await printRecord({ ...(await (await serviceOf(cmd, { read: true })).documents.get(id, o.lib)) }, modeOf(cmd));
    });

  doc
    .command('update')
    .description("replace a document's title and/or metadata")
    .argument('<id>', 'document id')
    .addOption(libOption('document'))
    .option('--title <title>', 'new title ("" for none)')
    .option('--metadata <json>', 'new metadata (replaces the old object)')
    .addHelpText('after', '\nExamples:\n  $ vdb doc update handbook.md --lib docs --title "Staff handbook"\n  $ vdb doc update handbook.md --metadata \'{"reviewed": true}\'')
    .action(async (id: string, o, cmd: Command) => {
      if (o.title === undefined && o.metadata === undefined) cmd.error('error: nothing to update: give --title and/or --metadata', { exitCode: 2 });
      const view = await (await serviceOf(cmd)).documents.update(id, { title: o.title, metadata: jsonObjectFlag(o.metadata, '--metadata') }, o.lib);
      await printRecord({ ...view }, modeOf(cmd));
    });

  doc
    .command('delete')
    .description('delete documents and all their chunks, in one atomic change (none if any id is unknown)')
    .argument('<ids...>', 'document ids')
    .addOption(libOption('document'))
    .addHelpText('after', '\nExamples:\n  $ vdb doc delete handbook.md --lib docs\n  $ vdb doc list --lib docs --json | jq -r \'select(.chunk_count == 0) | .id\' | xargs vdb doc delete --lib docs')
    .action(async (ids: string[], o, cmd: Command) => {
      const deleted = await (await serviceOf(cmd)).documents.delete(ids, o.lib);
      if (globals(cmd).json) printNdjson(deleted);
      else process.stdout.write(deleted.map((d) => `${d.id}\n`).join(''));
      const chunks = deleted.reduce((n, d) => n + d.chunk_count, 0);
      await success(`deleted ${deleted.length} document${deleted.length === 1 ? '' : 's'} and ${chunks} chunk${chunks === 1 ? '' : 's'}`);
    });

  return doc;
}

function docRow(d: DocumentView): string[] {
  return [d.id, d.title ?? '', String(d.chunk_count), JSON.stringify(d.metadata)];
}
