/**
 * `vdb import` against a server (`--remote`, a single node or a cluster): the
 * export is read and checked here, whole, before anything is sent, as a local
 * import does; then the server checks it against its data (names, dims,
 * documents named from outside the export), and only then are the records
 * sent, per library, in batches of about IMPORT_BATCH_BYTES. Each batch is
 * one atomic change (on a cluster, one log entry); the import as a whole is
 * not: a failure after the checks (the server gone, a concurrent writer)
 * leaves the batches before it written, and running the import again with
 * --on-conflict skip or replace finishes it.
 */
import { envNumber } from '../domain/env.js';
import type { VdbApi } from '../service/api.js';
import type { ImportedLibraryReport, ImportOptions } from '../service/transfer.js';
import { importedChunkRecord, importedDocumentRecord, importedLibraryRecord } from './format.js';
import type { ImportReader, NumberedRecord } from './format.js';

/** Bytes of records per batch (VDB_IMPORT_BATCH_BYTES): one batch stays one etcd value (1 MiB) on a cluster, and far below a server's body limit. */
export const IMPORT_BATCH_BYTES = 900 << 10;
const IMPORT_BATCH_RECORDS = 5000;

/** Imports what `reader` read through `api`'s batches; reports as TransferService.import does. */
export async function importInBatches(api: VdbApi, reader: ImportReader, opts: ImportOptions = {}): Promise<ImportedLibraryReport[]> {
  const onConflict = opts.onConflict ?? 'fail';
  const batchBytes = envNumber(process.env, 'VDB_IMPORT_BATCH_BYTES', IMPORT_BATCH_BYTES, 1);
  const outside: Record<string, string[]> = {};
  for (const L of reader.libraries) {
    const inFile = new Set(L.documents.map((d) => d.id));
    const named = new Set(L.chunks.flatMap((c) => (c.doc_id !== undefined && !inFile.has(c.doc_id) ? [c.doc_id] : [])));
    if (named.size > 0) outside[L.id] = [...named];
  }
  await api.checkImport(reader.libraries.map(importedLibraryRecord), { onConflict, outside });
  const total = reader.libraries.reduce((n, L) => n + L.documents.length + L.chunks.length, 0);
  let sent = 0;
  const reports: ImportedLibraryReport[] = [];
  for (const L of reader.libraries) {
    const head = importedLibraryRecord(L);
    const records = function* (): Generator<NumberedRecord> {
      for (let i = 0; i < L.documents.length; i++) yield importedDocumentRecord(L, i);
      for (let i = 0; i < L.chunks.length; i++) yield importedChunkRecord(L, i);
    };
    let report: ImportedLibraryReport | null = null;
    let batch: NumberedRecord[] = [];
    let bytes = 0;
    const send = async (last: boolean) => {
      const into = report ? { id: report.id, created: report.created } : undefined;
      const changed = report ? report.chunks.added + report.chunks.replaced > 0 : false;
      const r = await api.importBatch([head, ...batch], { onConflict, into, last, changed });
      report = report ? merge(report, r) : r;
      sent += batch.length;
      opts.onProgress?.(sent, total);
      batch = [];
      bytes = 0;
    };
    for (const rec of records()) {
      const size = JSON.stringify(rec[1]).length;
      if (batch.length > 0 && (bytes + size > batchBytes || batch.length >= IMPORT_BATCH_RECORDS)) await send(false);
      batch.push(rec);
      bytes += size;
    }
    await send(true);
    reports.push(report!);
  }
  return reports;
}

function merge(a: ImportedLibraryReport, b: ImportedLibraryReport): ImportedLibraryReport {
  const sum = (x: Record<string, number>, y: Record<string, number>) => Object.fromEntries(Object.keys(x).map((k) => [k, x[k] + (y[k] ?? 0)]));
  return { ...a, documents: sum(a.documents, b.documents) as typeof a.documents, chunks: sum(a.chunks, b.chunks) as typeof a.chunks, index: b.index, text_index: b.text_index };
}
