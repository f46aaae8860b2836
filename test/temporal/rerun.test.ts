import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { Task } from '../../src/benchmark/task';
import { rerunEval } from '../../src/client/rerun';
import { registerVerifier, verifierVersion, verifierVersionOf } from '../../src/verifiers';
import { evaluateBenchmark } from '../../src/workflows';
import type { EvaluateBenchmarkInput } from '../../src/workflows/io';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { EXAMPLE, useExampleFixture } from '../helpers/example-fixture';
import type { TemporalFixture } from '../helpers/temporal';

const SEED = 5;
const P = 0.6;
const N = 3;

const example = useExampleFixture({ seed: SEED, pCorrect: P, latencyMs: 5 });
let temporal: TemporalFixture;
let tasks: Task[];
beforeAll(() => {
  ({ temporal, tasks } = example.current());
});

const simulator = example.simulator;

function input(url: string, overrides: Record<string, unknown> = {}): EvaluateBenchmarkInput {
  return {
    evaluator: {
      name: 'rerun',
      benchmark: { path: EXAMPLE },
      num_samples: N,
      n_concurrent: 4,
      sampler: { base_url: url, model: 'simulator', timeout_s: 5, max_retries: 0 },
      ...overrides,
    },
  };
}

async function ledgerRows(evalId: string) {
  const db = (temporal.ledger as unknown as { db: import('better-sqlite3').Database }).db;
  return db.prepare('SELECT sample_idx, verifier_version, created_at FROM samples WHERE eval_id = ?').all(evalId) as {
    verifier_version: string;
    created_at: string;
  }[];
}

describe('re-running evals on their ledger', () => {
  it('retries a failed eval drawing only the samples it lacks', async () => {
    const flaky = await simulator({ faults: { rate500: 0.3 } });
    const workflowId = `retry-me-${Date.now()}`;
    const failure = await temporal.env.client.workflow
      .execute(evaluateBenchmark, {
        taskQueue: temporal.taskQueue,
        workflowId,
        args: [input(flaky.url, { max_task_attempts: 1, max_error_rate: 0 })],
      })
      .catch((e) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String(failure.cause?.message)).toMatch(/max_error_rate/);
    const kept = (await ledgerRows(workflowId)).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(tasks.length * N);

    // The sampler is healthy again at the same address.
    const port = Number(new URL(flaky.url).port);
    await flaky.close();
    const healthy = await simulator({ port });
    const retry = await rerunEval(temporal.env.client, temporal.taskQueue, workflowId, 'retry');
    const { metrics } = await retry.result();

    expect(healthy.stats().requests).toBe(tasks.length * N - kept);
    const expected = expectedFromOracle(tasks, SEED, P, N);
    expect(metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
    expect(metrics.n_errored_samples).toBe(0);
  });

  it('rescores a completed eval with a changed verifier set, drawing nothing', async () => {
    const sim = await simulator();
    const workflowId = `rescore-me-${Date.now()}`;
    const original = await temporal.env.client.workflow.execute(evaluateBenchmark, {
      taskQueue: temporal.taskQueue,
      workflowId,
      args: [input(sim.url)],
    });
    const oldVersion = verifierVersion();
    const requests = sim.stats().requests;
    const scoredAt = Math.max(...(await ledgerRows(workflowId)).map((r) => Date.parse(r.created_at)));

    // The worker runs in this process: registering a verifier changes its verifier version.
    registerVerifier('always_one_for_rescore_test', () => 1);
    expect(verifierVersion()).not.toBe(oldVersion);
    const rescore = await rerunEval(temporal.env.client, temporal.taskQueue, workflowId, 'rescore');
    const { metrics } = await rescore.result();

    expect(sim.stats().requests).toBe(requests);
    expect(metrics).toEqual(original.metrics);
    const rows = await ledgerRows(workflowId);
    expect(rows).toHaveLength(tasks.length * N);
    expect(Math.min(...rows.map((r) => Date.parse(r.created_at)))).toBeGreaterThan(scoredAt);
    // Every row scored again, each stamped with the version of its own task's verifier.
    expect(new Set(rows.map((r) => r.verifier_version))).toEqual(new Set(tasks.map((t) => verifierVersionOf(t.verifier))));
  });

  it('refuses to retry a completed eval', async () => {
    const sim = await simulator();
    const workflowId = `done-${Date.now()}`;
    await temporal.env.client.workflow.execute(evaluateBenchmark, { taskQueue: temporal.taskQueue, workflowId, args: [input(sim.url)] });
    await expect(rerunEval(temporal.env.client, temporal.taskQueue, workflowId, 'retry')).rejects.toThrow(/completed; retry redoes failed/);
  });
});
