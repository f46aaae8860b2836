import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadBenchmark } from '../benchmark/load';
import type { EvaluatorFileEntry, SamplerConfig } from '../config/evaluator';
import { SqliteLedger } from '../ledger/sqlite-ledger';
import { startSimulator, type RunningSimulator } from '../simulator/server';
import { startDevServer } from '../temporal/dev-server';
import { createEvsysWorker, DEFAULT_LEDGER_FILE, DEFAULT_TASK_QUEUE } from '../worker';
import type { evaluateBenchmark } from '../workflows';
import { progressQuery } from '../workflows/evaluate-benchmark';
import { EvaluateBenchmarkInputSchema, type EvalProgress, type EvaluateBenchmarkResult } from '../workflows/io';

export interface RunEvalOptions {
  step: number;
  modelPath?: string;
  onProgress?: (progress: EvalProgress) => void;
  env?: NodeJS.ProcessEnv;
}

const EMBEDDED_TEMPORAL_PORT = 7233;
const EMBEDDED_UI_PORT = 8233;

/** Starts the bundled simulator when the entry names it, and points the sampler at it. */
async function resolveSampler(entry: EvaluatorFileEntry): Promise<{ sampler: SamplerConfig; simulator?: RunningSimulator }> {
  if (!('simulator' in entry.sampler)) return { sampler: entry.sampler };
  if (!('path' in entry.benchmark)) throw new Error('the simulator needs benchmark.path to know the tasks');
  const benchmark = await loadBenchmark(entry.benchmark.path, { limit: entry.limit });
  const { p_correct, seed, latency_ms } = entry.sampler.simulator;
  const simulator = await startSimulator({ tasks: benchmark.tasks, pCorrect: p_correct, seed, latencyMs: latency_ms });
  return {
    sampler: { base_url: simulator.url, model: entry.sampler.model, timeout_s: 30, max_retries: 5 },
    simulator,
  };
}

async function followProgress(
  handle: WorkflowHandle<typeof evaluateBenchmark>,
  onProgress: ((p: EvalProgress) => void) | undefined,
): Promise<EvaluateBenchmarkResult> {
  if (!onProgress) return handle.result();
  const timer = setInterval(() => {
    handle.query(progressQuery).then(onProgress, () => {});
  }, 1000);
  try {
    return await handle.result();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Runs one evaluator entry as an evaluateBenchmark workflow. With TEMPORAL_ADDRESS it uses that
 * server and its workers; without, it starts an embedded dev server (histories kept in
 * .evsys/temporal.sqlite, UI on 127.0.0.1:8233) and an in-process worker.
 */
export async function runEval(entry: EvaluatorFileEntry, opts: RunEvalOptions): Promise<EvaluateBenchmarkResult> {
  const env = opts.env ?? process.env;
  const { sampler, simulator } = await resolveSampler(entry);
  const input = EvaluateBenchmarkInputSchema.parse({
    evaluator: { ...entry, sampler },
    step: opts.step,
    model_path: opts.modelPath,
  });
  const workflowId = `evsys-${entry.name}-step${opts.step}-${Date.now().toString(36)}`;
  const taskQueue = env.EVSYS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  let server: TestWorkflowEnvironment | undefined;
  try {
    if (env.TEMPORAL_ADDRESS) {
      const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
      const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' });
      const handle = await client.workflow.start('evaluateBenchmark', { taskQueue, workflowId, args: [input] });
      try {
        return await followProgress(handle as WorkflowHandle<typeof evaluateBenchmark>, opts.onProgress);
      } finally {
        await connection.close();
      }
    }
    server = await startDevServer({
      dbFile: path.resolve('.evsys', 'temporal.sqlite'),
      port: EMBEDDED_TEMPORAL_PORT,
      uiPort: EMBEDDED_UI_PORT,
    });
    const ledger = new SqliteLedger(path.resolve(env.EVSYS_LEDGER ?? DEFAULT_LEDGER_FILE));
    try {
      const worker = await createEvsysWorker({ connection: server.nativeConnection, taskQueue, ledger, env });
      const client = server.client;
      return await worker.runUntil(async () => {
        const handle = await client.workflow.start('evaluateBenchmark', { taskQueue, workflowId, args: [input] });
        return followProgress(handle as WorkflowHandle<typeof evaluateBenchmark>, opts.onProgress);
      });
    } finally {
      await ledger.close();
    }
  } finally {
    await server?.teardown();
    await simulator?.close();
  }
}
