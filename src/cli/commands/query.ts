import { Command, InvalidArgumentError, Option } from 'commander';
import { isatty } from 'node:tty';
import { thousands } from '../../domain/format.js';
import type { FusionMethod, Hit, Metric, QueryExplain, QueryResult, SearchMode } from '../../domain/types.js';
import { DEFAULT_K, FUSION_METHODS, MAX_EF, MAX_K, SEARCH_MODES } from '../../domain/types.js';
import { checkKeys } from '../../domain/validate.js';
import type { VdbApi } from '../../service/api.js';
import { collect, envPositiveInt, intArg, jsonFlag, modeOf, serviceOf } from '../context.js';
import { openStdin, stdinBatches } from '../ndjson.js';
import type { StdinParser } from '../ndjson.js';
import { message, out, printJson, printTable } from '../output.js';
import { FILTER_HELP, filterOptions } from './filter-options.js';

/** Lines per batch of `query --stdin` (VDB_STDIN_BATCH): 16 groups of the block kernels' 6 queries. */
const STDIN_BATCH = 96;
/** Batches of `query --stdin` searched while the next one is prepared: enough to keep every worker busy. */
const PIPELINE_DEPTH = 8;
const STDIN_EXAMPLE = '{"text": "hello", "k": 5}';

export function queryCommand(): Command {
  return new Command('query')
    .description('find the k nearest chunks to a text or an embedding')
    .requiredOption('--lib <lib>', 'library id or name')
    .option('--text <text>', 'query text (embedded with the library\'s embedder)')
    .option('--embedding <json>', 'query embedding, e.g. "[0.1, 0.2]"')
    .option('-k, --k <n>', `number of hits (1..${MAX_K})`, intArg(1, MAX_K), DEFAULT_K)
    .option('--ef <n>', `hnsw only: candidate list size for these queries, instead of the index's ef_search (1..${MAX_EF})`, intArg(1, MAX_EF))
    .addOption(new Option('--mode <mode>', 'vector: nearest embeddings; text: BM25 over the chunk texts; hybrid: both, fused (default: hybrid on a library with a full-text index, text there without an embedder; vector otherwise)').choices([...SEARCH_MODES]))
    .addOption(new Option('--fusion <method>', 'hybrid: score, min-max scaled scores weighted by --alpha (default), or rrf, reciprocal rank fusion').choices([...FUSION_METHODS]))
    .option('--alpha <a>', "hybrid with --fusion score: the vector list's weight, 0..1 (default 0.3; 1 = vector only)", alphaArg)
    .option('--where <expr>', 'only chunks matching this shorthand filter, e.g. lang=en or year>=2020 (repeatable: all must hold)', collect)
    .option('--filter <json>', 'only chunks matching this JSON filter, e.g. \'{"lang": "en", "year": {"$gte": 2020}}\'')
    .option('--explain', 'also say which plan answered the query and why (--json: an "explain" field; otherwise on stderr)')
    .option('--stdin', 'answer NDJSON lines {"text"? | "embedding"?, "k"?, "ef"?, "mode"?, "fusion"?, "alpha"?, "filter"?, "where"?, "explain"?}, one result line each, in order')
    .addHelpText(
      'after',
      `
Nearest first. The table's score column, and "score" in --json, read as Qdrant reports them:
cosine similarity and the dot product (higher is nearer), the Euclidean distance for l2
(lower is nearer). "distance" in --json is lower-is-nearer for every metric:
cosine 1 - similarity, l2 Euclidean, dot -(q·x).
A larger --ef finds more of the true nearest chunks on an hnsw index, more slowly;
other index types refuse it (linear and kdtree are exact; lsh has --probes).
--mode text ranks chunks by BM25 over their words (any library, also one without an
embedder); --mode hybrid fuses the vector and the text ranking. Their hits are best first,
"score" higher-is-better (BM25, or the fused score), and "modes" gives each mode's rank and
score for the hit (null: that mode did not find it).
With --stdin and no index (or linear), lines are answered in batches, on every core, with the same output
(VDB_STDIN_BATCH=N lines per batch, 1 for one at a time; VDB_THREADS=N threads).
On an hnsw index, vector lines go to VDB_THREADS worker threads once enough lines come to pay for
starting them (from a file, --stdin < lines.ndjson, its size decides at the first batch), same output.
With a filter, the k nearest among the matching chunks are returned (fewer only when fewer match).
--where and --filter given with --stdin apply to every line, together with the line's own "filter".
${FILTER_HELP}
Examples:
  $ vdb query --lib docs --text "vector search" -k 3
  $ vdb query --lib docs --text "vector search" --where lang=en --where 'year>=2020' --explain
  $ vdb query --lib docs --text "vector search" --filter '{"tags": {"$contains": "faq"}}'
  $ vdb query --lib docs --text "vector search" --ef 200
  $ vdb query --lib docs --text "reset password" --mode text
  $ vdb query --lib docs --text "how do I reset my password" --mode hybrid -k 5
  $ vdb query --lib docs --text "reset password" --mode hybrid --fusion score --alpha 0.3
  $ vdb query --lib docs --embedding "$(cat q.json)" --json | jq -r '.hits[].id'
  $ jq -c '{text: .question, k: 5}' questions.jsonl | vdb query --lib docs --stdin > answers.ndjson
  $ vdb query --lib docs --stdin          # on a terminal: type {"text": "hello", "k": 3}, one per line; Ctrl-D ends`,
    )
    .action(async (o, cmd: Command) => {
      if (o.stdin) {
        if (o.text !== undefined || o.embedding !== undefined) cmd.error('error: --stdin takes queries from its lines; drop --text and --embedding', { exitCode: 2 });
        // Its thread parses the first lines while the library loads; lines typed on a terminal are welcome.
        const input = openStdin(STDIN_EXAMPLE, true);
        try {
          await answerStdin(o, await serviceOf(cmd, { read: true }), input);
        } finally {
          await input.close();
        }
        return;
      }
      const svc = await serviceOf(cmd, { read: true });
      const mode = modeOf(cmd);
      if (o.text === undefined && o.embedding === undefined) cmd.error('error: give --text or --embedding (or --stdin)', { exitCode: 2 });
      const res = await svc.query(o.lib, { text: o.text, embedding: jsonFlag(o.embedding, '--embedding') as number[] | undefined, k: o.k, ef: o.ef, mode: o.mode, fusion: o.fusion, alpha: o.alpha, ...filterOptions(o), explain: o.explain === true });
      if (mode.json) return printJson(res);
      await printHits(res, (await svc.getLibrary(o.lib)).metric, mode);
      if (res.explain) printExplain(res.explain);
    });
}

