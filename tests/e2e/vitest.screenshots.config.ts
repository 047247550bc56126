import { defineConfig } from 'vitest/config';

// `npm run screenshots`: not part of `npm test`. Captures every screen in both themes and two
// window sizes into target/screenshots/.
export default defineConfig({
  test: {
    include: ['screenshots.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
