import { Command, Option } from 'commander';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { StorageError, UsageError } from '../../domain/errors.js';
import type { VdbApi } from '../../service/api.js';
import type { ClusterNode } from '../../cluster/node.js';
import { envPositiveInt, globals, intArg, serviceOf } from '../context.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_HOST, DEFAULT_PORT, LOG_FORMATS, LOG_LEVELS } from '../../server/options.js';
import { message } from '../output.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** `vdb serve`: the REST API over the snapshot, until SIGINT/SIGTERM. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the snapshot over HTTP: the REST API at /api/v1, Swagger UI at /docs')
    .option('--host <host>', 'address to bind; anything but loopback exposes the API', DEFAULT_HOST)
    .option('--port <port>', 'TCP port (0: any free port, printed at start-up)', intArg(0, 65535), DEFAULT_PORT)
    .addOption(new Option('--log-level <level>', 'request log level (on stderr)').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--log-format <format>', 'auto: one readable line per request on a terminal, JSON lines (pino) otherwise').choices(LOG_FORMATS).default('auto'),
    )
    .option('--body-limit <bytes>', 'largest request body accepted (413 beyond)', intArg(1024, 1 << 30), DEFAULT_BODY_LIMIT)
    .option('--cluster <url>', 'join a replica set coordinated by etcd: etcd://HOST:PORT[,HOST:PORT...][/NAME] (--db is this node\'s replica)')
    .option('--node-id <id>', 'with --cluster: this node\'s unique name in the cluster')
    .option('--advertise <url>', 'with --cluster: where the other nodes reach this one (default: http://HOST:PORT of --host and --port)')
    .addHelpText(
      'after',
      `
Environment:
  VDB_API_KEY   when set, every request but GET /healthz needs "Authorization: Bearer $VDB_API_KEY"
                (or Qdrant's "api-key: $VDB_API_KEY" header; cluster nodes forward writes to their
                leader with it: give every node the same key)

Qdrant's REST API is served too, at its root paths (/collections/...): Qdrant clients
(@qdrant/js-client-rest, LangChain's QdrantVectorStore, qdrant-client) work against vdb serve --port 6333.

Cluster (see the README's Cluster section): every node keeps its own replica, writes go to any node and
through a log in etcd, the nodes elect a leader; GET /api/v1/cluster (vdb cluster status) shows them.

SIGINT or SIGTERM stops accepting connections, lets in-flight requests finish, then exits.

Examples:
  $ vdb serve
  $ vdb serve --log-format json 2> requests.ndjson
  $ VDB_API_KEY=s3cret vdb --db /data/vdb.json serve --host 0.0.0.0 --port 8000 --log-level warn
  $ vdb --db n1.json serve --port 8001 --cluster etcd://127.0.0.1:2379 --node-id n1
  $ curl -X POST http://127.0.0.1:8000/api/v1/libraries/ -d '{"name": "demo"}' -H "Content-Type: application/json"`,
    )
    .action(async (o, cmd: Command) => {
      const apiKey = process.env.VDB_API_KEY;
      if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('VDB_API_KEY is set but empty; unset it to serve without auth');
      const g = globals(cmd);
      const db = g.db;
      if (g.remote !== undefined) throw new UsageError('vdb serve serves a local snapshot; drop --remote (and VDB_REMOTE)');
      if (o.cluster === undefined && (o.nodeId !== undefined || o.advertise !== undefined)) throw new UsageError('--node-id and --advertise go with --cluster');
      if (o.cluster !== undefined && o.nodeId === undefined) throw new UsageError('--cluster needs --node-id ID, unique in the cluster');
      if (o.advertise !== undefined && !/^https?:\/\/[^/\s]+$/.test(o.advertise)) throw new UsageError(`--advertise must be http://HOST:PORT (no path), got "${o.advertise}"`);
      if (o.cluster !== undefined && o.advertise === undefined && !o.host.match(/^[0-9a-zA-Z.:-]+$/)) throw new UsageError('--cluster needs --advertise URL with this --host');
      if (o.cluster !== undefined && o.advertise === undefined && (o.host === '0.0.0.0' || o.host === '::')) {
        throw new UsageError(`--host ${o.host} listens everywhere: give --advertise http://ADDRESS:PORT, where the other nodes reach this one`);
      }
      checkWritableDir(db);
      let api: VdbApi;
      let node: ClusterNode | undefined;
      if (o.cluster !== undefined) {
        const { parseClusterUrl } = await import('../../cluster/etcd.js');
        const address = parseClusterUrl(o.cluster);
        const { ClusterNode } = await import('../../cluster/node.js');
        message(`vdb: joining cluster ${address.name} on etcd ${o.cluster.replace(/^etcd:\/\//, '').split('/')[0]} as node ${o.nodeId}`);
        node = await ClusterNode.join({ db, address, nodeId: o.nodeId, seed: g.seed, apiKey, log: message });
        api = node;
      } else {
        // Builds on a worker thread: /healthz and reads are answered during a long HNSW build.
        // HNSW queries on a pool of worker threads (VDB_THREADS, default a thread per core), this one serving.
        const service = await serviceOf(cmd, { concurrentReaders: true, buildsOffThread: true, queryThreads: envPositiveInt('VDB_THREADS') ?? availableParallelism() });
        // Fail now on a corrupt or unreadable snapshot rather than on the first request.
        service.listLibraries();
        api = service;
      }
      // Loaded only here: other commands must not pay for fastify at start-up.
      const { buildApp } = await import('../../server/app.js');
      const logFormat = o.logFormat === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : o.logFormat;
      let app;
      try {
        app = await buildApp({ service: api, cluster: node, apiKey, logLevel: o.logLevel, bodyLimit: o.bodyLimit, logFormat });
      } catch (err) {
        await node?.stop();
        throw err;
      }
      try {
        await app.listen({ host: o.host, port: o.port });
      } catch (err) {
        await node?.stop();
        const e = err as NodeJS.ErrnoException;
        const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message);
        throw new StorageError(`cannot listen on ${o.host}:${o.port}: ${why}`, { hint: e.code === 'EADDRINUSE' ? 'stop the other server or choose another --port' : 'check --host and --port' });
      }
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : o.port;
      const base = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
      if (node) {
        try {
          await node.start(o.advertise ?? base);
        } catch (err) {
          await app.close();
          await node.stop();
          throw err;
        }
        message(`vdb: node ${node.nodeId} of cluster ${node.clusterId}, reached at ${o.advertise ?? base}`);
      }
      message(`vdb: serving ${resolve(globals(cmd).db)} at ${base}/api/v1 (docs: ${base}/docs)${apiKey ? ', API key required' : ''}`);
      if (!LOOPBACK.has(o.host) && !apiKey) message(`vdb: warning: listening on ${o.host} without VDB_API_KEY: anyone who can reach it can change the data`);
      // In-flight requests finish first; then a leader steps down, so another takes over at once.
      await stopOnSignal(async () => {
        await app.close();
        await node?.stop();
        if (!node) await (api as import('../../service/service.js').VdbService).closeQueryThreads();
        // etcd3 leaves its watch stream open when etcd cancels a watch as it is created (a compacted revision):
        // everything is closed and flushed by now, so exit if only that socket keeps the process alive.
        if (node) setTimeout(() => process.exit(), 1000).unref();
      });
    });
}

/**
 * The snapshot's directory must exist and be writable before the server starts:
 * otherwise every write would fail with a 500, long after start-up.
 */
function checkWritableDir(db: string): void {
  const dir = dirname(resolve(db));
  try {
    if (!statSync(dir).isDirectory()) throw new StorageError(`cannot serve ${db}: ${dir} is not a directory`, { hint: 'choose another --db' });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StorageError(`cannot serve ${db}: directory ${dir} does not exist`, { hint: `create it (mkdir -p ${dir}) or choose another --db` });
    throw new StorageError(`cannot serve ${db}: directory ${dir} is not writable (${code})`, { hint: 'check its permissions or choose another --db' });
  }
}

/** Resolves once the server has closed after SIGINT/SIGTERM; a second signal exits at once. */
function stopOnSignal(close: () => Promise<unknown>): Promise<void> {
  return new Promise((done, fail) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      message(`vdb: ${signal}: finishing in-flight requests, then exiting`);
      close().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        message('vdb: stopped');
        done();
      }, fail);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
