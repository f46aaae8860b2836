import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { evaluateBenchmark } from '../../src/workflows';
import type { EvaluateBenchmarkInput } from '../../src/workflows/io';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { useArithmeticFixture } from '../helpers/arithmetic-fixture';

/** Every `expected` of the benchmark's rows made wrong for the simulator's right answers. */
function editEveryExpected(dir: string): void {
  const file = path.join(dir, 'tasks.jsonl');
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const edited = rows.map((row) => ({ ...row, verifier: { ...row.verifier, expected: `${row.verifier.expected}0` } }));
  writeFileSync(file, `${edited.map((row) => JSON.stringify(row)).join('\n')}\n`);
}

const { dir, current } = useArithmeticFixture(20, { seed: 3, pCorrect: 0.5, latencyMs: 30 });
let runs = 0;

function runEval(n_concurrent = 4) {
  const input: EvaluateBenchmarkInput = {
    evaluator: {
      name: 'fresh',
      benchmark: { path: dir },
      num_samples: 2,
      n_concurrent,
      sampler: { base_url: current().simulator.url, model: 'simulator', timeout_s: 5 },
    },
  };
  return current().temporal.env.client.workflow.execute(evaluateBenchmark, {
    taskQueue: current().temporal.taskQueue,
    workflowId: `fresh-${Date.now()}-${runs++}`,
    args: [input],
  });
}

describe('a long-lived worker and an edited benchmark', () => {
  it('scores what is on disk when each eval starts, never the contents it read before', async () => {
    const tasks = await writeArithmeticBenchmark(dir, 20);
    const before = await runEval();
    expect(before.metrics.pass_rate).toBeCloseTo(expectedFromOracle(tasks, 3, 0.5, 2).pass_rate, 12);
    expect(before.metrics.pass_rate).toBeGreaterThan(0);

    editEveryExpected(dir);
    const after = await runEval();
    // The simulator answers the old expected values, which the edited benchmark marks wrong.
    expect(after.metrics.pass_rate).toBe(0);
    expect(after.benchmark.content_hash).not.toBe(before.benchmark.content_hash);
  });

  it('fails loudly, naming the benchmark, when it is edited while the eval runs', async () => {
    await writeArithmeticBenchmark(dir, 20);
    const running = runEval(1);
    // 20 tasks x 2 samples one at a time at 30 ms: the edit lands after the first tasks, long before the last.
    await new Promise((resolve) => setTimeout(resolve, 500));
    editEveryExpected(dir);
    const failure = await running.catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(String((failure as WorkflowFailedError).cause?.message)).toMatch(/benchmark .*bench changed since this eval started/);
  });
});
