import { Command } from 'commander';
import { InvalidInput } from '../../domain/errors.js';
import type { ChunkView, NewChunk } from '../../domain/types.js';
import { checkEmbedding, checkKeys } from '../../domain/validate.js';
import { collect, globals, intArg, jsonFlag, jsonObjectFlag, modeOf, serviceOf } from '../context.js';
import { stdinObjects } from '../ndjson.js';
import { message, printNdjson, printRecord, printTable, progressBar, progressCounter, success } from '../output.js';

const CHUNK_FIELDS = ['text', 'embedding', 'metadata', 'tags'] as const;
/** Rows `chunk list` shows on a terminal without --limit. */
const TTY_PAGE = 20;
// Lines exported by `chunk list --json` carry these too; accepted and ignored on import.
const EXPORT_FIELDS = ['id', 'lib_id', 'created_at', 'updated_at'] as const;

export function chunkCommand(): Command {
  const chunk = new Command('chunk')
    .description('add, list, get, update and delete chunks')
    .addHelpText('after', '\nExamples:\n  $ vdb chunk add --lib docs "hello vector world"\n  $ vdb chunk add --lib docs --stdin < chunks.ndjson\n  $ vdb chunk list --lib docs --json');

  chunk
    .command('add')
    .description('add chunks: one per TEXT argument, or NDJSON lines from --stdin (all or nothing)')
    .requiredOption('--lib <lib>', 'library id or name')
    .argument('[text...]', 'chunk texts')
    .option('--embedding <json>', 'explicit embedding for a single chunk, e.g. "[0.1, 0.2]"')
    .option('--metadata <json>', 'JSON object stored with each chunk')
    .option('--tag <tag>', 'tag (repeatable)', collect)
    .option('--stdin', 'read NDJSON lines {"text"?, "embedding"?, "metadata"?, "tags"?}')
    .addHelpText(
      'after',
      `
Examples:
  $ vdb chunk add --lib docs "hello vector world" "another chunk"
  $ vdb chunk add --lib papers --embedding "[0.1, 0.2, 0.3]" --metadata '{"year": 2024}'
  $ vdb chunk add --lib docs --stdin < chunks.ndjson
  $ vdb chunk list --lib old --json --with-embedding | vdb chunk add --lib new --stdin`,
    )
    .action(async (texts: string[], o, cmd: Command) => {
      const svc = await serviceOf(cmd);
      let items: NewChunk[];
      let where: ((i: number) => string | undefined) | undefined;
      if (o.stdin) {
        if (texts.length > 0 || o.embedding !== undefined || o.metadata !== undefined || o.tag !== undefined) {
          cmd.error('error: --stdin takes every field from its lines; drop TEXT, --embedding, --metadata and --tag', { exitCode: 2 });
        }
        const lines: number[] = [];
        items = [];
        // Embeddings are checked while the parser thread reads on (as float32: half the memory of the parsed doubles).
        const { dim } = await svc.getLibrary(o.lib);
        const reading = progressCounter('reading lines:');
        try {
          for await (const [n, obj] of stdinObjects('{"text": "hello"}')) {
            checkKeys(obj, [...CHUNK_FIELDS, ...EXPORT_FIELDS], `line ${n}`);
            const embedding = obj.embedding === undefined ? undefined : checkEmbedding(obj.embedding, dim, `line ${n}`);
            items.push({ text: obj.text, embedding, metadata: obj.metadata, tags: obj.tags } as NewChunk);
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
        if (texts.length === 0 && embedding === undefined) cmd.error('error: give TEXT, --embedding or --stdin', { exitCode: 2 });
        const base = { metadata, tags: o.tag };
        items = texts.length === 0 ? [{ ...base, embedding }] : texts.map((text) => ({ ...base, text, embedding }));
      }
      const bar = items.length > 1 ? await progressBar('preparing chunks') : undefined;
      let added: ChunkView[];
      try {
        added = await svc.addChunks(o.lib, items, { where, onProgress: bar?.update });
      } finally {
        bar?.stop();
      }
      if (globals(cmd).json) printNdjson(added);
      else process.stdout.write(added.map((c) => `${c.id}\n`).join(''));
      await success(`added ${added.length} chunk${added.length === 1 ? '' : 's'}`);
    });

  chunk
    .command('list')
    .description('list the chunks of a library, in insertion order (--json: NDJSON)')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--offset <n>', 'skip this many chunks', intArg(0), 0)
    .option('--limit <n>', 'list at most this many', intArg(0))
    .option('--with-embedding', 'include each chunk\'s embedding')
    .addHelpText(
      'after',
      `
On a terminal, without --limit, the first ${TTY_PAGE} chunks are shown, with how many more there are.

Examples:
  $ vdb chunk list --lib docs --limit 20
  $ vdb chunk list --lib docs --offset 20 --limit 20 --wide
  $ vdb chunk list --lib docs --json | jq -r .text`,
    )
    .action(async (o, cmd: Command) => {
      const mode = modeOf(cmd);
      const paged = mode.tty && !mode.json && o.limit === undefined;
      const withEmbedding = o.withEmbedding === true;
      const { total, chunks } = await (await serviceOf(cmd, { read: true })).listChunks(o.lib, { offset: o.offset, limit: paged ? TTY_PAGE : o.limit, withEmbedding });
      if (mode.json) return printNdjson(chunks);
      const head = ['id', 'text', 'metadata', 'tags', ...(withEmbedding ? ['embedding'] : [])];
      await printTable(head, chunks.map((c) => chunkRow(c, withEmbedding)), mode, withEmbedding ? [1, 4, 2] : [1, 2]);
      const more = total - o.offset - chunks.length;
      if (paged && more > 0) message(`… ${more} more (use --limit and --offset, or pipe the output to see them all)`);
    });

  chunk
    .command('get')
    .description('show one chunk')
    .argument('<id>', 'chunk id')
    .option('--with-embedding', 'include the embedding')
    .addHelpText('after', '\nExamples:\n  $ vdb chunk get chk_0123456789abcdef --json --with-embedding')
    .action(async (id: string, o, cmd: Command) => {
      const view = await (await serviceOf(cmd, { read: true })).getChunk(id, o.withEmbedding === true);
      await printRecord({ ...view }, modeOf(cmd));
    });

  chunk
    .command('update')
    .description('change a chunk\'s text, embedding, metadata or tags (a new text is re-embedded)')
    .argument('<id>', 'chunk id')
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
      if ([o.text, o.embedding, o.metadata, o.tag].every((v) => v === undefined) && !clearTags) {
        cmd.error('error: nothing to update: give --text, --embedding, --metadata, --tag or --no-tags', { exitCode: 2 });
      }
      const view = await (await serviceOf(cmd)).updateChunk(id, {
        text: o.text,
        embedding: jsonFlag(o.embedding, '--embedding') as number[] | undefined,
        metadata: jsonObjectFlag(o.metadata, '--metadata'),
        tags: clearTags ? [] : o.tag,
      });
      await printRecord({ ...view }, modeOf(cmd));
    });

  chunk
    .command('delete')
    .description('delete chunks (all of them, or none if any id is unknown)')
    .argument('<ids...>', 'chunk ids')
    .addHelpText('after', '\nExamples:\n  $ vdb chunk delete chk_0123456789abcdef\n  $ vdb chunk list --lib docs --json | jq -r \'select(.metadata.draft) | .id\' | xargs -r vdb chunk delete')
    .action(async (ids: string[], _o, cmd: Command) => {
      const deleted = await (await serviceOf(cmd)).deleteChunks(ids);
      if (globals(cmd).json) printNdjson(deleted);
      else process.stdout.write(deleted.map((c) => `${c.id}\n`).join(''));
      await success(`deleted ${deleted.length} chunk${deleted.length === 1 ? '' : 's'}`);
    });

  return chunk;
}

function chunkRow(c: ChunkView, withEmbedding: boolean): string[] {
  const row = [c.id, c.text, JSON.stringify(c.metadata), c.tags.join(',')];
  return withEmbedding ? [...row, JSON.stringify(c.embedding ?? [])] : row;
}

