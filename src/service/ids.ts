/**
 * Generated ids: `lib_`, `chk_` or `doc_` + 16 hex digits, unique in the
 * whole database (user-chosen chunk and document ids are unique only in their
 * library). Seeded ids derive from the seed and `db.nextId`, which the
 * snapshot keeps, so they never repeat; unseeded ones are random (randomUint32).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Database } from '../domain/model.js';
import { hash32 } from '../domain/random.js';

export type IdKind = 'lib' | 'chk' | 'doc';

/** A fresh id of `kind`, claimed in `db` until the change is applied, so one batch never repeats one. */
export function newId(db: Database, kind: IdKind, seed: string | undefined): string {
  for (;;) {
    const n = db.nextId++;
    const hex = seed !== undefined ? hex32(hash32(`${seed}:${n}:a`)) + hex32(hash32(`${seed}:${n}:b`)) : hex32(randomUint32()) + hex32(randomUint32());
    const id = `${kind}_${hex}`;
    if (!db.hasId(id)) {
      db.claimId(id);
      return id;
    }
  }
}

// Drawn 1024 at a time: bulk inserts need two per id.
const randomPool = new Uint32Array(1024);
let randomLeft = 0;

/** A random u32: from /dev/urandom where there is one, else Web Crypto. */
export function randomUint32(): number {
  if (randomLeft === 0) {
    fillRandom(randomPool);
    randomLeft = randomPool.length;
  }
  return randomPool[--randomLeft];
}

/**
 * Fills `a` with random bytes. A read of /dev/urandom needs no module: the
 * first use of Web Crypto loads its implementation, ~15 ms of every cold
 * `chunk add` (a generated id) on a 2-core machine.
 */
function fillRandom(a: Uint32Array): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, a) === a.byteLength) return;
    } finally {
      closeSync(fd);
    }
  } catch {
    // No /dev/urandom (Windows): Web Crypto below.
  }
  globalThis.crypto.getRandomValues(a);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
