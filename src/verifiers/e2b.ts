import type { VerifierSpec } from '../benchmark/task';
import { BadInputError } from '../errors';
import { checkOutput, checkReward, solutionCode } from './code-check';
import { DEFAULT_SANDBOX, type Verdict, type VerifyContext, VerifierInfraError } from './context';
import { registerVerifierKindVersion } from './registry';
import { runInSandbox } from './sandbox';
import { tailExcerpt } from './text';

/**
 * Bump when any input's reward changes (see verifierVersion). 2: fork bombs and disk fillers fail at the sandbox's caps.
 * 3: the check sees a root of its own (sandbox-root.ts) as an unprivileged user, so code that read the host's files fails.
 */
const VERSION = 3;

type E2bSpec = Extract<VerifierSpec, { kind: 'e2b' }>;

/** pytest's exit code when it collected no test: the task's tests are broken, whatever the completion. */
const PYTEST_NO_TESTS = 5;
/** bash's exit code for a command it cannot find. */
const COMMAND_NOT_FOUND = 127;

/**
 * The `e2b` code check, run locally in a bubblewrap sandbox (see sandbox.ts) instead of E2B's
 * cloud. The contract with a task's tests:
 * - the working directory is fresh, on the sandbox's own size-limited /tmp, and holds
 *   `test_state.py` (the spec's `test_state_py`) and `solution.py`: the completion's first
 *   ```python (or bare ```) code block, or the whole completion when it has none. The tests
 *   import or run `solution.py`.
 * - `test_sh` (default `pytest -q test_state.py`) runs there under `bash -c`, as an unprivileged
 *   user, with the host's tools (python3, pytest) on PATH, no network, and the ctx.sandbox limits. A plain `pytest ...`
 *   runs the same tests in the same sandbox from a warm interpreter when it can (warm-python.ts).
 * - exit code 0 is reward 1; any other exit, the timeout, or a crash (out of memory, a fork
 *   refused at the process cap, a full disk) is 0. The verdict's details.output keeps the last
 *   E2B_OUTPUT_CHARS of stdout and stderr, interleaved, then evsys's notes on how the run ended
 *   (`[evsys] exit code 1`, `[evsys] timed out after 60 s; ...`, forks refused at the cap).
 * - not a reward but an error: a sandbox that cannot start, or a command of test_sh that is not
 *   found (VerifierInfraError: this worker's machine lacks it); pytest collecting no test
 *   (BadInputError: the task's tests are broken, and no completion can pass them).
 * The spec's `dockerfile` is ignored: the sandbox shows the host's /usr and the Python
 * environments on the worker's PATH, read-only, and little else (sandbox-root.ts), so whatever the
 * tests need (pytest, libraries) must be installed there on the worker's machine.
 */
export async function verifyE2b(spec: E2bSpec, completion: string, ctx: VerifyContext): Promise<Verdict> {
  if (spec.test_state_py === undefined && spec.test_sh.includes('test_state.py')) {
    throw new BadInputError('e2b: test_sh runs test_state.py but the task has no test_state_py');
  }
  const files: Record<string, string> = { 'solution.py': solutionCode(completion) };
  if (spec.test_state_py !== undefined) files['test_state.py'] = spec.test_state_py;
  const sandbox = ctx.sandbox ?? DEFAULT_SANDBOX;
  const result = await runInSandbox({ files }, spec.test_sh, sandbox, ctx.signal);
  const output = checkOutput(result, sandbox);
  if (result.exitCode === PYTEST_NO_TESTS && /\bpytest\b/.test(spec.test_sh)) {
    throw new BadInputError(
      `e2b: pytest collected no tests (exit code 5) running ${JSON.stringify(spec.test_sh)}: the task's test_state_py ` +
        'must define test functions named test_* (or classes named Test*); HumanEval-style check(candidate) code needs ' +
        `one that calls it, e.g. "def test_check(): check(<entry_point>)" (or run it with the "program" verifier, ` +
        `no pytest needed); output: ${JSON.stringify(tailExcerpt(output, 500))}`,
    );
  }
  if (result.exitCode === COMMAND_NOT_FOUND && /: command not found$/m.test(result.output)) {
    throw new VerifierInfraError(
      `e2b: a command of ${JSON.stringify(spec.test_sh)} is not found in the sandbox (exit code 127); install it on the ` +
        "worker's machine under /usr, or in a Python venv or interpreter whose bin is on the worker's PATH: the sandbox " +
        "shows only those, and nothing under the host's /tmp (it has its own empty /tmp, which hides a venv under the " +
        `host's /tmp); output: ${JSON.stringify(tailExcerpt(output, 500))}`,
    );
  }
  return { reward: checkReward(result), details: { output } };
}

registerVerifierKindVersion('e2b', VERSION);
