import { Command, Option } from 'commander';
import { VectorArena } from '../../domain/arena.js';
import { InvalidInput } from '../../domain/errors.js';
import type { ChunkView, NewChunk } from '../../domain/types.js';
import { ON_CONFLICT, outcomeCounts } from '../../domain/types.js';
import { checkEmbedding, checkKeys } from '../../domain/validate.js';
import type { PutResult } from '../../service/service.js';
import { collect, globals, intArg, jsonFlag, jsonObjectFlag, modeOf, serviceOf } from '../context.js';
import { stdinObjects } from '../ndjson.js';
import { message, printNdjson, printRecord, printTable, progressBar, progressCounter, success } from '../output.js';
import { FILTER_HELP, filterOptions } from './filter-options.js';

const CHUNK_FIELDS = ['id', 'doc_id', 'text', 'embedding', 'metadata', 'tags'] as const;
// Lines printed by `chunk list --json` carry these too; accepted and ignored.
const VIEW_FIELDS = ['lib_id', 'created_at', 'updated_at'] as const;
/** Rows `chunk list` shows on a terminal without --limit. */
const TTY_PAGE = 20;

/** `--on-conflict`, shared by chunk add, doc add and import. */
export function onConflictOption(what: string): Option {
  return new Option('--on-conflict <what>', `when ${what} id exists: fail (exit 5, nothing written), skip it, or replace it`).choices(ON_CONFLICT).default('fail');
}

/** `--lib` where it only picks among libraries holding the same id. */
export function libOption(what: string): Option {
  return new Option('--lib <lib>', `library id or name: needed when several libraries hold the ${what} id`);
}

/** "added 2 chunks, replaced 1, skipped 3": only the outcomes that occurred, added always. */
export function outcomeSummary(outcomes: PutResult['outcomes'], noun: string): string {
  const c = outcomeCounts(outcomes);
  const parts = [`added ${c.added} ${noun}${c.added === 1 ? '' : 's'}`];
  for (const k of ['replaced', 'unchanged', 'skipped'] as const) if (c[k] > 0) parts.push(`${k} ${c[k]}`);
  return parts.join(', ');
}