/** The flags `query --stdin` reads: defaults for every line. */
interface StdinFlags {
  lib: string;
  k: number;
  ef?: number;
  mode?: SearchMode;
  fusion?: FusionMethod;
  alpha?: number;
  where?: string[];
  filter?: string;
  explain?: boolean;
}

/** `query --stdin`: one answer line per input line, in order; batches are searched while the next are prepared. */
async function answerStdin(o: StdinFlags, svc: VdbApi, lines: StdinParser): Promise<void> {
  const session = await svc.querySession(o.lib, { threads: envPositiveInt('VDB_THREADS'), filter: filterOptions(o), pipelined: true, poolAt: envPositiveInt('VDB_POOL_LINES') });
  if (isatty(0)) message('vdb: type one query per line, e.g. {"text": "hello", "k": 3}; each is answered as you press Enter; Ctrl-D ends');
  let buf = '';
  const flush = () => {
    if (buf) out(buf);
    buf = '';
  };
  // Answers of the batches sent, in input order: the next batch is prepared while the workers search these.
  const inFlight: Promise<QueryResult[]>[] = [];
  let searchFailed = false;
  const settle = async (keep: number) => {
    while (inFlight.length > keep) {
      const answers = inFlight.shift() as Promise<QueryResult[]>;
      let results: QueryResult[];
      try {
        results = await answers;
      } catch (err) {
        // Nothing after a failed batch is written: the output stays a prefix of the answers.
        searchFailed = true;
        inFlight.length = 0;
        throw err;
      }
      for (const res of results) {
        buf += `${JSON.stringify(res)}\n`;
        if (buf.length > 1 << 16) flush();
      }
    }
  };
  const waitingForInput = async () => {
    // A file never pauses: its reader is only behind, and waiting for every answer here would idle the workers
    // each time (it drained the pipeline six times in a 3,000-line run). Typed or piped lines are answered at once.
    if (lines.fileBytes === null) await settle(0);
    flush();
  };
  try {
    // The index is read and the workers boot while the reader's thread parses the first lines.
    if (lines.fileBytes !== null) session.warm(lines.fileBytes, { mode: o.mode, explain: o.explain, ef: o.ef, k: o.k });
    for await (const batch of stdinBatches(lines, envPositiveInt('VDB_STDIN_BATCH') ?? STDIN_BATCH, waitingForInput)) {
      const queries: unknown[] = [];
      let failure: { error: unknown } | undefined;
      // Text-mode lines need no embedding.
      await session.embedAhead(batch.flatMap(([, q]) => (typeof q?.text === 'string' && q.embedding === undefined && (q.mode ?? o.mode) !== 'text' ? [q.text] : [])));
      for (const [n, q] of batch) {
        try {
          checkKeys(q, ['text', 'embedding', 'k', 'ef', 'mode', 'fusion', 'alpha', 'filter', 'where', 'explain'], `line ${n}`);
          const input = {
            text: q.text as string,
            embedding: q.embedding as number[],
            k: q.k === undefined ? o.k : (q.k as number),
            ef: q.ef === undefined ? o.ef : (q.ef as number),
            mode: (q.mode ?? o.mode) as SearchMode | undefined,
            fusion: (q.fusion ?? o.fusion) as FusionMethod | undefined,
            alpha: (q.alpha ?? o.alpha) as number | undefined,
            filter: q.filter,
            where: q.where as string[] | undefined,
            explain: q.explain === undefined ? o.explain === true : (q.explain as boolean),
          };
          queries.push(await session.prepare(input, `line ${n}`));
        } catch (error) {
          failure = { error };
          break;
        }
      }
      const answers = session.queryBatch(queries, lines.linesAhead() ?? undefined);
      // Awaited in turn by settle; until then a failure must not count as unhandled.
      answers.catch(() => undefined);
      inFlight.push(answers);
      // The lines before a bad one are answered first, as one at a time.
      if (failure) {
        await settle(0);
        throw failure.error;
      }
      await settle(PIPELINE_DEPTH);
    }
    await settle(0);
  } catch (err) {
    // Answers to the lines before a bad one still go out.
    if (!searchFailed) await settle(0).catch(() => undefined);
    throw err;
  } finally {
    flush();
    await session.close();
  }
}

