import type { SampleLedger, SampleRecord } from '../ledger/types';
import { aggregateMetrics } from '../metrics';
import type { TaskScores } from '../metrics';
import type { BenchmarkCache } from './benchmark-cache';
import { sampleStamp } from './stamp';
import type { AggregateInput } from './types';

export interface AggregateDeps {
  benchmarks: BenchmarkCache;
  ledger: SampleLedger;
}

/**
 * Metrics from the ledger, not from workflow history: every task of the benchmark is listed,
 * and a sample the ledger lacks (its task ran out of retries) counts as an infrastructure
 * error, never as a zero.
 */
export function aggregateMetricsActivity(deps: AggregateDeps) {
  return async function aggregateMetricsFromLedger(input: AggregateInput): Promise<Record<string, number>> {
    const { plan } = input;
    const benchmark = await deps.benchmarks.forPlan(plan);
    const samples = await deps.ledger.samplesOfEval(plan.eval_id, sampleStamp(plan));
    const byTask = new Map<string, SampleRecord[]>();
    for (const sample of samples) {
      if (sample.sample_idx >= plan.num_samples) continue;
      let taskSamples = byTask.get(sample.task_id);
      if (!taskSamples) byTask.set(sample.task_id, (taskSamples = []));
      taskSamples.push(sample);
    }
    const tasks: TaskScores[] = benchmark.tasks.map((task) => {
      const scored = byTask.get(task.task_id) ?? [];
      return {
        taskId: task.task_id,
        rewards: scored.map((s) => s.reward),
        answers: scored.map((s) => s.answer),
        usage: scored.map((s) => ({ latencyS: s.latency_s, promptTokens: s.prompt_tokens, completionTokens: s.completion_tokens })),
        erroredSamples: plan.num_samples - scored.length,
        metadata: task.metadata,
      };
    });
    return aggregateMetrics(tasks, { metrics: input.metrics, breakdownKeys: input.breakdown_keys, stderr: input.stderr });
  };
}
