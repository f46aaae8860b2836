import { appendFileSync, cpSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowFailedError } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import type { Task } from '../../src/benchmark/task';
import { EvaluatorSchema, type EvaluatorInput } from '../../src/config/evaluator';
import type { RunningSimulator } from '../../src/simulator/server';
import { evaluateBenchmark } from '../../src/workflows';
import type { EvaluateBenchmarkInput } from '../../src/workflows/io';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { EXAMPLE, useExampleFixture } from '../helpers/example-fixture';
import { tempDir, type TemporalFixture } from '../helpers/temporal';


const example = useExampleFixture({ seed: 7, pCorrect: 0.6, latencyMs: 20 });
let temporal: TemporalFixture;
let tasks: Task[];
beforeAll(() => {
  ({ temporal, tasks } = example.current());
});

const simulator = example.simulator;

function evaluator(sim: RunningSimulator, overrides: Partial<EvaluatorInput> = {}): EvaluatorInput {
  return {
    name: 'quickstart',
    benchmark: { path: EXAMPLE },
    num_samples: 3,
    n_concurrent: 4,
    sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5, max_retries: 6 },
    ...overrides,
  };
}

let runs = 0;
function runEval(input: EvaluateBenchmarkInput) {
  return temporal.env.client.workflow.execute(evaluateBenchmark, {
    taskQueue: temporal.taskQueue,
    workflowId: `eval-test-${Date.now()}-${runs++}`,
    args: [input],
  });
}

