import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Child processes and fsync dominate; forks give each worker a process of its own (signals, exit codes, stdio).
    pool: 'forks',
    // Files share a worker: each file's own module graph costs ~1 s of CPU; test/helpers/setup.ts puts the env back.
    isolate: false,
    setupFiles: ['test/helpers/setup.ts'],
    // Vitest's default on 2 cores is 1 worker, i.e. files one after another; most
    // e2e time is spent waiting on bin/vdb children, so overlap the files.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
