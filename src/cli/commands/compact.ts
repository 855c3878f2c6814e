import { Command } from 'commander';
import { modeOf, refuseRemote, serviceOf } from '../context.js';
import { printRecord, success } from '../output.js';

export function compactCommand(): Command {
  return new Command('compact')
    .description('fold the log of recent writes into a fresh snapshot (vdb also does this on its own as the log grows)')
    .addHelpText(
      'after',
      `
Large databases keep their vectors in sidecar files beside the snapshot and record
small writes in an append-only log, replayed on load. compact writes a new
generation with the log folded in; a small one-file snapshot is rewritten as is.

Examples:
  $ vdb compact
  $ vdb --db big.json compact --json | jq .log_records_folded`,
    )
    .action(async (_o, cmd: Command) => {
      refuseRemote(cmd, 'vdb compact (a server folds its own log as it goes)');
      const started = performance.now();
      const view = await (await serviceOf(cmd, { read: true })).compact();
      await printRecord({ ...view }, modeOf(cmd));
      await success(`folded ${view.log_records_folded} log records in ${Math.round(performance.now() - started)} ms`);
    });
}
