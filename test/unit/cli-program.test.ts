import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

const ALL = ['lib', 'doc', 'chunk', 'ingest', 'index', 'query', 'count', 'embed', 'model', 'export', 'import', 'compact', 'serve', 'cluster', 'demo'];
const names = (argv: string[]) => buildProgram(argv).commands.map((c) => c.name());

describe('the vdb program', () => {
  it('sets up every subcommand for help, an unknown name, none, or after --', () => {
    expect(names([])).toEqual(ALL);
    for (const argv of [['--help'], ['help', 'query'], ['libs'], ['--json'], ['--', 'query'], ['--version']]) expect(names(argv)).toEqual(ALL);
  });

  it('sets up only the subcommand a command line names, past global options and their values', () => {
    // Each name is the one its command gives itself: the table cannot drift from the commands.
    for (const name of ALL) expect(names([name, '--help'])).toEqual([name]);
    expect(names(['--db', 'x.json', '--json', 'query', '--lib', 'a'])).toEqual(['query']);
    expect(names(['--db', 'query', 'chunk', 'add'])).toEqual(['chunk']);
    expect(names(['--db=x.json', '--seed', '7', 'lib', 'list'])).toEqual(['lib']);
    expect(names(['--consistency', 'strong', '--remote', 'http://127.0.0.1:1', 'count'])).toEqual(['count']);
  });
});
