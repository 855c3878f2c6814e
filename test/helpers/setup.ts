/**
 * Runs around every test file. Files share a worker process (isolate: false,
 * which saves a module graph per file), so whatever a file sets in
 * process.env is put back when it ends.
 */
import { afterAll, expect } from 'vitest';

const savedEnv = { ...process.env };

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

// toEqual walks a typed array element by element through its iterator: ~450 ms for 64 KiB. Equal bytes in views of
// one type are equal elements (the same bits), so that answer is given at once; any difference falls through to
// vitest's own comparison, which decides (NaN payloads, ±0) and prints the diff.
expect.addEqualityTesters([
  function sameTypedBytes(a: unknown, b: unknown): boolean | undefined {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a instanceof DataView || b instanceof DataView) return undefined;
    if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return undefined;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)) ? true : undefined;
  },
]);
