import { Command } from 'commander';
import { once } from 'node:events';
import type { RemoteService } from '../../client/remote.js';
import type { VdbService } from '../../service/service.js';
import { collect, globals, serviceOf } from '../context.js';
import { stdinObjects } from '../ndjson.js';
import { printJson, progressBar, progressCounter, success } from '../output.js';
import { onConflictOption } from './chunk.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write libraries (settings, documents, chunks with embeddings, index definitions) as NDJSON to stdout')
    .option('--lib <lib>', 'only this library (repeatable); default: all', collect)
    .addHelpText(
      'after',
      `
Embeddings are base64 float32, bit for bit. vdb import reads it back; export → import → export
gives the same bytes.

With --remote URL the server streams it (GET /api/v1/export), from one state of its data.

Examples:
  $ vdb export > backup.ndjson
  $ vdb --remote http://127.0.0.1:8000 export --lib docs > docs.ndjson
  $ vdb export --lib docs | vdb --db other.json import
  $ vdb export --lib docs | gzip > docs.ndjson.gz`,
    )
    .action(async (o, cmd: Command) => {
      const libs: string[] = o.lib ?? [];
      const service = await serviceOf(cmd, { read: true });
      const { TransferService, exportPieces } = await import('../../service/transfer.js');
      // Over --remote the server streams the same lines (GET /api/v1/export).
      const lines = globals(cmd).remote !== undefined ? (service as RemoteService).client.exportNdjson(libs) : new TransferService(service as VdbService).exportLines(libs);
      const stdout = process.stdout;
      for await (const piece of exportPieces(lines)) {
        // Waits for a slow reader instead of queueing the whole export in memory.
        if (!stdout.write(piece)) await once(stdout, 'drain');
      }
    });
}

export function importCommand(): Command {
  return new Command('import')
    .description('read a vdb export from stdin into this database, as one atomic change (indexes are built again)')
    .addOption(onConflictOption('a library name, document or chunk'))
    .addHelpText(
      'after',
      `
A library whose name is not in the database is created (with its id, unless that is taken).
One whose name exists is a conflict; with --on-conflict skip or replace, the export's documents
and chunks are merged into it (same dim, metric and embedder), and ids that exist are left as they
are or replaced. Every line is checked first: a bad line is named and nothing is imported.
With --remote URL the export is read and checked here, then checked against the server's data,
then sent in batches, each one atomic change (one log entry on a cluster).

Examples:
  $ vdb --db restored.json import < backup.ndjson
  $ vdb export --db a.json --lib docs | vdb --db b.json import --on-conflict replace`,
    )
    .action(async (o, cmd: Command) => {
      const [{ TransferService }, { ImportReader }, { importInBatches }, { VdbService }] = await Promise.all([
        import('../../service/transfer.js'),
        import('../../transfer/format.js'),
        import('../../transfer/batches.js'),
        import('../../service/service.js'),
      ]);
      const svc = await serviceOf(cmd);
      const reader = new ImportReader();
      const reading = progressCounter('reading lines:');
      try {
        for await (const [n, obj] of stdinObjects('{"format": "vdb-export", "version": 1}')) {
          reader.add(n, obj);
          reading.tick(n);
        }
      } finally {
        reading.stop();
      }
      const local = svc instanceof VdbService;
      const bar = await progressBar(local ? 'building indexes' : 'sending');
      let reports;
      try {
        // Locally one atomic change; to a server, checked there and then sent in batches (transfer/batches.ts).
        reports = local
          ? await new TransferService(svc).import(reader, { onConflict: o.onConflict, onProgress: bar?.update })
          : await importInBatches(svc, reader, { onConflict: o.onConflict, onProgress: bar?.update });
      } finally {
        bar?.stop();
      }
      if (globals(cmd).json) printJson({ libraries: reports });
      else process.stdout.write(reports.map((r) => `${r.id}\n`).join(''));
      const chunks = reports.reduce((n, r) => n + r.chunks.added + r.chunks.replaced, 0);
      const docs = reports.reduce((n, r) => n + r.documents.added + r.documents.replaced, 0);
      await success(`imported ${reports.length} librar${reports.length === 1 ? 'y' : 'ies'}: ${docs} documents and ${chunks} chunks written`);
    });
}
