import { Command, Option } from 'commander';
import { InvalidInput } from '../../domain/errors.js';
import { checkText } from '../../domain/validate.js';
import type { Embedder, InputType } from '../../embed/registry.js';
import { refuseRemote } from '../context.js';
import { stdinObjects } from '../ndjson.js';
import { printNdjson, progressCounter } from '../output.js';

/** Lines embedded (and printed) together from --stdin: bounded memory, batches full enough for any provider. */
const STDIN_GROUP = 2048;

export function embedCommand(): Command {
  return new Command('embed')
    .description('print the vectors of texts as NDJSON {"text", "embedding"}, with any embedder')
    .requiredOption('--embedder <spec>', 'letters, glove, openai:MODEL[@DIMS], cohere:MODEL[@DIMS] or local:NAME_OR_PATH')
    .argument('[text...]', 'texts to embed')
    .option('--stdin', 'embed NDJSON lines {"text", ...}: each line comes back with "embedding" added')
    .addOption(new Option('--input-type <type>', 'what the texts are for (Cohere embeds queries differently)').choices(['document', 'query']).default('document'))
    .option('--no-cache', 'neither read nor write the embedding cache')
    .addHelpText(
      'after',
      `
Lines from --stdin keep their other fields, so the output can go straight into a library with
explicit embeddings: vdb lib create papers --dim 100 && vdb embed --embedder glove --stdin < in.ndjson | vdb chunk add --lib papers --stdin

Examples:
  $ vdb embed --embedder glove "a small cat" "stock market"
  $ jq -c '{text: .body}' pages.jsonl | vdb embed --embedder openai:text-embedding-3-small --stdin > vectors.ndjson
  $ vdb embed --embedder cohere:embed-english-v3.0 --input-type query "where is the cat?"`,
    )
    .action(async (texts: string[], o, cmd: Command) => {
      refuseRemote(cmd, 'vdb embed');
      if (o.stdin && texts.length > 0) cmd.error('error: give TEXT arguments or --stdin, not both', { exitCode: 2 });
      if (!o.stdin && texts.length === 0) cmd.error('error: give TEXT arguments or --stdin (see vdb embed --help)', { exitCode: 2 });
      const { openEmbedder, resolveSpec } = await import('../../embed/registry.js');
      const resolved = await resolveSpec(o.embedder);
      const embedder = await openEmbedder(resolved.spec, resolved.dim);
      const inputType = o.inputType as InputType;
      if (!o.stdin) {
        await emit(embedder, texts.map((text) => ({ text })), inputType, o.cache, (i) => (texts.length > 1 ? `text ${i + 1}` : undefined));
        return;
      }
      const counter = progressCounter('embedded lines:');
      let group: Record<string, unknown>[] = [];
      let lines: number[] = [];
      let total = 0;
      try {
        for await (const [n, obj] of stdinObjects('{"text": "hello"}')) {
          group.push(obj);
          lines.push(n);
          if (group.length === STDIN_GROUP) {
            const at = lines;
            await emit(embedder, group, inputType, o.cache, (i) => `line ${at[i]}`);
            total += group.length;
            counter.tick(total);
            group = [];
            lines = [];
          }
        }
        const at = lines;
        if (group.length > 0) await emit(embedder, group, inputType, o.cache, (i) => `line ${at[i]}`);
        total += group.length;
      } finally {
        counter.stop();
      }
      if (total === 0) throw new InvalidInput('no lines on stdin: expected NDJSON lines such as {"text": "hello"}');
    });
}

async function emit(embedder: Embedder, items: Record<string, unknown>[], inputType: InputType, cache: boolean, where: (i: number) => string | undefined): Promise<void> {
  const { embedTexts } = await import('../../embed/registry.js');
  const texts = items.map((item, i) => checkText(item.text, where(i)));
  const vectors = await embedTexts(embedder, texts, { inputType, where, cache });
  printNdjson(items.map((item, i) => ({ ...item, embedding: Array.from(vectors[i]) })));
}
