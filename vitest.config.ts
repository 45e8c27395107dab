import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run on the sources: the `source` condition of each package's
    // exports map points at src/, so nothing needs building first.
    conditions: ['source'],
  },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    globalSetup: ['internal/dev-services/src/vitest-global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: [
      'default',
      './internal/dev-services/src/vitest-summary-reporter.ts',
    ],
  },
});
