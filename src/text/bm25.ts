/**
 * The BM25 full-text index: an inverted index from terms (tokenizer.ts) to the
 * documents holding them, scored with Okapi BM25 as Lucene does:
 *
 *   score(q, d) = Σ over distinct terms t of q present in d:
 *                 idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d|/avgdl))
 *   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * tf = occurrences of t in d, |d| = number of terms of d (stop words excluded),
 * N = live documents, avgdl = their mean length, df(t) = live documents holding
 * t. k1 = 1.2 (how fast repeats stop adding), b = 0.75 (how much long documents
 * are discounted). A query term repeated counts once. Scores are summed in the
 * order the query's terms first appear, in float64; equal scores are ordered by
 * key, smaller first.
 *
 * Documents are identified by a caller's key (a non-negative int32, e.g. the
 * chunk's seq) and live in dense slots. The index is a frozen base (what
 * `from` loaded, or what `serialize` wrote) plus documents added since, with
 * removals as tombstones: add, remove and search are all exact at any time
 * (statistics count live documents only), and `serialize` folds everything
 * into a new base. Base slots are in ascending key order.
 *
 * Serialized layout (`params` numbers, `arrays` little-endian u32 arrays, so it
 * goes to a snapshot like a vector index's arrays):
 *
 *   params  k1, b, docs (D), terms (T), vocab_bytes, postings_bytes
 *   keys              u32 × D    each slot's key, strictly ascending
 *   lengths           u32 × D    each slot's |d|
 *   vocab             u32 × ⌈vocab_bytes/4⌉     the terms as UTF-8, sorted bytewise,
 *                                               back to back, zero padded
 *   vocab_offsets     u32 × (T+1)  term t is vocab bytes [off[t], off[t+1])
 *   df                u32 × T      documents holding term t (≥ 1)
 *   postings          u32 × ⌈postings_bytes/4⌉  term t's documents, ascending
 *                                               slot, as unsigned LEB128 varint
 *                                               pairs (slot − previous slot − 1,
 *                                               tf − 1); previous starts at −1
 *   postings_offsets  u32 × (T+1)  term t's list is postings bytes [off[t], off[t+1])
 *
 * A term's postings can be read alone (binary search in the vocabulary, then
 * one byte range): given a `sources.postings` (a snapshot's sidecar), `from`
 * reads only the lists that queries look up, until an eighth of the bytes has
 * been read that way, and then the rest at once.
 */
import { TopK } from '../index/topk.js';
import type { ArraySource } from '../index/types.js';

export interface Bm25Params {
  k1: number;
  b: number;
}

export const BM25_DEFAULTS: Readonly<Bm25Params> = { k1: 1.2, b: 0.75 };

export interface SerializedBm25 {
  params: Record<string, number>;
  arrays: Record<string, Uint32Array>;
  /** Arrays still on disk; with `postings` here, `arrays.postings` is never read. */
  sources?: Record<string, ArraySource>;
}

export interface TextHit {
  key: number;
  score: number;
}

export interface Bm25Stats {
  /** Live documents. */
  docs: number;
  /** Removed documents still held as tombstones (gone after `serialize`). */
  removed: number;
  /** Distinct terms (base and added; a term whose documents were all removed still counts until `serialize`). */
  terms: number;
}

