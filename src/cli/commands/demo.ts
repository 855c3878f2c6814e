import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { message } from '../output.js';

/** The seed README's one-minute demo, run through the real commands on a temporary snapshot. */
export function demoCommand(run: (argv: string[]) => Promise<number>): Command {
  return new Command('demo')
    .description('run the one-minute demo on a temporary snapshot, showing each step')
    .option('--keep', 'keep the temporary snapshot and print its path')
    .addHelpText('after', '\nExamples:\n  $ vdb demo\n  $ vdb demo --keep')
    .action(async (o, cmd: Command) => {
      const dir = mkdtempSync(join(tmpdir(), 'vdb-demo-'));
      const db = join(dir, 'demo.json');
      const json = cmd.optsWithGlobals().json === true ? ['--json'] : [];
      const ones = JSON.stringify(new Array(26).fill(1));
      const steps: [string, string[]][] = [
        ['1. create a library (letters embedder: 26 dims, cosine)', ['lib', 'create', 'demo']],
        ['2. add a chunk', ['chunk', 'add', '--lib', 'demo', 'hello vector world']],
        ['3. build the index (linear scan by default)', ['index', 'build', '--lib', 'demo']],
        ['4. query with the 26-dim all-ones embedding, k=3', ['query', '--lib', 'demo', '--embedding', ones, '-k', '3']],
      ];
      try {
        for (const [title, argv] of steps) {
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
