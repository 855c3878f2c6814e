/**
 * Everything the CLI prints goes through here: data to stdout (JSON, NDJSON,
 * a table on a TTY, tab-separated lines otherwise), messages and progress to
 * stderr. Colour and tables load only when stdout is a terminal.
 */
import { thousands } from '../domain/format.js';
import type { Progress } from '../service/service.js';
import { renderTable } from './table.js';

export interface OutputMode {
  json: boolean;
  tty: boolean;
  /** Tables: wrap long texts over several lines instead of cutting them (`--wide`). */
  wide: boolean;
}

export function outputMode(json: boolean, wide = false): OutputMode {
  return { json, tty: process.stdout.isTTY === true, wide };
}

/** The terminal's width; 80 when it does not say. */
function terminalWidth(): number {
  const c = process.stdout.columns;
  return Number.isInteger(c) && c > 0 ? c : 80;
}

/** NO_COLOR and FORCE_COLOR as https://no-color.org and chalk define them; else only on a TTY. */
export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

async function paint(stream: NodeJS.WriteStream) {
  if (!colorEnabled(stream)) return null;
  const { Chalk } = await import('chalk');
  return new Chalk({ level: 1 });
}

export function out(text: string): void {
  process.stdout.write(text);
}

export function printJson(value: unknown): void {
  out(`${JSON.stringify(value)}\n`);
}

/** One JSON document per line, written in batches. */
export function printNdjson(values: Iterable<unknown>): void {
  let buf = '';
  for (const v of values) {
    buf += `${JSON.stringify(v)}\n`;
    if (buf.length > 1 << 16) {
      out(buf);
      buf = '';
    }
  }
  if (buf) out(buf);
}

/**
 * A table on a TTY, fitted to its width: the `flex` columns (default: the
 * last) are cut with … to fit, or wrapped with `--wide`; tab-separated lines
 * without a header otherwise.
 */
export async function printTable(head: string[], rows: string[][], mode: OutputMode, flex: number[] = [head.length - 1]): Promise<void> {
  if (!mode.tty) {
    printTsv(rows);
    return;
  }
  const chalk = await paint(process.stdout);
  out(renderTable(head, rows, { width: terminalWidth(), flex, wrap: mode.wide, head: chalk ? (s) => chalk.bold(s) : undefined }));
  if (rows.length === 0) message('(none)');
}

/** Rows as tab-separated lines, written in blocks. */
function printTsv(rows: string[][]): void {
  let buf = '';
  for (const r of rows) {
    buf += `${r.map(tsvCell).join('\t')}\n`;
    if (buf.length > 1 << 16) {
      out(buf);
      buf = '';
    }
  }
  if (buf) out(buf);
}

/** One object: `field<TAB>value` lines, or a two-column table on a TTY with values wrapped to its width. */
export async function printRecord(record: Record<string, unknown>, mode: OutputMode): Promise<void> {
  if (mode.json) return printJson(record);
  const rows = Object.entries(record).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
  if (!mode.tty) {
    out(rows.map(([k, v]) => `${k}\t${tsvCell(v)}\n`).join(''));
    return;
  }
  const chalk = await paint(process.stdout);
  const keyed = chalk ? rows.map(([k, v]) => [chalk.bold(k), v]) : rows;
  out(renderTable(null, keyed, { width: terminalWidth(), flex: [1], wrap: true }));
}

/** A message for people, on stderr. */
export function message(text: string): void {
  process.stderr.write(`${text}\n`);
}

export async function success(text: string): Promise<void> {
  if (!process.stderr.isTTY) return;
  const chalk = await paint(process.stderr);
  message(chalk ? chalk.green(`✓ ${text}`) : `✓ ${text}`);
}

/** A progress bar on stderr when it is a terminal; otherwise undefined (no output). */
export async function progressBar(label: string): Promise<{ update: Progress; stop: () => void } | undefined> {
  if (!process.stderr.isTTY) return undefined;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% {value}/{total} | {rate}/s | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let t0 = 0;
  let first = 0;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0, { rate: '-' });
        started = true;
        t0 = Date.now();
        first = done;
      }
      bar.setTotal(total);
      const secs = (Date.now() - t0) / 1000;
      // Items per second since the first update: what was ready at once (cache hits) does not count.
      bar.update(done, { rate: secs > 0.2 ? thousands(Math.round((done - first) / secs)) : '-' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A running count on stderr when it is a terminal (for input of unknown length). */
export function progressCounter(label: string): { tick: (n: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { tick: () => undefined, stop: () => undefined };
  let last = 0;
  let shown = false;
  return {
    tick(n) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      process.stderr.write(`\r${label} ${n}`);
    },
    stop() {
      if (shown) process.stderr.write('\r\u001b[2K');
    },
  };
}

function tsvCell(v: string): string {
  return v.replace(/[\t\n\r]/g, ' ');
}