const MAX_KEY = 0x7fffffff;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export class Bm25Index {
  readonly params: Readonly<Bm25Params>;

  // The frozen base.
  private readonly baseKeys: Uint32Array;
  private readonly baseLengths: Uint32Array;
  private readonly vocab: Uint8Array;
  private readonly vocabOffsets: Uint32Array;
  private readonly baseDf: Uint32Array;
  private postings: Uint8Array | null;
  private readonly postingsOffsets: Uint32Array;
  private readonly paging: Paging | null;

  // Documents added since: slot baseDocs + i. Keys added in ascending order (as refreshes
  // add new seqs) are found by binary search; the first add out of order builds a map.
  private addedKeys = new Uint32Array(16);
  private addedLengths = new Uint32Array(16);
  private addedCount = 0;
  private addedSlotOfKey: Map<number, number> | null = null;
  private readonly addedPostings = new PostingPool();

  private dead: Uint8Array;
  private removedCount = 0;
  private liveDocs: number;
  private liveLength: number;

  // Scratch for search, reused: scores by slot (0 = untouched, as every contribution is > 0).
  private acc = new Float64Array(0);

  private constructor(params: Bm25Params, base: Base) {
    this.params = Object.freeze({ ...params });
    this.baseKeys = base.keys;
    this.baseLengths = base.lengths;
    this.vocab = base.vocab;
    this.vocabOffsets = base.vocabOffsets;
    this.baseDf = base.df;
    this.postings = base.postings;
    this.postingsOffsets = base.postingsOffsets;
    this.paging = base.postingsSource ? { source: base.postingsSource, lists: new Map(), bytesRead: 0 } : null;
    this.dead = new Uint8Array(base.keys.length);
    this.liveDocs = base.keys.length;
    let total = 0;
    for (let i = 0; i < base.lengths.length; i++) total += base.lengths[i];
    this.liveLength = total;
  }

  /** An empty index. @throws Error when k1 is not in [0, 100] or b not in [0, 1] */
  static create(params: Partial<Bm25Params> = {}): Bm25Index {
    const p = { ...BM25_DEFAULTS, ...params };
    checkParams(p);
    return new Bm25Index(p, EMPTY_BASE);
  }

  /**
   * Reopens a serialized index without copying its arrays.
   * @throws Error naming what is inconsistent
   */
  static from(s: SerializedBm25): Bm25Index {
    const p = s.params;
    const params = { k1: p.k1, b: p.b };
    checkParams(params);
    const docs = count(p.docs, 'docs');
    const terms = count(p.terms, 'terms');
    const vocabBytes = count(p.vocab_bytes, 'vocab_bytes');
    const postingsBytes = count(p.postings_bytes, 'postings_bytes');
    const keys = array(s, 'keys', docs);
    const lengths = array(s, 'lengths', docs);
    const vocabOffsets = array(s, 'vocab_offsets', terms + 1);
    const df = array(s, 'df', terms);
    const postingsOffsets = array(s, 'postings_offsets', terms + 1);
    const vocab = bytesOf(array(s, 'vocab', Math.ceil(vocabBytes / 4)), vocabBytes);
    const source = s.sources?.postings ?? null;
    if (source !== null && source.bytes !== Math.ceil(postingsBytes / 4) * 4) throw new Error(`full-text index: postings have ${source.bytes} bytes, expected ${postingsBytes} padded to whole words`);
    const postings = source !== null ? null : bytesOf(array(s, 'postings', Math.ceil(postingsBytes / 4)), postingsBytes);
    for (let i = 0; i < docs; i++) {
      if (keys[i] > MAX_KEY || (i > 0 && keys[i] <= keys[i - 1])) throw new Error('full-text index: keys are not strictly ascending int32');
    }
    checkOffsets(vocabOffsets, vocabBytes, 'vocab_offsets');
    checkOffsets(postingsOffsets, postingsBytes, 'postings_offsets');
    for (let t = 0; t < terms; t++) {
      if (vocabOffsets[t + 1] === vocabOffsets[t]) throw new Error(`full-text index: term ${t} is empty`);
      if (t > 0 && compareBytes(vocab, vocabOffsets[t - 1], vocabOffsets[t], vocab, vocabOffsets[t], vocabOffsets[t + 1]) >= 0) {
        throw new Error(`full-text index: vocabulary is not sorted at term ${t}`);
      }
      if (df[t] === 0 || df[t] > docs) throw new Error(`full-text index: term ${t} has document frequency ${df[t]} of ${docs} documents`);
      // A list holds df pairs of at least one byte each.
      if (postingsOffsets[t + 1] - postingsOffsets[t] < 2 * df[t]) throw new Error(`full-text index: term ${t}'s postings are short`);
    }
    return new Bm25Index(params, { keys, lengths, vocab, vocabOffsets, df, postings, postingsOffsets, postingsSource: source });
  }

  /** Live documents. */
  get size(): number {
    return this.liveDocs;
  }

  stats(): Bm25Stats {
    let terms = this.baseDf.length;
    for (const term of this.addedPostings.terms()) if (this.baseTerm(utf8.encode(term)) < 0) terms++;
    return { docs: this.liveDocs, removed: this.removedCount, terms };
  }

  /** The keys of the live documents, ascending. */
  liveKeys(): Uint32Array {
    const out = new Uint32Array(this.liveDocs);
    let n = 0;
    const slots = this.baseKeys.length + this.addedCount;
    for (let s = 0; s < slots; s++) if (this.dead[s] === 0) out[n++] = this.keyOf(s);
    return out.sort();
  }

  /** Whether a live document has this key. */
  has(key: number): boolean {
    return this.slotOf(key) >= 0;
  }

  /**
   * Adds a document.
   * @param key unique among live documents, 0 … 2^31 − 1
   * @param terms its terms (`analyze(text)`), repeats kept; well-formed
   *   strings (no lone surrogates, which UTF-8 cannot keep apart)
   * @throws Error on a bad or taken key
   */
  add(key: number, terms: readonly string[]): void {
    if (!Number.isInteger(key) || key < 0 || key > MAX_KEY) throw new Error(`full-text index: key ${key} is not an int32 ≥ 0`);
    if (this.slotOf(key) >= 0) throw new Error(`full-text index: key ${key} is already indexed`);
    const slot = this.baseKeys.length + this.addedCount;
    const tfs = new Map<string, number>();
    for (const t of terms) tfs.set(t, (tfs.get(t) ?? 0) + 1);
    for (const [term, tf] of tfs) this.addedPostings.add(term, slot, tf);
    const i = this.addedCount;
    if (i === this.addedKeys.length) {
      this.addedKeys = grow(this.addedKeys);
      this.addedLengths = grow(this.addedLengths);
    }
    if (this.addedSlotOfKey === null && i > 0 && key <= this.addedKeys[i - 1]) {
      this.addedSlotOfKey = new Map();
      for (let j = 0; j < i; j++) if (this.dead[this.baseKeys.length + j] === 0) this.addedSlotOfKey.set(this.addedKeys[j], this.baseKeys.length + j);
    }
    this.addedKeys[i] = key;
    this.addedLengths[i] = terms.length;
    this.addedCount++;
    this.addedSlotOfKey?.set(key, slot);
    if (this.dead.length <= slot) {
      const grown = new Uint8Array(Math.max(16, this.dead.length * 2));
      grown.set(this.dead);
      this.dead = grown;
    }
    this.liveDocs++;
    this.liveLength += terms.length;
  }

  /** Removes the live document with this key; false when there is none. */
  remove(key: number): boolean {
    const slot = this.slotOf(key);
    if (slot < 0) return false;
    this.dead[slot] = 1;
    this.removedCount++;
    this.liveDocs--;
    this.liveLength -= this.lengthOf(slot);
    this.addedSlotOfKey?.delete(key);
    return true;
  }

  /**
   * The k best documents for the query's terms, best first (score descending,
   * then key ascending). Only documents holding at least one query term score.
   * @param accept when given, documents it refuses are left out; statistics
   *   still count every live document, so a filter does not change scores
   * @param relabel when given, hits carry relabel(key) instead of the key, and
   *   equal scores are ordered by it (a library's row: insertion order)
   */
  search(queryTerms: readonly string[], k: number, accept?: (key: number) => boolean, relabel?: (key: number) => number): TextHit[] {
    const terms = [...new Set(queryTerms)];
    const slots = this.baseKeys.length + this.addedCount;
    if (this.acc.length < slots) this.acc = new Float64Array(Math.max(slots, this.acc.length * 2));
    const acc = this.acc;
    const touched: number[] = [];
    const { k1, b } = this.params;
    const n = this.liveDocs;
    const avgdl = this.liveLength / n;
    const list = new PostingList();
    for (const term of terms) {
      this.collect(term, list);
      const df = list.length;
      if (df === 0) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = 0; i < df; i++) {
        const slot = list.slots[i];
        const tf = list.tfs[i];
        const len = this.lengthOf(slot);
        if (acc[slot] === 0) touched.push(slot);
        acc[slot] += (idf * (tf * (k1 + 1))) / (tf + k1 * (1 - b + b * (len / avgdl)));
      }
    }
    const top = new TopK(Math.max(0, Math.min(k, touched.length)));
    for (const slot of touched) {
      const key = this.keyOf(slot);
      if (accept === undefined || accept(key)) top.push(-acc[slot], relabel === undefined ? key : relabel(key));
      acc[slot] = 0;
    }
    const { keys, dists } = top.drain();
    return Array.from(keys, (key, i) => ({ key, score: -dists[i] }));
  }

  /**
   * Everything live as a new base: tombstones dropped, slots renumbered in key
   * order, terms without live documents dropped. Does not change this index;
   * deterministic (the same documents give the same arrays, whatever the order
   * of the adds and removes that led to them).
   */
  serialize(): SerializedBm25 {
    const live: number[] = [];
    const slots = this.baseKeys.length + this.addedCount;
    for (let s = 0; s < slots; s++) if (this.dead[s] === 0) live.push(s);
    live.sort((x, y) => this.keyOf(x) - this.keyOf(y));
    const renumber = new Int32Array(slots).fill(-1);
    live.forEach((s, i) => (renumber[s] = i));
    const keys = Uint32Array.from(live, (s) => this.keyOf(s));
    const lengths = Uint32Array.from(live, (s) => this.lengthOf(s));

    // Two passes over the postings: the first sizes them, the second writes them into an
    // array of exactly that size (no growing buffer, no copy: a large index is held once).
    const terms = this.sortedTerms();
    const vocab = new ByteWriter();
    const vocabOffsets: number[] = [0];
    const postingsOffsets: number[] = [0];
    const df: number[] = [];
    const list = new PostingList();
    const kept: boolean[] = [];
    for (const term of terms) {
      const n = this.renumbered(term.text, renumber, list);
      kept.push(n > 0);
      if (n === 0) continue;
      vocab.bytes(term.bytes);
      vocabOffsets.push(vocab.length);
      postingsOffsets.push(postingsOffsets[postingsOffsets.length - 1] + encodePairs(list, null, 0));
      df.push(n);
    }
    const postingsBytes = postingsOffsets[postingsOffsets.length - 1];
    const postings = new Uint32Array(Math.ceil(postingsBytes / 4));
    const out = new Uint8Array(postings.buffer);
    let t = 0;
    terms.forEach((term, i) => {
      if (!kept[i]) return;
      this.renumbered(term.text, renumber, list);
      encodePairs(list, out, postingsOffsets[t++]);
    });
    return {
      params: {
        k1: this.params.k1,
        b: this.params.b,
        docs: keys.length,
        terms: df.length,
        vocab_bytes: vocab.length,
        postings_bytes: postingsBytes,
      },
      arrays: {
        keys,
        lengths,
        vocab: vocab.words(),
        vocab_offsets: Uint32Array.from(vocabOffsets),
        df: Uint32Array.from(df),
        postings,
        postings_offsets: Uint32Array.from(postingsOffsets),
      },
    };
  }

  /** The live postings of `term` with slots renumbered, ascending, into `list`; returns how many. */
  private renumbered(term: string, renumber: Int32Array, list: PostingList): number {
    this.collect(term, list);
    let ordered = true;
    for (let i = 0; i < list.length; i++) {
      list.slots[i] = renumber[list.slots[i]];
      if (i > 0 && list.slots[i] < list.slots[i - 1]) ordered = false;
    }
    // Slots come base first, then added: out of order only when keys were added below older ones.
    if (!ordered) {
      const order = Array.from({ length: list.length }, (_, i) => i).sort((x, y) => list.slots[x] - list.slots[y]);
      const slots = order.map((i) => list.slots[i]);
      const tfs = order.map((i) => list.tfs[i]);
      list.slots.set(slots);
      list.tfs.set(tfs);
    }
    return list.length;
  }

  /** Every term of the base and of the added documents, once each, in bytewise UTF-8 order. */
  private sortedTerms(): { text: string; bytes: Uint8Array }[] {
    const added = [...this.addedPostings.terms()].map((text) => ({ text, bytes: utf8.encode(text) }));
    added.sort((x, y) => compareBytes(x.bytes, 0, x.bytes.length, y.bytes, 0, y.bytes.length));
    const out: { text: string; bytes: Uint8Array }[] = [];
    const v = this.vocab;
    const off = this.vocabOffsets;
    let a = 0;
    for (let t = 0; t < this.baseDf.length; t++) {
      const bytes = v.subarray(off[t], off[t + 1]);
      for (; a < added.length; a++) {
        const c = compareBytes(added[a].bytes, 0, added[a].bytes.length, bytes, 0, bytes.length);
        if (c > 0) break;
        if (c < 0) out.push(added[a]);
      }
      out.push({ text: decodeTerm(bytes, t), bytes });
    }
    for (; a < added.length; a++) out.push(added[a]);
    return out;
  }

  /** The live postings of `term` (base, then added) into `out`. */
  private collect(term: string, out: PostingList): void {
    out.length = 0;
    const t = this.baseTerm(utf8.encode(term));
    if (t >= 0) this.decode(t, out);
    this.addedPostings.forEach(term, (slot, tf) => {
      if (this.dead[slot] === 0) out.push(slot, tf);
    });
  }

  private decode(t: number, out: PostingList): void {
    const docs = this.baseKeys.length;
    const [bytes, from, to] = this.postingsOf(t);
    const reader = new VarintReader(bytes, from, to, t);
    let slot = -1;
    let n = 0;
    while (reader.more()) {
      slot += reader.next() + 1;
      const tf = reader.next() + 1;
      n++;
      if (slot >= docs || n > this.baseDf[t]) corruptPostings(t);
      if (this.dead[slot] === 0) out.push(slot, tf);
    }
    if (n !== this.baseDf[t]) corruptPostings(t);
  }

  /** Term t's postings as bytes [from, to) of the returned array, read from disk if they are still there. */
  private postingsOf(t: number): [Uint8Array, number, number] {
    const from = this.postingsOffsets[t];
    const to = this.postingsOffsets[t + 1];
    if (this.postings !== null) return [this.postings, from, to];
    const paging = this.paging as Paging;
    const total = this.postingsOffsets[this.postingsOffsets.length - 1];
    let list = paging.lists.get(t);
    if (list !== undefined) return [list, 0, list.length];
    if (paging.bytesRead + (to - from) > total / 8) {
      const all = new Uint8Array(paging.source.bytes);
      paging.source.readInto(all);
      this.postings = all;
      paging.lists.clear();
      return [all, from, to];
    }
    list = new Uint8Array(to - from);
    paging.source.readRange(list, from);
    paging.lists.set(t, list);
    paging.bytesRead += list.length;
    return [list, 0, list.length];
  }

  /** The base term id of these UTF-8 bytes, or −1. */
  private baseTerm(bytes: Uint8Array): number {
    const v = this.vocab;
    const off = this.vocabOffsets;
    let lo = 0;
    let hi = this.baseDf.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(v, off[mid], off[mid + 1], bytes, 0, bytes.length);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The live slot of `key`, or −1. */
  private slotOf(key: number): number {
    const base = this.baseKeys.length;
    if (this.addedSlotOfKey !== null) {
      const added = this.addedSlotOfKey.get(key);
      if (added !== undefined) return added;
    } else if (this.addedCount > 0 && key >= this.addedKeys[0] && key <= this.addedKeys[this.addedCount - 1]) {
      let lo = 0;
      let hi = this.addedCount - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const k = this.addedKeys[mid];
        if (k === key) return this.dead[base + mid] === 0 ? base + mid : -1;
        if (k < key) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    const keys = this.baseKeys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] === key) return this.dead[mid] === 0 ? mid : -1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private keyOf(slot: number): number {
    const base = this.baseKeys.length;
    return slot < base ? this.baseKeys[slot] : this.addedKeys[slot - base];
  }

  private lengthOf(slot: number): number {
    const base = this.baseKeys.length;
    return slot < base ? this.baseLengths[slot] : this.addedLengths[slot - base];
  }
}

