import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark, type Benchmark } from '../../src/benchmark/load';
import { SCORES_PAGE_ROWS } from '../../src/ledger/scores';
import { SqliteLedger } from '../../src/ledger/sqlite-ledger';
import type { SampleRecord } from '../../src/ledger/types';
import { aggregateMetrics, type TaskScores } from '../../src/metrics';
import { aggregateEval, type AggregateRequest } from '../../src/scoring/aggregate';
import type { EvalPlan } from '../../src/scoring/plan';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { tempDir } from '../helpers/temporal';

const NUM_SAMPLES = 4;
const STAMP = 'stamp-1';

/**
 * Aggregation as it was before it read the ledger a page at a time: every record of the eval at
 * once, completions included, grouped by task. The streamed aggregation must give the same.
 */
async function wholeRecordsAggregate(ledger: SqliteLedger, benchmark: Benchmark, request: AggregateRequest): Promise<Record<string, number>> {
  const byTask = new Map<string, SampleRecord[]>();
  for (const s of await ledger.samplesOfEval('eval-1', STAMP)) {
    if (s.sample_idx >= NUM_SAMPLES) continue;
    byTask.set(s.task_id, [...(byTask.get(s.task_id) ?? []), s]);
  }
  const tasks: TaskScores[] = benchmark.tasks.map((task) => {
    const recorded = byTask.get(task.task_id) ?? [];
    const scored = recorded.filter((s): s is SampleRecord & { reward: number } => s.reward !== null);
    return {
      taskId: task.task_id,
      rewards: scored.map((s) => s.reward),
      answers: scored.map((s) => s.answer),
      usage: scored.map((s) => ({ latencyS: s.latency_s, promptTokens: s.prompt_tokens, completionTokens: s.completion_tokens })),
      erroredSamples: NUM_SAMPLES - recorded.length,
      unscoredSamples: recorded.length - scored.length,
      truncatedSamples: scored.filter((s) => s.finish_reason === 'length').length,
      metadata: task.metadata,
    };
  });
  return aggregateMetrics(tasks, { metrics: request.metrics, breakdownKeys: request.breakdown_keys, stderr: request.stderr });
}

let dir: string;
let ledger: SqliteLedger;
let benchmark: Benchmark;

beforeAll(async () => {
  dir = tempDir('evsys-aggregate-');
  // More samples than a page of the ledger's scores, so the aggregate spans pages.
  const nTasks = Math.ceil((2 * SCORES_PAGE_ROWS) / NUM_SAMPLES) + 7;
  await writeArithmeticBenchmark(dir, nTasks);
  benchmark = await loadBenchmark(dir);
  ledger = new SqliteLedger(path.join(dir, 'ledger.sqlite'));
  const record = (task: number, sampleIdx: number, overrides: Partial<SampleRecord> = {}) =>
    ledger.record({
      ledger_key: 'eval-1',
      task_id: `sum-${task}`,
      task_index: task,
      sample_idx: sampleIdx,
      stamp: STAMP,
      completion: `completion ${task}/${sampleIdx} `.repeat(20),
      reasoning: null,
      answer: (task + sampleIdx) % 3 === 0 ? null : String((task * sampleIdx) % 5),
      reward: (task * 7 + sampleIdx * 3) % 4 === 0 ? 1 : (task + sampleIdx) % 5 === 0 ? 0.5 : 0,
      prompt_tokens: task % 6 === 0 ? null : 10 + sampleIdx,
      completion_tokens: task % 9 === 0 ? null : 20 + task % 13,
      latency_s: 0.1 + ((task * 13 + sampleIdx) % 17) / 10,
      attempts: 1,
      verifier_version: 'exact_match@1',
      finish_reason: (task + sampleIdx) % 11 === 0 ? 'length' : 'stop',
      details: null,
      ...overrides,
    });
  for (const task of benchmark.tasks.keys()) {
    // Every 10th task lost all its samples, every 7th one sample; recorded out of order.
    if (task % 10 === 3) continue;
    for (const sampleIdx of [2, 0, 3, 1]) if (!(task % 7 === 0 && sampleIdx === 1)) await record(task, sampleIdx);
    // A Harbor-like sample without a valid reward, and one beyond num_samples (an earlier eval's).
    if (task % 8 === 5) await record(task, 0, { reward: null });
    if (task % 12 === 1) await record(task, NUM_SAMPLES, { reward: 1 });
  }
  // Another eval and another stamp on the same tasks count for nothing here.
  await record(0, 1, { ledger_key: 'eval-2', reward: 1 });
  await record(3, 0, { stamp: 'stamp-0', reward: 1 });
}, 120_000);

afterAll(async () => {
  await ledger?.close();
});

describe('aggregation from the ledger, a page at a time', () => {
  const plan = { ledger_key: 'eval-1', num_samples: NUM_SAMPLES } as EvalPlan;

  it.each<[string, AggregateRequest]>([
    ['the default metrics and breakdowns', { metrics: [], breakdown_keys: ['parity'], stderr: false }],
    [
      'every registered family, with standard errors',
      { metrics: ['mean_reward', 'pass_rate', 'pass@1', 'pass@4', 'pass^2', 'maj@4', 'time_per_task', 'tokens_per_task', 'n_unscored_samples'], breakdown_keys: ['parity'], stderr: true },
    ],
  ])('gives the metrics of the whole-records aggregation: %s', async (_label, request) => {
    const streamed = await aggregateEval(ledger, benchmark, plan, STAMP, request);
    expect(streamed).toEqual(await wholeRecordsAggregate(ledger, benchmark, request));
    // Tasks with a scored sample: all but the tenth that lost every sample.
    expect(streamed.n_tasks).toBe(benchmark.tasks.filter((_, i) => i % 10 !== 3).length);
    expect(streamed.n_errored_samples).toBeGreaterThan(0);
    expect(streamed.n_truncated_samples).toBeGreaterThan(0);
  });
});
