/**
 * Runs around every test file. Files share a worker process (isolate: false,
 * which saves a module graph per file), so whatever a file sets in
 * process.env is put back when it ends.
 */
import { afterAll } from 'vitest';

const savedEnv = { ...process.env };

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});