interface Base {
  keys: Uint32Array;
  lengths: Uint32Array;
  vocab: Uint8Array;
  vocabOffsets: Uint32Array;
  df: Uint32Array;
  /** Null while they are read through `postingsSource`. */
  postings: Uint8Array | null;
  postingsOffsets: Uint32Array;
  postingsSource?: ArraySource | null;
}

/** Postings lists read one at a time from disk, by term id. */
interface Paging {
  source: ArraySource;
  lists: Map<number, Uint8Array>;
  bytesRead: number;
}

const EMPTY_BASE: Base = {
  keys: new Uint32Array(0),
  lengths: new Uint32Array(0),
  vocab: new Uint8Array(0),
  vocabOffsets: new Uint32Array(1),
  df: new Uint32Array(0),
  postings: new Uint8Array(0),
  postingsOffsets: new Uint32Array(1),
};

/**
 * The postings of added documents, compactly: each term's (slot gap − 1,
 * tf − 1) varints in a chain of 32-byte blocks of one shared pool (28 bytes of
 * data, then the next block's number), so a term costs a block, not an array
 * object, and a posting two or three bytes.
 */
class PostingPool {
  /** Blocks live in 1 MiB pages, so the pool grows without copying (or doubling) what it holds. */
  private pages: Uint8Array[] = [];
  private blocks = 0;
  private readonly ids = new Map<string, number>();
  // Per term: first block, current block, bytes used in it, last slot.
  private first = new Uint32Array(64);
  private current = new Uint32Array(64);
  private fill = new Uint8Array(64);
  private last = new Int32Array(64);

