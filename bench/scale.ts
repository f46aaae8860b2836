// An eval of N generated tasks x 4 samples against the simulator (latency 50 ms), n_concurrent
// 256, on a dev server with its default limits and an in-process worker. Prints wall time,
// tasks/s, peak RSS of this process (worker + client; the simulator runs in its own), and the workflow's runs
// (continue-as-new) with their history lengths.
// Run: npx tsx bench/scale.ts [tasks=1000] [samples=4] [latencyMs=50] [concurrency=256]
// EVSYS_BENCH_SERVER_ARGS passes extra `temporal server start-dev` flags (dynamic config).
import path from 'node:path';
import { startOrAttachEval } from '../src/client/start-eval';
import { SqliteLedger } from '../src/ledger/sqlite-ledger';
import { startDevServer } from '../src/temporal/dev-server';
import { createEvsysWorker } from '../src/worker';
import { EvaluateBenchmarkInputSchema } from '../src/workflows/io';
import { loadLine, peakRssSampler, quietRuntime, writeBenchmark } from './common';
import { startSimulatorProcess } from './simulator-process';

export interface ScaleOptions {
  tasks: number;
  samples: number;
  latencyMs: number;
  concurrency: number;
  serverArgs?: string[];
}

export interface ScaleResult {
  wallS: number;
  limitS: number;
  tasksPerS: number;
  peakRssMiB: number;
  /** History length of each run (continue-as-new), first run first. */
  runs: number[];
  simRequests: number;
  simMaxConcurrency: number;
  nTasks: number;
  errored: number;
}

export async function runScale(opts: ScaleOptions): Promise<ScaleResult> {
  quietRuntime();
  const { dir } = await writeBenchmark(opts.tasks, 'evsys-scale-');
  const [env, sim] = await Promise.all([startDevServer({ extraArgs: opts.serverArgs }), startSimulatorProcess({ benchmarkDir: dir, latencyMs: opts.latencyMs })]);
  const ledger = new SqliteLedger(path.join(dir, 'ledger.sqlite'));
  try {
    const worker = await createEvsysWorker({ connection: env.nativeConnection, taskQueue: 'scale', ledger });
    const peak = peakRssSampler();
    const input = EvaluateBenchmarkInputSchema.parse({
      evaluator: {
        name: 'scale',
        benchmark: { path: dir },
        num_samples: opts.samples,
        n_concurrent: opts.concurrency,
        run_id: 'bench',
        sampler: { base_url: sim.url, model: 'simulator', timeout_s: 60 },
      },
    });
    const started = performance.now();
    const result = await worker.runUntil(async () => (await startOrAttachEval(env.client, 'scale', input)).result());
    const wallS = (performance.now() - started) / 1000;
    const peakRss = peak();

    const simStats = await sim.stats();
    const runs: number[] = [];
    for await (const run of env.client.workflow.list({ query: `WorkflowId = '${result.eval_id}'` })) runs.push(run.historyLength);
    return {
      wallS,
      limitS: (opts.tasks * opts.samples * opts.latencyMs) / 1000 / opts.concurrency,
      tasksPerS: opts.tasks / wallS,
      peakRssMiB: peakRss / 2 ** 20,
      runs: runs.reverse(),
      simRequests: simStats.requests,
      simMaxConcurrency: simStats.maxConcurrency,
      nTasks: result.metrics.n_tasks,
      errored: result.metrics.n_errored_samples,
    };
  } finally {
    await ledger.close();
    await sim.close();
    await env.teardown();
  }
}

if (require.main === module) {
  const [tasks, samples, latencyMs, concurrency] = [1000, 4, 50, 256].map((d, i) => Number(process.argv[2 + i] ?? d));
  const serverArgs = (process.env.EVSYS_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  runScale({ tasks, samples, latencyMs, concurrency, serverArgs })
    .then((r) => {
      console.log(`command: npx tsx bench/scale.ts ${tasks} ${samples} ${latencyMs} ${concurrency}`);
      console.log(
        `${tasks} tasks x ${samples} samples, latency ${latencyMs} ms, n_concurrent ${concurrency}: wall ${r.wallS.toFixed(1)} s ` +
          `(limit ${r.limitS.toFixed(1)} s, efficiency ${(r.limitS / r.wallS).toFixed(2)}), ${r.tasksPerS.toFixed(1)} tasks/s, ` +
          `peak RSS ${r.peakRssMiB.toFixed(0)} MiB (worker + client in one process, simulator apart)`,
      );
      console.log(`runs (continue-as-new): ${r.runs.length}; events per run: ${r.runs.join(', ')}`);
      console.log(`simulator: ${r.simRequests} requests, max concurrency ${r.simMaxConcurrency}; n_tasks ${r.nTasks}, errored ${r.errored}`);
      console.log(loadLine());
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
