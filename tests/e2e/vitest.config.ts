import { defineConfig } from 'vitest/config';

// One app window at a time: the tests share a display and a machine with two cores, and each
// test drives a real app process. Waits inside the tests are bounded with their own messages;
// these timeouts only catch a wait that was forgotten.
export default defineConfig({
  test: {
    include: ['*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