  terms(): IterableIterator<string> {
    return this.ids.keys();
  }

  /** Appends (slot, tf); slots of one term come in ascending order. */
  add(term: string, slot: number, tf: number): void {
    let t = this.ids.get(term);
    if (t === undefined) {
      t = this.ids.size;
      if (t === this.first.length) {
        this.first = grow(this.first);
        this.current = grow(this.current);
        this.fill = grow(this.fill);
        this.last = grow(this.last);
      }
      this.ids.set(term, t);
      const b = this.block();
      this.first[t] = b;
      this.current[t] = b;
      this.fill[t] = 0;
      this.last[t] = -1;
    }
    this.varint(t, slot - this.last[t] - 1);
    this.varint(t, tf - 1);
    this.last[t] = slot;
  }

  /** Calls `each` with every (slot, tf) of `term`, in the order added. */
  forEach(term: string, each: (slot: number, tf: number) => void): void {
    const t = this.ids.get(term);
    if (t === undefined) return;
    let b = this.first[t];
    let page = this.pages[b >>> PAGE_SHIFT];
    let at = (b & PAGE_MASK) * BLOCK;
    let end = at + (b === this.current[t] ? this.fill[t] : BLOCK_DATA);
    const next = (): number => {
      let value = 0;
      let shift = 0;
      let byte: number;
      do {
        if (at === end) {
          b = readU32(page, at);
          page = this.pages[b >>> PAGE_SHIFT];
          at = (b & PAGE_MASK) * BLOCK;
          end = at + (b === this.current[t] ? this.fill[t] : BLOCK_DATA);
        }
        byte = page[at++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte & 0x80);
      return value;
    };
    let slot = -1;
    while (at < end || b !== this.current[t]) {
      slot += next() + 1;
      each(slot, next() + 1);
    }
  }

  private varint(t: number, value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.byte(t, (v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(t, v);
  }

  private byte(t: number, value: number): void {
    let b = this.current[t];
    if (this.fill[t] === BLOCK_DATA) {
      const next = this.block();
      writeU32(this.pages[b >>> PAGE_SHIFT], (b & PAGE_MASK) * BLOCK + BLOCK_DATA, next);
      this.current[t] = b = next;
      this.fill[t] = 0;
    }
    this.pages[b >>> PAGE_SHIFT][(b & PAGE_MASK) * BLOCK + this.fill[t]++] = value;
  }

  private block(): number {
    if (this.blocks >>> PAGE_SHIFT === this.pages.length) this.pages.push(new Uint8Array(BLOCK << PAGE_SHIFT));
    return this.blocks++;
  }
}

const BLOCK = 32;
const BLOCK_DATA = BLOCK - 4;
/** 2^15 blocks of 32 bytes: 1 MiB pages. */
const PAGE_SHIFT = 15;
const PAGE_MASK = (1 << PAGE_SHIFT) - 1;

function readU32(a: Uint8Array, at: number): number {
  return (a[at] | (a[at + 1] << 8) | (a[at + 2] << 16) | (a[at + 3] << 24)) >>> 0;
}

function writeU32(a: Uint8Array, at: number, v: number): void {
  a[at] = v & 0xff;
  a[at + 1] = (v >>> 8) & 0xff;
  a[at + 2] = (v >>> 16) & 0xff;
  a[at + 3] = v >>> 24;
}

function grow<T extends Uint8Array | Uint32Array | Int32Array>(a: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length * 2);
  out.set(a);
  return out;
}

/** (slot, tf) pairs in two growing arrays, reused across terms. */
class PostingList {
  slots = new Uint32Array(64);
  tfs = new Uint32Array(64);
  length = 0;

  push(slot: number, tf: number): void {
    if (this.length === this.slots.length) {
      const slots = new Uint32Array(this.length * 2);
      const tfs = new Uint32Array(this.length * 2);
      slots.set(this.slots);
      tfs.set(this.tfs);
      this.slots = slots;
      this.tfs = tfs;
    }
    this.slots[this.length] = slot;
    this.tfs[this.length++] = tf;
  }
}

/** Unsigned LEB128 varints from bytes [at, end) of one term's postings. */
class VarintReader {
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
    private readonly end: number,
    private readonly term: number,
  ) {}

  more(): boolean {
    return this.at < this.end;
  }

  next(): number {
    let value = 0;
    let shift = 0;
    let byte: number;
    // Values stay below 2^32, so at most 5 bytes each; longer is damage.
    do {
      if (this.at >= this.end || shift > 28) corruptPostings(this.term);
      byte = this.bytes[this.at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  }
}

/** Writes the list's (slot gap − 1, tf − 1) varints at out[at…] (or only counts them, out null); returns the bytes. */
function encodePairs(list: PostingList, out: Uint8Array | null, at: number): number {
  let n = 0;
  let prev = -1;
  const put = (value: number) => {
    let v = value;
    while (v >= 0x80) {
      if (out) out[at + n] = (v % 0x80) | 0x80;
      n++;
      v = Math.floor(v / 0x80);
    }
    if (out) out[at + n] = v;
    n++;
  };
  for (let i = 0; i < list.length; i++) {
    put(list.slots[i] - prev - 1);
    put(list.tfs[i] - 1);
    prev = list.slots[i];
  }
  return n;
}

class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** The bytes, zero padded to whole u32 words. */
  words(): Uint32Array {
    const out = new Uint32Array(Math.ceil(this.length / 4));
    new Uint8Array(out.buffer).set(this.buf.subarray(0, this.length));
    return out;
  }
}

function compareBytes(a: Uint8Array, aFrom: number, aTo: number, b: Uint8Array, bFrom: number, bTo: number): number {
  const n = Math.min(aTo - aFrom, bTo - bFrom);
  for (let i = 0; i < n; i++) {
    const d = a[aFrom + i] - b[bFrom + i];
    if (d !== 0) return d;
  }
  return aTo - aFrom - (bTo - bFrom);
}

function decodeTerm(bytes: Uint8Array, t: number): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new Error(`full-text index: term ${t} is not UTF-8`);
  }
}

