import { Command, InvalidArgumentError, Option } from 'commander';
import { thousands } from '../../domain/format.js';
import { FORMATS } from '../../ingest/types.js';
import type { Format } from '../../ingest/types.js';
import type { IngestProgress, IngestSummary } from '../../ingest/run.js';
import { SPLIT_DEFAULTS, SPLIT_LIMITS } from '../../text/split-options.js';
import type { SizeUnit } from '../../text/split-options.js';
import { collect, globals, intArg, serviceOf } from '../context.js';
import { message, out, printJson } from '../output.js';

export function ingestCommand(): Command {
  return new Command('ingest')
    .description('add files and folders to a library: one document per file, split into chunks and embedded; re-running it skips unchanged files')
    .requiredOption('--lib <lib>', 'library id or name (it needs an embedder)')
    .argument('<path...>', 'files and folders (recursive), or - for stdin')
    .option('--include <glob>', 'only files whose path (relative to the folder given) matches; repeatable; "*.md" matches in any folder', collect)
    .option('--exclude <glob>', 'skip files and folders that match; repeatable', collect)
    .option('--hidden', 'also take files and folders whose names start with "."')
    .option('--follow-links', 'follow symbolic links to folders (links to files are always followed)')
    .option('--chunk-size <n>', `largest chunk, in --chunk-unit (default ${SPLIT_DEFAULTS.size})`, intArg(SPLIT_LIMITS.minTokens, SPLIT_LIMITS.maxSize))
    .option('--overlap <n>', `how much of the previous chunk a chunk may repeat, below --chunk-size (default ${SPLIT_DEFAULTS.overlap}, or a fifth of a smaller --chunk-size)`, intArg(0, SPLIT_LIMITS.maxSize))
    .addOption(new Option('--chunk-unit <unit>', 'what sizes count: chars (UTF-16 code units) or tokens (words)').choices(['chars', 'tokens']).default(SPLIT_DEFAULTS.unit))
    .option('--text-field <name>', 'JSON, JSON Lines and CSV: the field or column holding the text; the others become chunk metadata', 'text')
    .addOption(new Option('--format <format>', 'parse every file as this format instead of by its extension').choices([...FORMATS]))
    .option('--stdin-name <name>', 'the document id of stdin (-); its extension gives its format', 'stdin')
    .option('--max-file-size <bytes>', 'refuse files larger than this (suffix K, M or G; default 256M)', bytesArg)
    .option('--prune', 'delete the documents an earlier ingest made whose files were not found this time')
    .option('--strict', 'stop at the first file that cannot be ingested (exit 3, 8 or 9), before its batch is written; without it such files are reported and skipped')
    .addHelpText(
      'after',
      `
Formats by extension: .md .markdown (headings become each chunk's section), .html .htm (visible
text), .json, .jsonl .ndjson and .csv .tsv (one record per chunk group, --text-field), anything
else plain text. Hidden and binary files are skipped. Each file is a document with id = its
path relative to the folder given, metadata path, title, size, mtime, sha256, format; its
chunks are ID#1, ID#2, ... with metadata start, end and heading/section (or record/line/row).

Unchanged files (same sha256 and chunking) are skipped without being parsed; changed ones
are replaced. Files are written in batches, each batch one atomic change, so a run that is
interrupted leaves every file either fully old or fully new, and running it again finishes.
With --remote URL the files are read here and sent to the server in batches (on a cluster,
every file is still written whole, in one log entry).
The full-text index (BM25) is stored at the end; query with --mode text or hybrid.

Examples:
  $ vdb lib create handbook --embedder glove
  $ vdb ingest --lib handbook ./docs
  $ vdb ingest --lib handbook ./docs --include '*.md' --exclude 'drafts/**' --prune
  $ vdb ingest --lib handbook ./docs --chunk-size 200 --overlap 40 --chunk-unit tokens
  $ vdb ingest --lib faq questions.csv --text-field answer
  $ curl -s https://example.com/notes.md | vdb ingest --lib handbook - --stdin-name notes.md
  $ vdb query --lib handbook --text "how do I reset my password?" --mode hybrid`,
    )
    .action(async (paths: string[], o, cmd: Command) => {
      const { ingest, ingestStorage } = await import('../../ingest/run.js');
      // With --remote the files are read here and each batch is one request to the server.
      const svc = await serviceOf(cmd, { storage: ingestStorage() });
      const json = globals(cmd).json;
      const bar = await ingestProgress();
      let summary: IngestSummary;
      const started = performance.now();
      try {
        summary = await ingest(svc, {
          lib: o.lib,
          paths,
          include: o.include,
          exclude: o.exclude,
          hidden: o.hidden === true,
          followSymlinks: o.followLinks === true,
          split: { size: o.chunkSize, overlap: o.overlap, unit: o.chunkUnit as SizeUnit },
          textField: o.textField,
          format: o.format as Format | undefined,
          stdinName: o.stdinName,
          readStdin,
          maxFileBytes: o.maxFileSize,
          prune: o.prune === true,
          strict: o.strict === true,
          countFirst: bar !== null,
          onProgress: bar?.update,
          onFailure: (f) => {
            bar?.clear();
            message(`vdb: warning: ${f.error}; skipped`);
          },
        });
      } finally {
        bar?.stop();
      }
      const seconds = (performance.now() - started) / 1000;
      if (json) return printJson(summary);
      out(`${summaryLine(summary, seconds)}\n`);
    });
}

/** "12 files: 10 added, 1 updated, 1 unchanged, 0 pruned, 0 failed; 48 chunks written, 3 removed (1.2 s)". */
function summaryLine(s: IngestSummary, seconds: number): string {
  const written = s.chunks.added + s.chunks.replaced;
  const extra = s.skipped > 0 ? `, ${s.skipped} binary skipped` : '';
  const text = s.text_index && s.text_index.mode !== 'none' ? '; full-text index stored' : '';
  return `${s.files} file${s.files === 1 ? '' : 's'}: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.pruned} pruned, ${s.failed} failed${extra}; ${written} chunk${written === 1 ? '' : 's'} written, ${s.chunks.removed} removed${text} (${seconds.toFixed(1)} s)`;
}

/** `--max-file-size`: bytes, or with a K, M or G suffix (powers of 1024). */
function bytesArg(value: string): number {
  const m = /^(\d+)([kmg])?b?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected bytes such as 1048576, 512K, 64M or 2G, got "${value}"`);
  const n = Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] ?? ' ').toLowerCase());
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`must be at least 1 byte, got "${value}"`);
  return n;
}

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Files, chunks, chunks/s and ETA on stderr when it is a terminal; null otherwise. */
async function ingestProgress(): Promise<{ update: (p: IngestProgress) => void; clear: () => void; stop: () => void } | null> {
  if (!process.stderr.isTTY) return null;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'ingesting [{bar}] {value}/{total} files | {chunks} chunks | {rate} chunks/s | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let t0 = 0;
  return {
    update(p) {
      if (!started) {
        bar.start(p.total ?? 0, 0, { chunks: 0, rate: '-' });
        started = true;
        t0 = Date.now();
      }
      const secs = (Date.now() - t0) / 1000;
      bar.setTotal(Math.max(p.total ?? 0, p.files));
      bar.update(p.files, { chunks: thousands(p.chunks), rate: secs > 0.5 ? thousands(Math.round(p.chunks / secs)) : '-' });
    },
    clear() {
      if (started) process.stderr.write('\r\u001b[2K');
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
