/**
 * `vdb serve --log-format pretty` (the default on a terminal): pino's JSON
 * lines turned into one short line each, `12:03:04 POST /api/v1/libraries 201 3 ms`.
 * Request lines carry only the path, never the query string.
 */
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

interface LogLine {
  level: number;
  time: number;
  msg?: string;
  method?: string;
  path?: string;
  status?: number;
  ms?: number;
  err?: { message?: string };
}

/** One readable line for a pino JSON line. */
export function formatLogLine(json: string): string {
  let o: LogLine;
  try {
    o = JSON.parse(json) as LogLine;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = new Date(o.time).toISOString().slice(11, 19);
  if (o.method !== undefined) return `${time} ${o.method} ${o.path} ${o.status} ${Math.round(o.ms ?? 0)} ms\n`;
  const level = o.level === 30 ? '' : ` ${LEVELS[o.level] ?? o.level}`;
  return `${time}${level} ${o.msg ?? ''}${o.err?.message ? `: ${o.err.message}` : ''}\n`;
}

/** A stream for pino that writes formatted lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      out.write(chunk.toString('utf8').split('\n').filter(Boolean).map(formatLogLine).join(''));
      done();
    },
  });
}
