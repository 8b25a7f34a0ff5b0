import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.tsx',
      'test/e2e/**/*.test.ts',
      'samples/test/**/*.test.ts',
    ],
    // Crash, codec and end-to-end tests spawn processes and move tens of MiB; 2-core CI machines are slow.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
