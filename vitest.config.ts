import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Three levels, one folder each: unit (in-process, seconds), temporal (a dev server), system
    // (worker processes, sandboxes, Harbor, browsers, databases, the packed package).
    include: ['test/{unit,temporal,system}/**/*.test.ts'],
    // Installs what the tests need beyond npm (bubblewrap, chromium, the Python venvs) first.
    globalSetup: ['test/helpers/global-setup.ts'],
    // A passing test prints nothing: its console output and the logs of what it started show
    // only when it fails (test/helpers/quiet-logs.ts).
    setupFiles: ['test/helpers/quiet-logs.ts'],
    silent: 'passed-only',
    // Temporal's native bridge is not safe in worker threads: one process per test file.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
