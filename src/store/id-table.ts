/**
 * Id tables: find a record (a chunk, a document) by its id without reading the
 * records. A table holds one entry per record, three u32 each:
 *
 *   entry i   u32 hash low | u32 hash high | u32 row        (12 bytes, little-endian)
 *
 * sorted by the 64-bit hash (high word, then low word), rows ascending among
 * equal hashes. The hash is `idHash` below (cyrb53's mixing, all 64 bits kept)
 * over the id's UTF-16 code units. A lookup searches the hash and reads
 * the record at each row it names to confirm the id, so a collision costs one
 * more read, never a wrong answer; with 64 bits, one read is the rule.
 *
 * Any id works (user ids, UUIDs, paths): the v2 snapshot before this table kept
 * generated `chk_` ids as u64 and had no table at all once one id had another form.
 */

/** Entries of a table are this many u32. */
export const ID_ENTRY_WORDS = 3;

/** The 64-bit hash of an id, as [low, high] u32 words. */
export function idHash(id: string): [number, number] {
  const out = new Uint32Array(2);
  hashInto(id, out, 0);
  return [out[0], out[1]];
}

/** Writes the hash of `id` to out[at] (low word) and out[at + 1] (high word): no allocation, for loops over every id. */
export function hashInto(id: string, out: Uint32Array, at: number): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[at] = h1;
  out[at + 1] = h2;
}

/** The table of `count` ids, `idAt(row)` giving row's id. O(count log count): hashing and one native sort. */
export function buildIdTable(count: number, idAt: (row: number) => string): Uint32Array {
  const lo = new Uint32Array(count);
  // Sorted as u64 (high word: the hash's high word, low word: the row), natively: no comparator, no BigInt made.
  const keys = new BigUint64Array(count);
  const words = new Uint32Array(keys.buffer);
  const h = new Uint32Array(2);
  for (let r = 0; r < count; r++) {
    hashInto(idAt(r), h, 0);
    lo[r] = h[0];
    words[r * 2] = r;
    words[r * 2 + 1] = h[1];
  }
  keys.sort();
  const table = new Uint32Array(count * ID_ENTRY_WORDS);
  for (let i = 0; i < count; i++) {
    const row = words[i * 2];
    table[i * 3] = lo[row];
    table[i * 3 + 1] = words[i * 2 + 1];
    table[i * 3 + 2] = row;
  }
  // Runs of equal high words (about count² / 2^33 entries: a hundred in a million) are ordered by the low word too.
  for (let i = 0; i < count; ) {
    let end = i + 1;
    while (end < count && table[end * 3 + 1] === table[i * 3 + 1]) end++;
    if (end - i > 1) {
      const run = Array.from({ length: end - i }, (_, j) => table[(i + j) * 3 + 2]);
      run.sort((a, b) => lo[a] - lo[b] || a - b);
      run.forEach((row, j) => {
        table[(i + j) * 3] = lo[row];
        table[(i + j) * 3 + 2] = row;
      });
    }
    i = end;
  }
  return table;
}

/**
 * Checks that `table` is a table of `count` rows: sorted, every row exactly once.
 * @returns what is wrong, or null
 */
export function idTableProblem(table: Uint32Array, count: number): string | null {
  if (table.length !== count * ID_ENTRY_WORDS) return `holds ${Math.floor(table.length / ID_ENTRY_WORDS)} entries for ${count} records`;
  const seen = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const row = table[i * 3 + 2];
    if (row >= count || seen[row] === 1) return `row ${row} is out of range or repeated`;
    seen[row] = 1;
    if (i === 0) continue;
    const h = table[i * 3 + 1];
    const ph = table[i * 3 - 2];
    const l = table[i * 3];
    const pl = table[i * 3 - 3];
    if (h < ph || (h === ph && (l < pl || (l === pl && row < table[i * 3 - 1])))) return `entry ${i} is out of order`;
  }
  return null;
}

/**
 * Rows whose id hashes like `id` (almost always none or one): the candidates to
 * confirm by reading, in a table held whole whose order was checked (idTableProblem).
 */
export function idTableRows(table: Uint32Array, id: string): number[] {
  hashInto(id, scratchHash, 0);
  return tableRowsByHash(table, scratchHash[0], scratchHash[1]);
}

const scratchHash = new Uint32Array(2);

/**
 * The rows of the entries hashed (lo, hi) in a table held whole, ascending:
 * the first entry not below it by halving, then those equal. In memory a probe
 * costs no read, so there is no aiming (rowsByHash's interpolation), nor any
 * order to check on the way (checked whole); no allocation but the answer, as a
 * `query --stdin` session confirms each of its hits' ids.
 */
