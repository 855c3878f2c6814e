import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Child processes and fsync dominate; forks keep each file's process state apart.
    pool: 'forks',
    // Vitest's default on 2 cores is 1 worker, i.e. files one after another; most
    // e2e time is spent waiting on bin/vdb children, so overlap the files.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
