/**
 * A whole database as one self-contained buffer, for a cluster's published
 * snapshot: the version 1 snapshot text (every array inline, see snapshot.ts)
 * gzipped, which also takes back most of base64's third. Decoding runs every
 * check a snapshot file gets.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { Database } from '../domain/model.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

const zip = promisify(gzip);
const unzip = promisify(gunzip);

/** The database's state as of now (its rows are read first if they are still on disk). */
export async function exportDatabase(db: Database): Promise<Buffer> {
  // Level 1: the bytes are mostly base64 of floats, which higher levels barely shrink further.
  return zip(encodeSnapshot(db), { level: 1 });
}

/**
 * @param source names the buffer in errors
 * @throws CorruptSnapshot when it is not a gzipped vdb snapshot or fails any check
 */
export async function importDatabase(bytes: Buffer, source: string): Promise<Database> {
  let text: string;
  try {
    text = (await unzip(bytes)).toString('utf8');
  } catch (err) {
    // decodeSnapshot reports it as a damaged snapshot, naming the source.
    text = `not gzip (${(err as Error).message})`;
  }
  return decodeSnapshot(text, source);
}
