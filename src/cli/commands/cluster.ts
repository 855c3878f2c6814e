import { Command } from 'commander';
import { UsageError } from '../../domain/errors.js';
import { globals, modeOf, refuseRemote } from '../context.js';
import { message, printJson, printTable, success } from '../output.js';

export function clusterCommand(): Command {
  const cluster = new Command('cluster')
    .description('look at a replica set (vdb serve --cluster), or make a node\'s replica standalone')
    .addHelpText('after', '\nExamples:\n  $ vdb cluster status --remote http://127.0.0.1:8001\n  $ vdb --db n3.json cluster detach');

  cluster
    .command('status')
    .description('the cluster as one of its nodes sees it: nodes, leader, term, applied sequence and lag')
    .addHelpText(
      'after',
      `
Any node answers (give --remote URL or set VDB_REMOTE). lag is how many committed writes a node has
not applied yet; state is ready, catching_up, bootstrapping (copying a snapshot) or stalled (see error).

Examples:
  $ vdb cluster status --remote http://127.0.0.1:8001
  $ vdb cluster status --remote http://127.0.0.1:8001 --json | jq '.nodes[] | {node_id, lag}'`,
    )
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      if (g.remote === undefined) throw new UsageError('vdb cluster status asks a server: give --remote URL (or set VDB_REMOTE)');
      const { VdbClient } = await import('../../client/client.js');
      const view = await new VdbClient(g.remote, { apiKey: process.env.VDB_API_KEY || undefined }).clusterStatus();
      const mode = modeOf(cmd);
      if (mode.json) return printJson(view);
      if (view.mode === 'single') {
        message(`vdb: ${g.remote} is a single node (started without --cluster)`);
        return;
      }
      message(
        `cluster ${view.cluster_id} (${view.name}): leader ${view.leader ? `${view.leader.node_id} (${view.leader.url})` : 'none'}, term ${view.term ?? '-'}, ` +
          `log at ${view.committed_seq ?? '?'}, snapshot at ${view.snapshot_seq ?? 'none'}`,
      );
      await printTable(
        ['node', 'role', 'state', 'applied', 'lag', 'url', 'error'],
        view.nodes.map((n) => [n.node_id, n.role, n.state, String(n.applied_seq), String(n.lag), n.url, n.error ?? '-']),
        mode,
        [6],
      );
    });

  cluster
    .command('detach')
    .description('make a cluster node\'s replica (--db) a standalone database that any vdb may write')
    .addHelpText(
      'after',
      `
A node's --db is a replica: standalone vdb commands read it but refuse to change it (exit 5), since its data
changes only through the cluster's log. Stop the node first: detach drops the replica's cluster stamp, and
a node started on it again would have to form a new cluster (a running cluster refuses data it does not know).

Examples:
  $ vdb --db n3.json cluster detach && vdb --db n3.json chunk add --lib docs "now standalone"`,
    )
    .action(async (_o, cmd: Command) => {
      refuseRemote(cmd, 'vdb cluster detach');
      const { SnapshotStore } = await import('../../store/store.js');
      const was = await new SnapshotStore(globals(cmd).db).detach();
      if (globals(cmd).json) printJson({ detached: was !== null, cluster_id: was?.cluster_id ?? null, applied_seq: was?.applied_seq ?? null });
      if (was) await success(`${globals(cmd).db} is standalone now (it was a replica in cluster ${was.cluster_id}, applied up to entry ${was.applied_seq})`);
      else await success(`${globals(cmd).db} was standalone already`);
    });

  return cluster;
}