describe('evaluateBenchmark on a real dev server', () => {
  it('scores the example benchmark to exactly what the simulator seed implies', async () => {
    const sim = await simulator();
    const result = await runEval({ evaluator: evaluator(sim, { breakdown_keys: ['category'] }), step: 3 });
    const expected = expectedFromOracle(tasks, 7, 0.6, 3);

    expect(result.metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
    expect(result.metrics.pass_rate).toBeCloseTo(expected.pass_rate, 12);
    expect(result.metrics.n_tasks).toBe(tasks.length);
    expect(result.metrics.n_errored_samples).toBe(0);
    const arithmetic = tasks.filter((t) => t.metadata.category === 'arithmetic');
    expect(result.metrics['category=arithmetic/mean_reward']).toBeCloseTo(
      expectedFromOracle(arithmetic, 7, 0.6, 3).mean_reward,
      12,
    );
    expect(result.step).toBe(3);
    expect(result.upload).toEqual({ status: 'skipped', reason: expect.any(String) });
    expect(sim.stats().requests).toBe(tasks.length * 3);
  });

  it.each([1, 8])('never has more than n_concurrent=%i requests in flight, and reaches it', async (n) => {
    const sim = await simulator({ latencyMs: 40 });
    await runEval({ evaluator: evaluator(sim, { n_concurrent: n, num_samples: 3 }) });
    expect(sim.stats().maxConcurrency).toBe(n);
    expect(sim.stats().requests).toBe(tasks.length * 3);
  });

  it('draws 16 samples of a task at once without a listener-leak warning on its cancellation signal', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const sim = await simulator({ latencyMs: 20 });
      const result = await runEval({ evaluator: evaluator(sim, { num_samples: 16, n_concurrent: 32 }) });
      expect(result.metrics.n_errored_samples).toBe(0);
      expect(sim.stats().maxConcurrency).toBe(32);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('retries injected 500s, 429s, malformed answers and resets to the same metrics', async () => {
    const clean = await runEval({ evaluator: evaluator(await simulator()) });
    const faulty = await simulator({
      faults: { rate500: 0.15, rate429: 0.1, retryAfterS: 0.2, rateMalformed: 0.05, rateReset: 0.05 },
    });
    const result = await runEval({ evaluator: evaluator(faulty) });

    const faults = faulty.stats().faults;
    expect(faults['500']).toBeGreaterThan(0);
    expect(faults['429']).toBeGreaterThan(0);
    expect(result.metrics).toEqual(clean.metrics);
  });

  it('records the eval and one prediction per sample in a SQLite store', async () => {
    const store = path.join(tempDir(), 'results.sqlite');
    const sim = await simulator();
    const result = await runEval({
      evaluator: evaluator(sim, { store, run_id: 'run-a', benchmark_id: 'quick-v1', split: 'val' }),
      step: 10,
    });
    expect(result.upload).toMatchObject({ status: 'ok', predictions: tasks.length * 3 });

    const db = new Database(store, { readonly: true });
    const evals = db.prepare('SELECT * FROM evals').all() as { run_id: string; step: number; metrics: string }[];
    expect(evals).toHaveLength(1);
    expect(evals[0]).toMatchObject({ run_id: 'run-a', step: 10 });
    expect(JSON.parse(evals[0].metrics)).toEqual(result.metrics);
    const passed = db.prepare('SELECT COUNT(*) AS n FROM predictions WHERE reward >= 1').get() as { n: number };
    expect(passed.n / (tasks.length * 3)).toBeCloseTo(result.metrics.pass_rate, 12);
    db.close();

    // The same (run, benchmark, step, split) uploaded again replaces the record and its rows.
    await runEval({
      evaluator: evaluator(sim, { store, run_id: 'run-a', benchmark_id: 'quick-v1', split: 'val' }),
      step: 10,
    });
    const again = new Database(store, { readonly: true });
    expect(again.prepare('SELECT COUNT(*) AS n FROM evals').get()).toEqual({ n: 1 });
    expect(again.prepare('SELECT COUNT(*) AS n FROM predictions').get()).toEqual({ n: tasks.length * 3 });
    again.close();
  });

  it('succeeds when the upload target fails, and says why in its result', async () => {
    let posts = 0;
    const dashboard = http.createServer((req, res) => {
      posts++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"dashboard is down"}');
    });
    await new Promise<void>((resolve) => dashboard.listen(0, '127.0.0.1', resolve));
    const { port } = dashboard.address() as AddressInfo;
    try {
      const sim = await simulator();
      const result = await runEval({
        evaluator: evaluator(sim, { store: `http://127.0.0.1:${port}/api`, run_id: 'run-b' }),
      });
      expect(result.upload.status).toBe('failed');
      expect(result.upload).toMatchObject({ error: expect.stringContaining('503') });
      expect(result.metrics.n_tasks).toBe(tasks.length);
      // Best effort within a small budget: retried, but not forever.
      expect(posts).toBe(3);
    } finally {
      dashboard.close();
    }
  });

  it('fails at once, naming file and line, on a malformed benchmark line', async () => {
    const dir = tempDir();
    cpSync(EXAMPLE, dir, { recursive: true });
    appendFileSync(path.join(dir, 'tasks.jsonl'), '{"task_id": "broken", "instruction": \n');
    const sim = await simulator();
    const failure = await runEval({ evaluator: evaluator(sim, { benchmark: { path: dir } }) }).catch((e) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const message = String(failure.cause?.cause?.message ?? failure.cause?.message);
    expect(message).toContain(`${path.join(dir, 'tasks.jsonl')}:${tasks.length + 1}`);
    expect(sim.stats().requests).toBe(0);
  });

  it('rejects an invalid workflow input with the key that is wrong', async () => {
    const sim = await simulator();
    const bad = { ...evaluator(sim), n_concurrent: 0 };
    expect(EvaluatorSchema.safeParse(bad).success).toBe(false);
    const failure = await runEval({ evaluator: bad }).catch((e) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String(failure.cause?.message)).toMatch(/evaluator\.n_concurrent/);
  });

  it('fails with the task id when a task names an unknown verifier', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'tasks.jsonl'),
      JSON.stringify({ task_id: 't-odd', instruction: 'Say hi.', verifier: { kind: 'in_process', fn_name: 'no_such_fn', expected: 'hi' } }) + '\n',
    );
    const sim = await simulator({ tasks: (await loadBenchmark(dir)).tasks, seed: 1, pCorrect: 1, latencyMs: 0 });
    const failure = await runEval({ evaluator: evaluator(sim, { benchmark: { path: dir } }) }).catch((e) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const message = String(failure.cause?.cause?.message ?? failure.cause?.message);
    expect(message).toMatch(/t-odd/);
    expect(message).toMatch(/no_such_fn/);
    expect(message).toMatch(/exact_match/);
  });
});
