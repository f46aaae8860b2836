import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import type { Task } from '../../src/benchmark/task';
import { evalWorkflowId } from '../../src/client/start-eval';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server';
import { resolveTemporalExecutable } from '../../src/temporal/cli-path';
import { EvaluateBenchmarkInputSchema, type EvalProgress, type EvaluateBenchmarkInput } from '../../src/workflows/io';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { startTemporalFixture, tempDir, type TemporalFixture } from '../helpers/temporal';
import { lacks } from '../helpers/requires';

/**
 * Callers that are not evsys's TypeScript client start evals on the TypeScript worker by the
 * workflow type's name and a plain JSON input: the Python example (on the evsys Python package,
 * python/client) and the `temporal` CLI. Both must reach exactly the metrics the simulator's seed implies.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'arithmetic');
const TRAIN_LOOP = path.join(ROOT, 'examples', 'python', 'train_loop.py');
const SEED = 7;
const P_CORRECT = 0.6;
const NUM_SAMPLES = 3;

let temporal: TemporalFixture;
let tasks: Task[];
let sim: RunningSimulator;
let slowSim: RunningSimulator;

beforeAll(async () => {
  [temporal, { tasks }] = await Promise.all([startTemporalFixture(), loadBenchmark(EXAMPLE)]);
  sim = await startSimulator({ tasks, seed: SEED, pCorrect: P_CORRECT, latencyMs: 20 });
  // Slow enough that a query sent right after the start finds the eval still scoring.
  slowSim = await startSimulator({ tasks, seed: SEED, pCorrect: P_CORRECT, latencyMs: 150 });
});

afterAll(async () => {
  await Promise.all([sim?.close(), slowSim?.close()]);
  await temporal?.teardown();
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

function expectOracleMetrics(metrics: Record<string, number>): void {
  const expected = expectedFromOracle(tasks, SEED, P_CORRECT, NUM_SAMPLES);
  expect(metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
  expect(metrics.pass_rate).toBeCloseTo(expected.pass_rate, 12);
  expect(metrics.n_tasks).toBe(tasks.length);
  expect(metrics.n_errored_samples).toBe(0);
}

describe.skipIf(lacks('python'))('the Python package and its example (python/client, examples/python/train_loop.py)', () => {
  const CLIENT_SOURCES = path.join(ROOT, 'python', 'client', 'src');

  /** The example on the package's sources, with a config like examples/python/eval.yaml pointed at the simulator. */
  function trainLoop(runId: string, extraYaml = ''): Promise<Outcome> {
    const config = path.join(tempDir('evsys-py-example-'), 'eval.yaml');
    writeFileSync(config, [
      'name: quickstart',
      `benchmark: {path: ${EXAMPLE}}`,
      `sampler: {base_url: "${sim.url}", model: simulator}`,
      'run_every: 1',
      `num_samples: ${NUM_SAMPLES}`,
      'n_concurrent: 4',
      `run_id: ${runId}`,
      extraYaml,
    ].join('\n'));
    return run('python3', [TRAIN_LOOP, config, '--steps', '2'], {
      TEMPORAL_ADDRESS: temporal.env.address,
      EVSYS_TASK_QUEUE: temporal.taskQueue,
      PYTHONPATH: CLIENT_SOURCES,
      PYTHONDONTWRITEBYTECODE: '1',
    });
  }

  it('scores each training step to what the simulator seed implies, under the TypeScript id scheme', async () => {
    const runId = `py-${process.pid}`;
    const before = sim.stats().requests;
    const { code, stdout, stderr } = await trainLoop(runId);

    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2]);
    for (const line of lines) {
      expectOracleMetrics(line.metrics);
      // The id TypeScript's startOrAttachEval would give the same input.
      const input: EvaluateBenchmarkInput = {
        evaluator: { name: 'quickstart', benchmark: { path: EXAMPLE }, run_id: runId, sampler: { base_url: sim.url } },
        step: line.step,
      };
      expect(line.workflow_id).toBe(evalWorkflowId(EvaluateBenchmarkInputSchema.parse(input)));
      const description = await temporal.env.client.workflow.getHandle(line.workflow_id).describe();
      expect(description.type).toBe('evaluateBenchmark');
      expect(description.status.name).toBe('COMPLETED');
      expect(description.searchAttributes).toMatchObject({ EvsysRunId: [runId], EvsysStep: [line.step], EvsysEvaluator: ['quickstart'] });
    }
    expect(sim.stats().requests - before).toBe(tasks.length * NUM_SAMPLES * 2);

    // Run again: same ids, so it attaches to the completed evals and the sampler sees nothing.
    const again = await trainLoop(runId);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').map((l) => JSON.parse(l).metrics)).toEqual(lines.map((l) => l.metrics));
    expect(sim.stats().requests - before).toBe(tasks.length * NUM_SAMPLES * 2);
  });

  it('refuses a bad config with the CLI\'s message before starting anything, and sends no API key', async () => {
    const bad = await trainLoop(`py-bad-${process.pid}`, 'max_error_rate: 2');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/eval\.yaml:8: max_error_rate: Too big: expected number to be <=1/);
    expect(bad.stdout).toBe('');

    // The key's variable name goes in the input; the key stays in the environment.
    const source = await run('python3', [
      '-c',
      'import json; from evsys import BenchmarkEvaluator as B; ' +
        'e = B(name="n", benchmark={"path": "/b"}, sampler={"base_url": "http://x/v1", "model": "m", "api_key_env": "OPENAI_API_KEY"}); ' +
        'print(json.dumps(e.workflow_input(3)))',
    ], { OPENAI_API_KEY: 'sk-secret-never-in-input', PYTHONPATH: CLIENT_SOURCES, PYTHONDONTWRITEBYTECODE: '1' });
    expect(source.code, source.stderr).toBe(0);
    const payload = JSON.parse(source.stdout);
    expect(payload.evaluator.sampler).toMatchObject({ base_url: 'http://x/v1', model: 'm', api_key_env: 'OPENAI_API_KEY' });
    expect(source.stdout).not.toContain('sk-secret');
    expect(EvaluateBenchmarkInputSchema.safeParse(payload).success).toBe(true);
  });

  /** A few lines of Python on the package, with the fixture's server and queue. */
  function python(lines: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    return run('python3', ['-c', lines.join('\n')], {
      TEMPORAL_ADDRESS: temporal.env.address,
      EVSYS_TASK_QUEUE: temporal.taskQueue,
      PYTHONPATH: CLIENT_SOURCES,
      PYTHONDONTWRITEBYTECODE: '1',
      ...env,
    });
  }

  const evaluatorOf = (url: string, extra = '') =>
    `BenchmarkEvaluator(name="py", benchmark={"path": ${JSON.stringify(EXAMPLE)}}, sampler={"base_url": "${url}", "model": "simulator"}, run_id="py-${process.pid}-${Date.now()}"${extra})`;

  it('turns a failed eval into a typed exception with the worker\'s message, and a server that does not answer into UnreachableError', async () => {
    const failed = await python([
      'import asyncio',
      'from evsys import BenchmarkEvaluator, BadInputError',
      `e = ${evaluatorOf(sim.url, ', metrics=["no_such_metric"]')}`,
      'try:',
      '    asyncio.run(e.evaluate(1))',
      'except BadInputError as err:',
      '    print(type(err).__name__, err.workflow_id, err)',
    ]);
    expect(failed.code, failed.stderr).toBe(0);
    expect(failed.stdout).toMatch(/^BadInputError evsys:py-\d+-\d+:py:arithmetic-[0-9a-f]{8}:step-1 eval .* failed: .*no_such_metric/);

    const down = await python([
      'from evsys import BenchmarkEvaluator, UnreachableError',
      `e = ${evaluatorOf(sim.url)}`,
      'try:',
      '    e.evaluate_sync(1)',
      'except UnreachableError as err:',
      '    print("UnreachableError", err)',
    ], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/^UnreachableError the Temporal server at 127\.0\.0\.1:1 is not reachable/);
  });

  it('follows a running eval through its handle: progress, cancel, and the cancellation as an exception', async () => {
    // Its own slow simulator: the eval must still run when it is cancelled, and the others count their requests.
    const slow = await startSimulator({ tasks, seed: SEED, pCorrect: P_CORRECT, latencyMs: 300 });
    const out = await python([
      'import json, time',
      'from evsys import BenchmarkEvaluator, EvalCancelledError',
      `e = ${evaluatorOf(slow.url, ', num_samples=2, n_concurrent=2')}`,
      'handle = e.start_sync(1)',
      'for _ in range(100):',
      '    try:',
      '        progress = handle.progress_sync()',
      '        if progress.samples_done > 0: break',
      '    except Exception:',
      '        pass  # the server refuses a query before the first workflow task',
      '    time.sleep(0.1)',
      'print(json.dumps({"phase": progress.phase, "tasks_total": progress.tasks_total, "done": progress.samples_done}))',
      'handle.cancel_sync()',
      'try:',
      '    handle.result_sync()',
      'except EvalCancelledError as err:',
      '    print("cancelled", err.workflow_id == handle.workflow_id)',
    ]).finally(() => slow.close());
    expect(out.code, out.stderr).toBe(0);
    const [progressLine, cancelled] = out.stdout.trim().split('\n');
    const progress = JSON.parse(progressLine);
    expect(progress.phase).toBe('scoring');
    expect(progress.tasks_total).toBe(tasks.length);
    expect(progress.done).toBeGreaterThan(0);
    expect(cancelled).toBe('cancelled True');
  });

  it('exits cleanly after using a client: Temporal\'s Rust threads do not abort the interpreter at exit', async () => {
    // Without the package's exit hook (python/client/src/evsys/_exit.py) 13 of 100 such scripts
    // aborted here ("Fatal Python error: PyGILState_Release"): 40 clean ones in a row rule it out.
    const script = ['import asyncio', 'from evsys.client import connect', 'async def ask():', '    await (await connect()).count_workflows()', 'asyncio.run(ask())'];
    const outcomes: Outcome[] = [];
    for (let batch = 0; batch < 10; batch++) outcomes.push(...(await Promise.all([1, 2, 3, 4].map(() => python(script)))));
    expect(outcomes.filter((o) => o.code !== 0).map((o) => `${o.code}: ${o.stderr.split('\n')[0]}`)).toEqual([]);
  });
});

