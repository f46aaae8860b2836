import { HARBOR_ENGINE } from '../config/evaluator';
import type { BenchmarkCache } from './benchmark-cache';
import type { BenchmarkSummary, LoadBenchmarkInput } from './types';

/** Tells the workflow how many tasks there are and which content it is scoring: no task text. */
export function loadBenchmarkActivity(benchmarks: BenchmarkCache) {
  return async function loadBenchmark({ path, limit, engine }: LoadBenchmarkInput): Promise<BenchmarkSummary> {
    const benchmark = engine === HARBOR_ENGINE ? await benchmarks.harbor(path, limit) : await benchmarks.get(path, limit);
    return {
      name: benchmark.name,
      n_tasks: benchmark.tasks.length,
      total_tasks: benchmark.totalTasks,
      content_hash: benchmark.contentHash,
    };
  };
}
