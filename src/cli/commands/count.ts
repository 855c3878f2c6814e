import { Command } from 'commander';
import { collect, globals, serviceOf } from '../context.js';
import { printJson } from '../output.js';
import { FILTER_HELP, filterOptions } from './filter-options.js';

export function countCommand(): Command {
  return new Command('count')
    .description('count the chunks of a library, or those matching a filter')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--where <expr>', 'count the chunks matching this shorthand filter (repeatable: all must hold)', collect)
    .option('--filter <json>', 'count the chunks matching this JSON filter')
    .addHelpText('after', `\nPrints the number (--json: {"lib_id", "count"}). Counting reads the filter columns, not the chunks.\n${FILTER_HELP}\nExamples:\n  $ vdb count --lib docs\n  $ vdb count --lib docs --where tag=draft\n  $ vdb count --lib docs --filter '{"year": {"$gte": 2020}}' --json`)
    .action(async (o, cmd: Command) => {
      const res = await (await serviceOf(cmd, { read: true })).countChunks(o.lib, filterOptions(o));
      if (globals(cmd).json) printJson(res);
      else process.stdout.write(`${res.count}\n`);
    });
}
