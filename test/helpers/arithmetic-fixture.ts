import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { startTemporalFixture, tempDir, type TemporalFixture } from './temporal';

/**
 * The setup of a workflow test file on a generated benchmark it may edit: N arithmetic tasks in a
 * temp folder of their own, a dev server with a worker, and a simulator of the tasks, closed when
 * the file ends. Call at the top of a file; `current()` is valid from the file's next beforeAll on.
 */
export function useArithmeticFixture(nTasks: number, sim: Pick<SimulatorOptions, 'seed' | 'pCorrect' | 'latencyMs'>) {
  let temporal: TemporalFixture | undefined;
  let simulator: RunningSimulator | undefined;
  const dir = path.join(tempDir(), 'bench');

  beforeAll(async () => {
    const tasks = await writeArithmeticBenchmark(dir, nTasks);
    [temporal, simulator] = await Promise.all([startTemporalFixture(), startSimulator({ tasks, ...sim })]);
  });

  afterAll(async () => {
    await simulator?.close();
    await temporal?.teardown();
  });

  return { dir, current: () => ({ temporal: temporal!, simulator: simulator! }) };
}
