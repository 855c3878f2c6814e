import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseRemote } from '../context.js';
import { message } from '../output.js';

/** The embedder of the demo library: the best one that works offline with nothing to download. */
const DEMO_EMBEDDER = 'letters';
const DEMO_TEXTS = ['the quick brown fox jumps over the lazy dog', 'vector databases find the nearest embeddings', 'a recipe for lemon cake with sugar and eggs'];
const DEMO_QUESTION = 'which database finds nearest vectors?';

/** The seed README's one-minute demo, then a text query, run through the real commands on a temporary snapshot. */
export function demoCommand(run: (argv: string[]) => Promise<number>): Command {
  return new Command('demo')
    .description('run the one-minute demo on a temporary snapshot, showing each step')
    .option('--keep', 'keep the temporary snapshot and print its path')
    .addHelpText('after', '\nExamples:\n  $ vdb demo\n  $ vdb demo --keep')
    .action(async (o, cmd: Command) => {
      refuseRemote(cmd, 'vdb demo');
      const dir = mkdtempSync(join(tmpdir(), 'vdb-demo-'));
      const db = join(dir, 'demo.json');
      const json = cmd.optsWithGlobals().json === true ? ['--json'] : [];
      // The all-ones query of the seed's demo, as long as the library's vectors (known after step 1).
      const ones = async (): Promise<[string, string[]]> => {
        const { VdbService } = await import('../../service/service.js');
        const { dim } = new VdbService({ path: db }).getLibrary('demo');
        return [`4. query with the ${dim}-dim all-ones embedding, k=3`, ['query', '--lib', 'demo', '--embedding', JSON.stringify(new Array(dim).fill(1)), '-k', '3']];
      };
      const steps: ([string, string[]] | (() => Promise<[string, string[]]>))[] = [
        [`1. create a library (${DEMO_EMBEDDER} embedder, cosine)`, ['lib', 'create', 'demo', '--embedder', DEMO_EMBEDDER]],
        ['2. add a chunk', ['chunk', 'add', '--lib', 'demo', 'hello vector world']],
        ['3. build the index (linear scan by default)', ['index', 'build', '--lib', 'demo']],
        ones,
        ['5. add a few more chunks, tagged', ['chunk', 'add', '--lib', 'demo', ...DEMO_TEXTS, '--tag', 'demo']],
        ['6. bring the index up to date', ['index', 'build', '--lib', 'demo']],
        ['7. ask in words: the nearest chunks come first, highest similarity on top', ['query', '--lib', 'demo', '--text', DEMO_QUESTION, '-k', '3']],
      ];
      try {
        for (const step of steps) {
          const [title, argv] = typeof step === 'function' ? await step() : step;
          message(`\n${title}\n$ vdb ${argv.map(shellQuote).join(' ')}`);
          const code = await run(['--db', db, ...json, ...argv]);
          if (code !== 0) throw new Error(`demo step failed with exit code ${code}`);
        }
        message(o.keep ? `\nsnapshot kept at ${db}` : '\ndone; try it on your own data: vdb lib create docs');
      } finally {
        if (!o.keep) rmSync(dir, { recursive: true, force: true });
      }
    });
}

function shellQuote(arg: string): string {
  return /^[\w./:=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