export function tableRowsByHash(table: Uint32Array, lo: number, hi: number): number[] {
  let a = 0;
  let b = table.length / ID_ENTRY_WORDS;
  while (a < b) {
    const mid = (a + b) >>> 1;
    const h = table[mid * 3 + 1];
    if (h < hi || (h === hi && table[mid * 3] < lo)) a = mid + 1;
    else b = mid;
  }
  const rows: number[] = [];
  for (let i = a; i * 3 < table.length && table[i * 3] === lo && table[i * 3 + 1] === hi; i++) rows.push(table[i * 3 + 2]);
  return rows;
}

/**
 * `idTableRows` over a table of `entries` entries read one entry at a time
 * (`read(i, out)` puts entry i's three words in out), for a table on disk. The
 * hashes are uniform, so each probe goes where the hash falls between the
 * nearest entries passed (interpolation): a lookup in a million entries reads
 * about six entries on fewer than two 4 KiB pages, where halving read twenty on
 * a dozen. After INTERPOLATED_PROBES probes it halves, so a table that is not
 * uniform still costs at most that many more than log2(n). The entries the
 * search passes must be in order among themselves: one that is not throws,
 * rather than leaving an id unfound (order elsewhere is idTableProblem's, on
 * whole reads; damage on disk, the page checksums').
 */
export function idRowsBy(entries: number, read: (i: number, out: Uint32Array) => void, id: string): number[] {
  const [lo, hi] = idHash(id);
  return rowsByHash(entries, read, lo, hi);
}

/** Probes guided by the hashes before a lookup halves instead (see idRowsBy). */
export const INTERPOLATED_PROBES = 12;

const TWO_32 = 2 ** 32;

/** `idRowsBy` for the hash (lo, hi) itself. */
export function rowsByHash(entries: number, read: (i: number, out: Uint32Array) => void, lo: number, hi: number): number[] {
  const e = new Uint32Array(3);
  // The hashes of the nearest entries passed below and above: every later probe lies between them.
  let belowHi = 0;
  let belowLo = 0;
  let aboveHi = 0xffffffff;
  let aboveLo = 0xffffffff;
  const between = (h: number, l: number) => (h > belowHi || (h === belowHi && l >= belowLo)) && (h < aboveHi || (h === aboveHi && l <= aboveLo));
  // As doubles (53 bits are plenty to aim a probe); the bounds sit at entries a - 1 and b.
  const target = hi * TWO_32 + lo;
  let a = 0;
  let b = entries;
  let probes = 0;
  // First entry whose hash is not below (hi, lo).
  while (a < b) {
    let mid = (a + b) >>> 1;
    if (probes++ < INTERPOLATED_PROBES) {
      const below = belowHi * TWO_32 + belowLo;
      const span = aboveHi * TWO_32 + aboveLo - below;
      if (span > 0) mid = Math.min(b - 1, Math.max(a, Math.floor(a - 1 + ((target - below) / span) * (b - a + 1))));
    }
    read(mid, e);
    if (!between(e[1], e[0])) throw new Error(`entry ${mid} is out of order`);
    if (e[1] < hi || (e[1] === hi && e[0] < lo)) {
      a = mid + 1;
      [belowHi, belowLo] = [e[1], e[0]];
    } else {
      b = mid;
      [aboveHi, aboveLo] = [e[1], e[0]];
    }
  }
  const rows: number[] = [];
  for (let i = a; i < entries; i++) {
    read(i, e);
    if (e[0] !== lo || e[1] !== hi) break;
    rows.push(e[2]);
  }
  return rows;
}

/** The hash each row's entry holds, indexed by row: to check records read whole against their table. */
export function hashesByRow(table: Uint32Array): Uint32Array {
  const n = table.length / ID_ENTRY_WORDS;
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const r = table[i * 3 + 2];
    out[r * 2] = table[i * 3];
    out[r * 2 + 1] = table[i * 3 + 1];
  }
  return out;
}

/**
 * The table of `old`'s rows followed by `count` more, `idAt(i)` giving the id
 * of row first + i: one merge of two sorted runs, so appending to a large
 * table costs the new ids' hashing and one pass, not a sort of them all.
 */
export function appendToIdTable(old: Uint32Array, first: number, count: number, idAt: (i: number) => string): Uint32Array {
  const added = buildIdTable(count, idAt);
  for (let i = 0; i < count; i++) added[i * 3 + 2] += first;
  const n = old.length / ID_ENTRY_WORDS;
  const out = new Uint32Array(old.length + added.length);
  let a = 0;
  let b = 0;
  let o = 0;
  while (a < n || b < count) {
    // On equal hashes the old row comes first: it is the smaller row.
    const takeOld = b === count || (a < n && (old[a * 3 + 1] < added[b * 3 + 1] || (old[a * 3 + 1] === added[b * 3 + 1] && old[a * 3] <= added[b * 3])));
    const src = takeOld ? old : added;
    const i = takeOld ? a++ : b++;
    out[o++] = src[i * 3];
    out[o++] = src[i * 3 + 1];
    out[o++] = src[i * 3 + 2];
  }
  return out;
}
