/**
 * Bytes → text for every loader: UTF-8 (a leading byte-order mark dropped), or
 * UTF-16 when the file starts with a UTF-16 byte-order mark. Anything else
 * that is not valid UTF-8 is refused, naming the line of the first bad byte.
 * A file is binary, and skipped by the walker's caller, when its first 8,000
 * bytes hold a NUL byte (git's test) and it has no UTF-16 byte-order mark.
 */
import { InvalidInput } from '../domain/errors.js';

const SNIFF_BYTES = 8000;

export function looksBinary(bytes: Uint8Array): boolean {
  if (utf16Bom(bytes) !== null) return false;
  const n = Math.min(bytes.length, SNIFF_BYTES);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/**
 * @param name how the file is named in errors (its relative path)
 * @throws InvalidInput when the bytes are not valid in their encoding
 */
export function decodeText(bytes: Uint8Array, name: string): string {
  const bom16 = utf16Bom(bytes);
  if (bom16 !== null) {
    try {
      return new TextDecoder(bom16, { fatal: true }).decode(bytes);
    } catch {
      throw new InvalidInput(`${name}: not valid ${bom16.toUpperCase()} text`, { hint: 'convert it to UTF-8, e.g. with iconv -t utf-8' });
    }
  }
  try {
    // TextDecoder drops a UTF-8 byte-order mark by default.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 10) line++;
    throw new InvalidInput(`${name}: not valid UTF-8 (line ${line}, byte ${at})`, { hint: 'convert it to UTF-8, e.g. with iconv -f latin1 -t utf-8' });
  }
}

function utf16Bom(b: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'utf-16le';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  return null;
}

/** Offset of the first byte that starts no valid UTF-8 sequence (RFC 3629: no overlongs, surrogates or values past U+10FFFF). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= b.length) return i;
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let j = 2; j <= need; j++) if (b[i + j] < 0x80 || b[i + j] > 0xbf) return i;
    i += need + 1;
  }
  return b.length;
}
