import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import type { Task } from '../../src/benchmark/task';
import { Evaluations } from '../../src/client/evaluations';
import type { EvaluatorInput } from '../../src/config/evaluator';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server';
import { EXAMPLE } from '../helpers/example-fixture';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { startTemporalFixture, type TemporalFixture } from '../helpers/temporal';

const run = promisify(execFile);
import { EVSYS_BIN as EVSYS } from '../../testkit/processes';
const ENDPOINT_LIMIT = 3;
let temporal: TemporalFixture;
let tasks: Task[];
const simulators: RunningSimulator[] = [];

beforeAll(async () => {
  // Every eval this worker runs shares 3 requests in flight per sampler endpoint.
  [temporal, { tasks }] = await Promise.all([
    startTemporalFixture({ EVSYS_MAX_REQUESTS_PER_ENDPOINT: String(ENDPOINT_LIMIT) }),
    loadBenchmark(EXAMPLE),
  ]);
});

afterAll(async () => {
  await Promise.all(simulators.map((s) => s.close()));
  await temporal?.teardown();
});

async function simulator(latencyMs: number): Promise<RunningSimulator> {
  const sim = await startSimulator({ tasks, seed: 9, pCorrect: 0.5, latencyMs });
  simulators.push(sim);
  return sim;
}

function entry(sim: RunningSimulator, runId: string): EvaluatorInput {
  return {
    name: 'loop',
    benchmark: { path: EXAMPLE },
    benchmark_id: 'quickstart',
    run_every: 100,
    num_samples: 2,
    n_concurrent: 4,
    run_id: runId,
    sampler: { base_url: sim.url, model: 'simulator', timeout_s: 30 },
  };
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the client API for training loops', () => {
  it('starts without blocking, reports progress, evaluates, lists the run and shares the endpoint limit', async () => {
    const sim = await simulator(50);
    const evals = new Evaluations({ client: temporal.env.client, taskQueue: temporal.taskQueue });
    const e = entry(sim, 'loop-run');
    expect([100, 150, 200].map((step) => evals.isDue(e, step))).toEqual([true, false, true]);

    const started = await evals.startEvaluation(e, { step: 100, modelPath: 'ckpt-100' });
    if (!started.started) throw new Error(started.reason);
    const progress = await evals.progress(started.workflowId);
    expect(progress.tasks_done).toBeLessThan(tasks.length);

    // Two evals at once against one endpoint: 4 + 4 requests wanted, 3 allowed by the worker.
    const metrics = await evals.evaluate(e, { step: 200, modelPath: 'ckpt-200' });
    expect(metrics.mean_reward).toBeCloseTo(expectedFromOracle(tasks, 9, 0.5, 2).mean_reward, 12);
    await temporal.env.client.workflow.getHandle(started.workflowId).result();
    expect(sim.stats().maxConcurrency).toBe(ENDPOINT_LIMIT);

    await until('both evals listed', async () => (await evals.listEvals('loop-run')).length === 2);
    const listed = await evals.listEvals('loop-run');
    expect(listed.map((l) => l.step)).toEqual([200, 100]);
    expect(listed.every((l) => l.status === 'COMPLETED' && l.evaluator === 'loop')).toBe(true);
  });

  it('applies the backlog policy when a run has too many evals running', async () => {
    const slow = await simulator(400);
    const e = entry(slow, 'busy-run');
    const skipping = new Evaluations({ client: temporal.env.client, taskQueue: temporal.taskQueue, maxRunning: 1, backlogPolicy: 'skip' });
    const first = await skipping.startEvaluation(e, { step: 1 });
    if (!first.started) throw new Error(first.reason);
    await until('the first eval to be listed as running', async () =>
      (await skipping.listEvals('busy-run')).some((l) => l.status === 'RUNNING'),
    );

    expect(await skipping.startEvaluation(e, { step: 2 })).toMatchObject({ started: false, reason: expect.stringContaining('max 1') });

    const cancelling = new Evaluations({ client: temporal.env.client, taskQueue: temporal.taskQueue, maxRunning: 1, backlogPolicy: 'cancel_oldest' });
    const third = await cancelling.startEvaluation(e, { step: 3 });
    expect(third).toMatchObject({ started: true, cancelled: [first.workflowId] });
    await until('the oldest eval to be cancelled', async () =>
      (await temporal.env.client.workflow.getHandle(first.workflowId).describe()).status.name === 'CANCELLED',
    );
    if (third.started) await temporal.env.client.workflow.getHandle(third.workflowId).terminate('test done');
  });

  it('`evsys status` prints a running eval\'s progress line and a finished one\'s metrics', async () => {
    // 4 tasks x 2 samples, 2 at a time, 3 s each: about 12 s, longer than starting the CLI takes on a loaded machine.
    const slow = await simulator(3_000);
    const evals = new Evaluations({ client: temporal.env.client, taskQueue: temporal.taskQueue });
    const started = await evals.startEvaluation({ ...entry(slow, 'status-run'), limit: 4, n_concurrent: 2 }, { step: 7 });
    if (!started.started) throw new Error(started.reason);
    const env = { ...process.env, TEMPORAL_ADDRESS: temporal.env.address };
    const status = () =>
      run(process.execPath, [EVSYS, 'status', started.workflowId], { env, timeout: 60_000 }).then((r) => r.stdout);

    expect(await status()).toMatch(/^[#.]{20} \[(loading|scoring)\] tasks \d+\/\d+ \| samples \d+/);
    await temporal.env.client.workflow.getHandle(started.workflowId).result();
    expect(await status()).toMatch(/^completed\nmetric +value\n[\s\S]*mean_reward +\d/);
  }, 90_000);
});
