import { defineConfig } from 'vitest/config';

// The chaos suite drives real server subprocesses (SIGKILL, SIGTERM, SMTP outages); it needs `npm run
// build` first and runs its files one after another so timings are not skewed by each other.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/chaos/**/*.chaos.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
