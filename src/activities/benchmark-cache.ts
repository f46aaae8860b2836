import { BadInputError } from '../errors';
import { loadBenchmark, type Benchmark } from '../benchmark/load';
import type { Task, TaskInfo } from '../benchmark/task';
import { loadHarborBenchmark, type HarborBenchmark } from '../harbor/dataset';
import type { EvalPlan } from './types';

/**
 * Benchmarks a worker has read, so 20,000 task activities do not parse tasks.jsonl 20,000
 * times. The content hash the workflow saw at the start must still match: an edited benchmark
 * mid-eval is an error, never a silent mix of two versions.
 */
export class BenchmarkCache {
  /** Keyed by engine kind too: a directory read as tasks.jsonl and as a Harbor dataset are two entries. */
  private readonly loaded = new Map<string, Promise<Benchmark<TaskInfo>>>();

  constructor(private readonly capacity = 4) {}

  /** A tasks.jsonl benchmark, as the live-sampler path scores it. */
  get(dir: string, limit: number | null | undefined, expectedHash?: string): Promise<Benchmark> {
    return this.checked('tasks', dir, limit, expectedHash, () => loadBenchmark(dir, { limit })) as Promise<Benchmark>;
  }

  /** A Harbor dataset, or a tasks.jsonl benchmark whose rows become trials (src/harbor/dataset.ts). */
  harbor(dir: string, limit: number | null | undefined, expectedHash?: string): Promise<HarborBenchmark> {
    return this.checked('harbor', dir, limit, expectedHash, () => loadHarborBenchmark(dir, { limit })) as Promise<HarborBenchmark>;
  }

  /** The benchmark as the plan's engine reads it, for what every engine shares (metrics, upload). */
  forPlan(plan: EvalPlan): Promise<Benchmark<TaskInfo & Partial<Pick<Task, 'verifier'>>>> {
    return plan.harbor ? this.harbor(plan.benchmark_path, plan.limit, plan.content_hash) : this.get(plan.benchmark_path, plan.limit, plan.content_hash);
  }

  private async checked(
    kind: string,
    dir: string,
    limit: number | null | undefined,
    expectedHash: string | undefined,
    load: () => Promise<Benchmark<TaskInfo>>,
  ): Promise<Benchmark<TaskInfo>> {
    const key = `${kind}\0${dir}\0${limit ?? ''}`;
    let benchmark = await this.cached(key, load);
    if (expectedHash && benchmark.contentHash !== expectedHash) {
      this.loaded.delete(key);
      benchmark = await this.cached(key, load);
      if (benchmark.contentHash !== expectedHash) {
        throw new BadInputError(
          `benchmark ${dir} changed since this eval started (content hash ${benchmark.contentHash.slice(0, 12)}, expected ${expectedHash.slice(0, 12)})`,
        );
      }
    }
    return benchmark;
  }

  private cached(key: string, load: () => Promise<Benchmark<TaskInfo>>): Promise<Benchmark<TaskInfo>> {
    let entry = this.loaded.get(key);
    if (!entry) {
      entry = load();
      entry.catch(() => this.loaded.delete(key));
      this.loaded.set(key, entry);
      if (this.loaded.size > this.capacity) this.loaded.delete(this.loaded.keys().next().value!);
    }
    return entry;
  }
}
