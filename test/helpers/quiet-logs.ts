import { afterEach } from 'vitest';
import { logTails } from '../../testkit/log-files';

/**
 * Every test file's setup (vitest setupFiles): a passing test prints nothing. What tests and
 * Temporal's runtime log goes through console (testkit/quiet-runtime.ts), which vitest keeps per
 * test and shows only for a failing one (`silent: 'passed-only'`); a failing test also shows the
 * ends of the server and worker logs its file started (testkit/log-files.ts).
 */
afterEach((context) => {
  if (context.task.result?.state === 'fail') {
    const tails = logTails();
    if (tails) console.warn(tails);
  }
});
