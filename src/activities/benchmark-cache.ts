import { BadInputError } from '../errors';
import { loadBenchmark, type Benchmark } from '../benchmark/load';

/**
 * Benchmarks a worker has read, so 20,000 task activities do not parse tasks.jsonl 20,000
 * times. The content hash the workflow saw at the start must still match: an edited benchmark
 * mid-eval is an error, never a silent mix of two versions.
 */
export class BenchmarkCache {
  private readonly loaded = new Map<string, Promise<Benchmark>>();

  constructor(private readonly capacity = 4) {}

  async get(dir: string, limit: number | null | undefined, expectedHash?: string): Promise<Benchmark> {
    const key = `${dir}\0${limit ?? ''}`;
    let benchmark = await this.cached(key, dir, limit);
    if (expectedHash && benchmark.contentHash !== expectedHash) {
      this.loaded.delete(key);
      benchmark = await this.cached(key, dir, limit);
      if (benchmark.contentHash !== expectedHash) {
        throw new BadInputError(
          `benchmark ${dir} changed since this eval started (content hash ${benchmark.contentHash.slice(0, 12)}, expected ${expectedHash.slice(0, 12)})`,
        );
      }
    }
    return benchmark;
  }

  private cached(key: string, dir: string, limit: number | null | undefined): Promise<Benchmark> {
    let entry = this.loaded.get(key);
    if (!entry) {
      entry = loadBenchmark(dir, { limit });
      entry.catch(() => this.loaded.delete(key));
      this.loaded.set(key, entry);
      if (this.loaded.size > this.capacity) this.loaded.delete(this.loaded.keys().next().value!);
    }
    return entry;
  }
}
