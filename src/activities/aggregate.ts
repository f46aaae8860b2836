import type { SampleLedger } from '../ledger/types';
import { aggregateMetrics } from '../metrics';
import type { TaskScores } from '../metrics';
import { verifierVersion } from '../verifiers';
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
  return async function aggregateMetricsFromLedger({ plan, metrics, breakdown_keys }: AggregateInput): Promise<Record<string, number>> {
    const benchmark = await deps.benchmarks.get(plan.benchmark_path, plan.limit, plan.content_hash);
    const samples = await deps.ledger.samplesOfEval(plan.eval_id, sampleStamp(plan, verifierVersion()));
    const rewardsByTask = new Map<string, number[]>();
    for (const sample of samples) {
      if (sample.sample_idx >= plan.num_samples) continue;
      let rewards = rewardsByTask.get(sample.task_id);
      if (!rewards) rewardsByTask.set(sample.task_id, (rewards = []));
      rewards.push(sample.reward);
    }
    const tasks: TaskScores[] = benchmark.tasks.map((task) => {
      const rewards = rewardsByTask.get(task.task_id) ?? [];
      return { taskId: task.task_id, rewards, erroredSamples: plan.num_samples - rewards.length, metadata: task.metadata };
    });
    return aggregateMetrics(tasks, { metrics, breakdownKeys: breakdown_keys });
  };
}
