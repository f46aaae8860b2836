import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadBenchmark } from '../benchmark/load';
import type { EvaluatorFileEntry, SamplerConfig } from '../config/evaluator';
import { SqliteLedger } from '../ledger/sqlite-ledger';
import { startSimulator, type RunningSimulator } from '../simulator/server';
import { startEmbeddedServer, type EmbeddedServer } from '../temporal/embedded-server';
import { createEvsysWorker, DEFAULT_LEDGER_FILE, DEFAULT_TASK_QUEUE } from '../worker';
import type { evaluateBenchmark } from '../workflows';
import { progressQuery } from '../workflows/evaluate-benchmark';
import { EvaluateBenchmarkInputSchema, type EvalProgress, type EvaluateBenchmarkResult } from '../workflows/io';

export interface RunEvalOptions {
  step: number;
  modelPath?: string;
  onProgress?: (progress: EvalProgress) => void;
  /** Told where the embedded server is, so a person can open its UI. */
  onServer?: (server: EmbeddedServer) => void;
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
  const stop = new AbortController();
  // One query at a time, and none left in flight once the result is in: the connection closes next.
  const poll = async () => {
    while (!stop.signal.aborted) {
      await handle.query(progressQuery).then(onProgress, () => {});
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => {});
    }
  };
  const poller = poll();
  try {
    return await handle.result();
  } finally {
    stop.abort();
    await poller;
  }
}

/**
 * Runs one evaluator entry as an evaluateBenchmark workflow. With TEMPORAL_ADDRESS it uses that
 * server and its workers; without, it starts an embedded dev server (histories kept in
 * .evsys/temporal.sqlite, its log in .evsys/temporal.log, UI on 127.0.0.1:8233) and an
 * in-process worker.
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
  let server: EmbeddedServer | undefined;
  try {
    if (env.TEMPORAL_ADDRESS) {
      const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
      try {
        const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' });
        const handle = await client.workflow.start('evaluateBenchmark', { taskQueue, workflowId, args: [input] });
        return await followProgress(handle as WorkflowHandle<typeof evaluateBenchmark>, opts.onProgress);
      } finally {
        await connection.close();
      }
    }
    server = await startEmbeddedServer({
      dbFile: path.resolve('.evsys', 'temporal.sqlite'),
      logFile: path.resolve('.evsys', 'temporal.log'),
      port: EMBEDDED_TEMPORAL_PORT,
      uiPort: EMBEDDED_UI_PORT,
    });
    opts.onServer?.(server);
    const [connection, workerConnection] = await Promise.all([
      Connection.connect({ address: server.address }),
      NativeConnection.connect({ address: server.address }),
    ]);
    const ledger = new SqliteLedger(path.resolve(env.EVSYS_LEDGER ?? DEFAULT_LEDGER_FILE));
    try {
      const worker = await createEvsysWorker({ connection: workerConnection, taskQueue, ledger, env });
      const client = new Client({ connection });
      return await worker.runUntil(async () => {
        const handle = await client.workflow.start('evaluateBenchmark', { taskQueue, workflowId, args: [input] });
        return followProgress(handle as WorkflowHandle<typeof evaluateBenchmark>, opts.onProgress);
      });
    } finally {
      await ledger.close();
      await Promise.all([connection.close(), workerConnection.close()]);
    }
  } finally {
    await server?.stop();
    await simulator?.close();
  }
}