function corruptPostings(t: number): never {
  throw new Error(`full-text index: postings of term ${t} are damaged`);
}

function checkParams(p: Bm25Params): void {
  if (typeof p.k1 !== 'number' || !(p.k1 >= 0 && p.k1 <= 100)) throw new Error(`full-text index: k1 must be in [0, 100], got ${p.k1}`);
  if (typeof p.b !== 'number' || !(p.b >= 0 && p.b <= 1)) throw new Error(`full-text index: b must be in [0, 1], got ${p.b}`);
}

function count(v: number | undefined, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffffffff) throw new Error(`full-text index: ${name} is not a count`);
  return v as number;
}

function array(s: SerializedBm25, name: string, length: number): Uint32Array {
  const a = s.arrays[name];
  if (!(a instanceof Uint32Array)) throw new Error(`full-text index: array ${name} is missing or not u32`);
  if (a.length !== length) throw new Error(`full-text index: array ${name} has ${a.length} entries, expected ${length}`);
  return a;
}

function bytesOf(words: Uint32Array, length: number): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, length);
}

function checkOffsets(off: Uint32Array, total: number, name: string): void {
  if (off[0] !== 0 || off[off.length - 1] !== total) throw new Error(`full-text index: ${name} do not span the data`);
  for (let i = 1; i < off.length; i++) if (off[i] < off[i - 1]) throw new Error(`full-text index: ${name} are not ascending`);
}
