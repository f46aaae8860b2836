import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import type { Task } from '../../src/benchmark/task';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server';
import { startTemporalFixture, type TemporalFixture } from './temporal';

export const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'arithmetic');

type SimulatorDefaults = Pick<SimulatorOptions, 'seed' | 'pCorrect' | 'latencyMs'>;

/**
 * The setup of the workflow test files: a dev server with a worker, the example benchmark's
 * tasks, and simulators of it that are closed when the file ends. Call at the top of a file;
 * `current()` is valid from the file's next beforeAll on.
 */
export function useExampleFixture(defaults: SimulatorDefaults) {
  let temporal: TemporalFixture | undefined;
  let tasks: Task[] = [];
  const simulators = new Set<RunningSimulator>();

  beforeAll(async () => {
    [temporal, { tasks }] = await Promise.all([startTemporalFixture(), loadBenchmark(EXAMPLE)]);
  });

  afterAll(async () => {
    await Promise.all([...simulators].map((s) => s.close()));
    await temporal?.teardown();
  });

  return {
    current: () => ({ temporal: temporal!, tasks }),
    /** A simulator of the example (or of `opts.tasks`), closed at the end unless closed before. */
    async simulator(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
      const sim = await startSimulator({ tasks, ...defaults, ...opts });
      simulators.add(sim);
      const close = sim.close.bind(sim);
      sim.close = async () => {
        simulators.delete(sim);
        await close();
      };
      return sim;
    },
  };
}
