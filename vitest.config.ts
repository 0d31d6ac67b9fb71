import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // web/: the console's own checks (locale keys, generated API types); they run in Node.
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['test/setup/validators.ts'],
  },
});
