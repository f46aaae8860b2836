import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BenchmarkError, loadBenchmark } from '../../src/benchmark/load';
import { EvaluatorSchema } from '../../src/config/evaluator';
import { BadInputError } from '../../src/errors';
import { liveEngine } from '../../src/scoring/engines/live';
import { VerifierInfraError } from '../../src/verifiers';

/**
 * A `program` task's spec is checked before any sampling: its shape when the benchmark loads
 * (tasks.jsonl:line), and that its test_program compiles after a completion's code when the
 * eval's first activity checks the tasks, by the python3 the sandbox would run (a real Python,
 * no sandbox: compile() runs nothing). test/system/verifiers-program.test.ts runs the checks.
 */

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A benchmark folder whose tasks.jsonl has one line per verifier, task ids t1, t2, ... */
async function benchmarkOf(...verifiers: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'evsys-program-spec-'));
  dirs.push(dir);
  const lines = verifiers.map((verifier, i) => JSON.stringify({ task_id: `t${i + 1}`, instruction: `Task ${i + 1}.`, verifier }));
  await writeFile(join(dir, 'tasks.jsonl'), `${lines.join('\n')}\n`);
  return dir;
}

const GOOD = { kind: 'program', test_program: 'def check(candidate):\n    assert candidate(2) == 4\n\ncheck(double)\n' };
const evaluator = EvaluatorSchema.parse({ name: 'spec', benchmark: { path: '.' }, sampler: { base_url: 'http://127.0.0.1:1/v1', model: 'm' } });

/** The error the eval's first activity would stop on: the load's, then the engine's check of the tasks. */
async function loadAndCheck(dir: string): Promise<Error | undefined> {
  try {
    liveEngine.checkTasks(await loadBenchmark(dir), evaluator);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

describe('a program verifier spec', () => {
  it('loads and passes the checks when its test program compiles', async () => {
    const dir = await benchmarkOf(GOOD, { kind: 'in_process', fn_name: 'exact_match', expected: 'x' }, GOOD);
    const benchmark = await loadBenchmark(dir);
    expect(benchmark.tasks[0]!.verifier).toEqual(GOOD);
    expect(await loadAndCheck(dir)).toBeUndefined();
  });

  it('must have a test_program, a string with code in it, and no other key: tasks.jsonl:line when the benchmark loads', async () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: 'program' }, /:2: verifier\.test_program: .*expected string/],
      [{ kind: 'program', test_program: 7 }, /:2: verifier\.test_program: .*expected string/],
      [{ kind: 'program', test_program: ' \n\t' }, /:2: verifier\.test_program: must hold the test code/],
      [{ ...GOOD, timeout_s: 5 }, /:2: verifier: .*unrecognized key.*timeout_s/i],
      [{ ...GOOD, test_sh: 'python3 program.py' }, /:2: verifier: .*unrecognized key.*test_sh/i],
    ];
    for (const [bad, message] of cases) {
      const dir = await benchmarkOf(GOOD, bad);
      const error = await loadAndCheck(dir);
      expect(error, JSON.stringify(bad)).toBeInstanceOf(BenchmarkError);
      expect(error!.message.startsWith(join(dir, 'tasks.jsonl'))).toBe(true);
      expect(error!.message).toMatch(message);
    }
  });

  it('stops the eval before sampling, naming tasks.jsonl:line and the task, when its test program cannot compile after a completion', async () => {
    const cases: [string, RegExp][] = [
      ['def check(candidate:\n    pass\n', /SyntaxError: .* \(line 1\)/],
      // Fine alone, but not once it follows the completion's code: it must open the file.
      ['assert True\nfrom __future__ import annotations\n', /SyntaxError: from __future__ imports must occur at the beginning of the file \(line 2\)/],
      ['    check(double)\n', /IndentationError: unexpected indent \(line 1\)/],
      ['assert "\0" == ""\n', /null bytes/],
    ];
    for (const [testProgram, message] of cases) {
      const dir = await benchmarkOf(GOOD, GOOD, { kind: 'program', test_program: testProgram });
      const error = await loadAndCheck(dir);
      expect(error, testProgram).toBeInstanceOf(BadInputError);
      expect(error!.message).toContain(`${join(dir, 'tasks.jsonl')}:3: task t3: program: test_program does not compile after the completion's code with `);
      expect(error!.message).toMatch(message);
    }
  });

  it('cannot be checked without a python3 the sandbox shows: an infrastructure error, not bad input', async () => {
    const dir = await benchmarkOf(GOOD);
    const path = process.env.PATH;
    // Folders that hold no python3; none of them a Python the sandbox would show.
    process.env.PATH = '/nonexistent/bin';
    try {
      const error = await loadAndCheck(dir);
      expect(error).toBeInstanceOf(VerifierInfraError);
      expect(error!.message).toMatch(/no python3 on the sandbox's PATH/);
    } finally {
      process.env.PATH = path;
    }
  });
});