export function chunkCommand(): Command {
  const chunk = new Command('chunk')
    .description('add, list, get, update and delete chunks')
    .addHelpText('after', '\nExamples:\n  $ vdb chunk add --lib docs "hello vector world"\n  $ vdb chunk add --lib docs --stdin < chunks.ndjson\n  $ vdb chunk list --lib docs --json');

  chunk
    .command('add')
    .description('add chunks: one per TEXT argument, or NDJSON lines from --stdin (all or nothing)')
    .requiredOption('--lib <lib>', 'library id or name')
    .argument('[text...]', 'chunk texts')
    .option('--id <id>', "the chunk's own id (one chunk), unique in the library; default: a generated chk_… id")
    .option('--doc <id>', 'the document of the library the chunks belong to (see vdb doc add)')
    .option('--embedding <json>', 'explicit embedding for a single chunk, e.g. "[0.1, 0.2]"')
    .option('--metadata <json>', 'JSON object stored with each chunk')
    .option('--tag <tag>', 'tag (repeatable)', collect)
    .addOption(onConflictOption('a chunk'))
    .option('--stdin', 'read NDJSON lines {"id"?, "doc_id"?, "text"?, "embedding"?, "metadata"?, "tags"?}')
    .addHelpText(
      'after',
      `
Ids: any printable string up to 256 bytes (a path, a URL, a UUID, "42"), unique in the library.
--on-conflict replace is an upsert: text, embedding, metadata, tags and doc_id are replaced
(identical content changes nothing, so re-running an ingest is idempotent).

Examples:
  $ vdb chunk add --lib docs "hello vector world" "another chunk"
  $ vdb chunk add --lib papers --embedding "[0.1, 0.2, 0.3]" --metadata '{"year": 2024}'
  $ vdb chunk add --lib docs --id faq-1 --doc handbook.md "how do I reset my password?"
  $ vdb chunk add --lib docs --stdin --on-conflict replace < chunks.ndjson
  $ vdb chunk list --lib old --json --with-embedding | vdb chunk add --lib new --stdin`,
    )
    .action(async (texts: string[], o, cmd: Command) => {
      const svc = await serviceOf(cmd);
      let items: NewChunk[];
      let where: ((i: number) => string | undefined) | undefined;
      if (o.stdin) {
        if (texts.length > 0 || [o.embedding, o.metadata, o.tag, o.id, o.doc].some((v) => v !== undefined)) {
          cmd.error('error: --stdin takes every field from its lines; drop TEXT, --id, --doc, --embedding, --metadata and --tag', { exitCode: 2 });
        }
        const lines: number[] = [];
        items = [];
        // Embeddings are checked while the parser thread reads on (as float32: half the memory of the parsed doubles).
        const { dim } = await svc.getLibrary(o.lib);
        const arena = new VectorArena(dim);
        const reading = progressCounter('reading lines:');
        try {
          for await (const [n, obj] of stdinObjects('{"text": "hello"}')) {
            checkKeys(obj, [...CHUNK_FIELDS, ...VIEW_FIELDS], `line ${n}`);
            const embedding = obj.embedding === undefined ? undefined : checkEmbedding(obj.embedding, dim, `line ${n}`, arena.take());
            items.push({ id: obj.id, doc_id: obj.doc_id, text: obj.text, embedding, metadata: obj.metadata, tags: obj.tags } as NewChunk);
            lines.push(n);
            reading.tick(items.length);
          }
        } finally {
          reading.stop();
        }
        if (items.length === 0) throw new InvalidInput('no chunks on stdin: expected NDJSON lines such as {"text": "hello"}');
        where = (i) => `line ${lines[i]}`;
      } else {
        const embedding = jsonFlag(o.embedding, '--embedding') as number[] | undefined;
        const metadata = jsonObjectFlag(o.metadata, '--metadata');
        if (embedding !== undefined && texts.length > 1) cmd.error('error: --embedding applies to one chunk; give at most one TEXT with it', { exitCode: 2 });
        if (o.id !== undefined && texts.length > 1) cmd.error('error: --id names one chunk; give at most one TEXT with it (or use --stdin)', { exitCode: 2 });
        if (texts.length === 0 && embedding === undefined) cmd.error('error: give TEXT, --embedding or --stdin', { exitCode: 2 });
        const base = { id: o.id, doc_id: o.doc, metadata, tags: o.tag };
        items = texts.length === 0 ? [{ ...base, embedding }] : texts.map((text) => ({ ...base, text, embedding }));
      }
      const bar = items.length > 1 ? await progressBar('preparing chunks') : undefined;
      let put: PutResult;
      try {
        put = await svc.putChunks(o.lib, items, { where, onProgress: bar?.update, onConflict: o.onConflict });
      } finally {
        bar?.stop();
      }
      if (globals(cmd).json) printNdjson(put.chunks);
      else process.stdout.write(put.chunks.map((c) => `${c.id}\n`).join(''));
      await success(outcomeSummary(put.outcomes, 'chunk'));
    });

  chunk
    .command('list')
    .description('list the chunks of a library, in insertion order (--json: NDJSON)')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--offset <n>', 'skip this many chunks', intArg(0), 0)
    .option('--limit <n>', 'list at most this many', intArg(0))
    .option('--with-embedding', 'include each chunk\'s embedding')
    .option('--where <expr>', 'only chunks matching this shorthand filter, e.g. tag=draft (repeatable: all must hold)', collect)
    .option('--filter <json>', 'only chunks matching this JSON filter')
    .addHelpText(
      'after',
      `
On a terminal, without --limit, the first ${TTY_PAGE} chunks are shown, with how many more there are.
${FILTER_HELP}
Examples:
  $ vdb chunk list --lib docs --limit 20
  $ vdb chunk list --lib docs --offset 20 --limit 20 --wide
  $ vdb chunk list --lib docs --where tag=draft --where 'year<2000'
  $ vdb chunk list --lib docs --json | jq -r .text`,
    )
    .action(async (o, cmd: Command) => {
      const filter = o.where !== undefined || o.filter !== undefined ? filterOptions(o) : undefined;
      const mode = modeOf(cmd);
      const paged = mode.tty && !mode.json && o.limit === undefined;
      const withEmbedding = o.withEmbedding === true;
      const { total, chunks } = await (await serviceOf(cmd, { read: true })).listChunks(o.lib, { offset: o.offset, limit: paged ? TTY_PAGE : o.limit, withEmbedding, filter });
      if (mode.json) return printNdjson(chunks);
      // A terminal shows the doc column when a chunk has one; piped lines always have it (fifth), for cut and awk.
      const withDoc = !mode.tty || chunks.some((c) => c.doc_id !== null);
      const head = ['id', 'text', 'metadata', 'tags', ...(withDoc ? ['doc'] : []), ...(withEmbedding ? ['embedding'] : [])];
      const rows = chunks.map((c) => chunkRow(c, withDoc, withEmbedding));
      await printTable(head, rows, mode, withEmbedding ? [1, head.length - 1, 2] : [1, 2]);
      const more = total - o.offset - chunks.length;
      if (paged && more > 0) message(`… ${more} more (use --limit and --offset, or pipe the output to see them all)`);
    });

  chunk
    .command('get')
    .description('show one chunk')
    .argument('<id>', 'chunk id')
    .addOption(libOption('chunk'))
    .option('--with-embedding', 'include the embedding')
    .addHelpText('after', '\nExamples:\n  $ vdb chunk get chk_0123456789abcdef --json --with-embedding\n  $ vdb chunk get faq-1 --lib docs')
    .action(async (id: string, o, cmd: Command) => {
      const view = await (await serviceOf(cmd, { read: true })).getChunk(id, o.withEmbedding === true, o.lib);
      await printRecord({ ...view }, modeOf(cmd));
    });

  chunk
    .command('update')
    .description('change a chunk\'s text, embedding, metadata, tags or document (a new text is re-embedded)')
    .argument('<id>', 'chunk id')
    .addOption(libOption('chunk'))
    .option('--doc <id>', 'move it to this document of its library ("" for none)')
    .option('--text <text>', 'new text')
    .option('--embedding <json>', 'new embedding')
    .option('--metadata <json>', 'new metadata (replaces the old object)')
    .option('--tag <tag>', 'new tags (repeatable; replaces the old ones)', collect)
    .option('--no-tags', 'remove every tag')
    .addHelpText(
      'after',
      '\nExamples:\n  $ vdb chunk update chk_0123456789abcdef --text "fixed typo"\n  $ vdb chunk update chk_0123456789abcdef --metadata \'{"reviewed": true}\'\n  $ vdb chunk update chk_0123456789abcdef --no-tags\n  $ vdb chunk update chk_0123456789abcdef --metadata \'{}\'      # clears the metadata',
    )
    .action(async (id: string, o, cmd: Command) => {
      // commander sets tags to false for --no-tags (and to true by default).
      const clearTags = o.tags === false;
      if (clearTags && o.tag !== undefined) cmd.error('error: give --tag or --no-tags, not both', { exitCode: 2 });
      if ([o.text, o.embedding, o.metadata, o.tag, o.doc].every((v) => v === undefined) && !clearTags) {
        cmd.error('error: nothing to update: give --text, --embedding, --metadata, --tag, --no-tags or --doc', { exitCode: 2 });
      }
      const view = await (await serviceOf(cmd)).updateChunk(
        id,
        {
          doc_id: o.doc === '' ? null : o.doc,
          text: o.text,
          embedding: jsonFlag(o.embedding, '--embedding') as number[] | undefined,
          metadata: jsonObjectFlag(o.metadata, '--metadata'),
          tags: clearTags ? [] : o.tag,
        },
        o.lib,
      );
      await printRecord({ ...view }, modeOf(cmd));
    });

  chunk
    .command('delete')
    .description('delete chunks by id, or every chunk of a library matching a filter (all of them, or none: one atomic change)')
    .argument('[ids...]', 'chunk ids')
    .option('--lib <lib>', 'the library: needed with --where/--filter, and with ids that several libraries hold')
    .option('--where <expr>', 'delete the chunks matching this shorthand filter (repeatable: all must hold)', collect)
    .option('--filter <json>', 'delete the chunks matching this JSON filter ({} matches every chunk)')
    .option('--dry-run', 'with a filter: print what would be deleted, delete nothing')
    .addHelpText(
      'after',
      `
By id: every id must exist, or nothing is deleted. By filter: the matching chunks of --lib are deleted in one
atomic change; the deleted chunks are printed (ids, or NDJSON with --json).
${FILTER_HELP}
Examples:
  $ vdb chunk delete chk_0123456789abcdef
  $ vdb chunk delete --lib docs faq-1 faq-2
  $ vdb chunk delete --lib docs --where tag=draft
  $ vdb chunk delete --lib docs --where 'created_before=2024-01-01' --dry-run
  $ vdb chunk delete --lib docs --filter '{"source": {"$in": ["old", "tmp"]}}'`,
    )
    .action(async (ids: string[], o, cmd: Command) => {
      const byFilter = o.where !== undefined || o.filter !== undefined;
      if (byFilter && ids.length > 0) cmd.error('error: give chunk ids or a filter (--where/--filter), not both', { exitCode: 2 });
      if (byFilter && o.lib === undefined) cmd.error('error: deleting by filter needs --lib LIB', { exitCode: 2 });
      if (!byFilter && o.dryRun) cmd.error('error: --dry-run goes with --where or --filter', { exitCode: 2 });
      if (!byFilter && ids.length === 0) cmd.error('error: give chunk ids, or --lib LIB with --where/--filter (see vdb chunk delete --help)', { exitCode: 2 });
      const svc = await serviceOf(cmd);
      const deleted = byFilter ? await svc.deleteWhere(o.lib, filterOptions(o), { dryRun: o.dryRun === true }) : await svc.deleteChunks(ids, o.lib);
      if (globals(cmd).json) printNdjson(deleted);
      else process.stdout.write(deleted.map((c) => `${c.id}\n`).join(''));
      const n = `${deleted.length} chunk${deleted.length === 1 ? '' : 's'}`;
      await success(o.dryRun ? `would delete ${n}` : `deleted ${n}`);
    });

  return chunk;
}

function chunkRow(c: ChunkView, withDoc: boolean, withEmbedding: boolean): string[] {
  const row = [c.id, c.text, JSON.stringify(c.metadata), c.tags.join(',')];
  if (withDoc) row.push(c.doc_id ?? '');
  return withEmbedding ? [...row, JSON.stringify(c.embedding ?? [])] : row;
}