describe('the temporal CLI', () => {
  // The binary the dev server runs: .tools/temporal/bin/temporal after `npm ci`.
  const cli = (args: string[]) => {
    const exe = resolveTemporalExecutable();
    if (exe.type !== 'existing-path') throw new Error('no temporal CLI binary: `npm ci` installs it in .tools/temporal');
    return run(exe.path, [...args, '--address', temporal.env.address, '--namespace', 'default']);
  };

  async function queryProgress(workflowId: string): Promise<EvalProgress> {
    // A query before the eval's first workflow task has completed is refused; ask again.
    for (let attempt = 0; ; attempt++) {
      const out = await cli(['workflow', 'query', '--workflow-id', workflowId, '--name', 'progress', '--output', 'json']);
      if (out.code === 0) return JSON.parse(out.stdout).queryResult[0] as EvalProgress;
      if (attempt >= 20) throw new Error(`temporal workflow query failed: ${out.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('starts an eval with --type and a JSON --input, queries its progress and prints its result', async () => {
    const workflowId = `evsys:cli-${process.pid}:quickstart:arithmetic:step-5`;
    const input: EvaluateBenchmarkInput = {
      evaluator: {
        name: 'quickstart',
        benchmark: { path: EXAMPLE },
        benchmark_id: 'arithmetic',
        run_id: `cli-${process.pid}`,
        sampler: { base_url: slowSim.url, model: 'simulator' },
        num_samples: NUM_SAMPLES,
        n_concurrent: 4,
      },
      step: 5,
    };
    expect(evalWorkflowId(EvaluateBenchmarkInputSchema.parse(input))).toBe(workflowId);
    const start = ['workflow', 'start', '--type', 'evaluateBenchmark', '--task-queue', temporal.taskQueue];
    const started = await cli([
      ...start,
      ...['--workflow-id', workflowId, '--id-conflict-policy', 'UseExisting', '--input', JSON.stringify(input)],
    ]);
    expect(started.code, started.stderr).toBe(0);

    const running = await queryProgress(workflowId);
    expect(running.phase).not.toBe('done');
    expect(running).toEqual({
      phase: expect.stringMatching(/^(loading|scoring)$/),
      tasks_total: expect.any(Number),
      tasks_done: expect.any(Number),
      tasks_failed: 0,
      samples_done: expect.any(Number),
      samples_passed: expect.any(Number),
      samples_errored: 0,
      samples_in_flight: expect.any(Number),
    });
    expect(running.samples_in_flight).toBeLessThanOrEqual(4);

    // Started again under the same id while it runs: attaches, no second eval.
    const twice = await cli([...start, '--workflow-id', workflowId, '--id-conflict-policy', 'UseExisting', '--input', JSON.stringify(input)]);
    expect(twice.code, twice.stderr).toBe(0);

    const result = await cli(['workflow', 'result', '--workflow-id', workflowId, '--output', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout);
    expect(outcome.status).toBe('COMPLETED');
    expect(outcome.result).toMatchObject({ eval_id: workflowId, evaluator: 'quickstart', step: 5 });
    expectOracleMetrics(outcome.result.metrics);

    const done = await queryProgress(workflowId);
    const n = tasks.length * NUM_SAMPLES;
    expect(done).toMatchObject({ phase: 'done', tasks_total: tasks.length, tasks_done: tasks.length, samples_done: n });
    expect(done.samples_passed / n).toBeCloseTo(outcome.result.metrics.pass_rate, 12);
    expect(slowSim.stats().requests).toBe(n);
  });

  it('reports bad input as a failed eval whose message names the key', async () => {
    const workflowId = `cli-bad-${process.pid}`;
    const input = { evaluator: { name: 'x', benchmark: { path: EXAMPLE }, sampler: { base_url: sim.url }, num_samples: 0 } };
    const started = await cli([
      ...['workflow', 'start', '--type', 'evaluateBenchmark', '--task-queue', temporal.taskQueue],
      ...['--workflow-id', workflowId, '--input', JSON.stringify(input)],
    ]);
    expect(started.code, started.stderr).toBe(0);
    const result = await cli(['workflow', 'result', '--workflow-id', workflowId, '--output', 'json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).status).toBe('FAILED');
    expect(result.stdout).toContain('invalid workflow input at evaluator.num_samples');
  });
});
