import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBenchmark } from '../benchmark/load';
import { loadHarborBenchmark } from '../harbor/dataset';
import { startSimulator } from '../simulator/server';

export interface SimulateFlags {
  benchmark: string;
  limit?: number;
  /** The address to listen on; another machine's workers need one other than 127.0.0.1. */
  host: string;
  port: number;
  pCorrect: number;
  seed: number;
  latencyMs: number;
  rate429?: number;
  retryAfterS?: number;
  rate500?: number;
  rateHang?: number;
  rateMalformed?: number;
  rateReset?: number;
}

/** Flags not given keep the simulator's defaults instead of overriding them with undefined. */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `evsys simulate`: serve the simulator until SIGINT/SIGTERM, printing its stats on exit. */
export async function runSimulator(flags: SimulateFlags): Promise<void> {
  // Either kind of benchmark folder: tasks.jsonl, or a Harbor dataset of task folders.
  const load = existsSync(path.join(flags.benchmark, 'tasks.jsonl')) ? loadBenchmark : loadHarborBenchmark;
  const { tasks } = await load(flags.benchmark, { limit: flags.limit });
  const { rate429, retryAfterS, rate500, rateHang, rateMalformed, rateReset } = flags;
  const simulator = await startSimulator({
    tasks,
    host: flags.host,
    port: flags.port,
    pCorrect: flags.pCorrect,
    seed: flags.seed,
    latencyMs: flags.latencyMs,
    faults: definedOnly({ rate429, retryAfterS, rate500, rateHang, rateMalformed, rateReset }),
  });
  console.error(`evsys simulator (a simulated model, not a real one) for ${tasks.length} tasks at ${simulator.url}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.error(JSON.stringify(simulator.stats()));
  await simulator.close();
}