/** --explain without --json: on stderr, so stdout keeps only the hits. */
function printExplain(e: QueryExplain): void {
  const lines = [
    `plan: ${e.plan}${e.index ? ` (${e.index} index)` : ''}`,
    e.filter !== null && `filter: ${e.filter}`,
    e.matches !== null && `matches: ${thousands(e.matches)} of ${thousands(e.chunks)} chunks`,
    `why: ${e.reason}`,
    e.search !== null && `search: ${e.search}`,
    e.unindexed > 0 && `unindexed: ${e.unindexed} chunk${e.unindexed === 1 ? '' : 's'} added or re-embedded since the build, scanned exactly`,
    e.terms && `terms: ${e.terms.join(' ')}`,
  ];
  message(lines.filter(Boolean).join('\n'));
}

/** What the score column is called for each metric, so it reads the right way. */
const SCORE_HEAD: Record<Metric, string> = { cosine: 'similarity', dot: 'dot product', l2: 'distance' };

async function printHits(res: QueryResult, metric: Metric, mode: ReturnType<typeof modeOf>): Promise<void> {
  if (res.mode === undefined) {
    await printTable(
      ['#', SCORE_HEAD[metric], 'id', 'text', 'metadata'],
      res.hits.map((h, i) => [String(i + 1), formatScore(h.score), h.id, h.text, JSON.stringify(h.metadata)]),
      mode,
      [3, 4],
    );
    return;
  }
  // Text and hybrid: the score, then which mode found each hit at which rank.
  await printTable(
    ['#', res.mode === 'text' ? 'bm25' : 'fused', 'found by', 'id', 'text', 'metadata'],
    res.hits.map((h, i) => [String(i + 1), formatScore(h.score), foundBy(h), h.id, h.text, JSON.stringify(h.metadata)]),
    mode,
    [4, 5],
  );
}

/** "vector #3, text #1". */
function foundBy(h: Hit): string {
  const parts: string[] = [];
  if (h.modes?.vector) parts.push(`vector #${h.modes.vector.rank}`);
  if (h.modes?.text) parts.push(`text #${h.modes.text.rank}`);
  return parts.join(', ');
}

/** `--alpha`: a number from 0 to 1. */
function alphaArg(value: string): number {
  const a = Number(value);
  if (value.trim() === '' || !(a >= 0 && a <= 1)) throw new InvalidArgumentError(`expected a number from 0 to 1, got "${value}"`);
  return a;
}

/** Six decimals for people; --json keeps every digit (float32 rounding shows up near 0 as ~1e-8). */
function formatScore(d: number): string {
  return Math.abs(d) >= 1e6 ? d.toExponential(4) : d.toFixed(6);
}
