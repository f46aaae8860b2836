// An eval of N generated tasks x 4 samples against the simulator (latency 50 ms), n_concurrent
// 256, laid out as in production: the dev server (default limits, in memory), the simulator and
// `evsys worker` each in a process of their own, this process only the client. Prints wall time,
// tasks/s, the worker process's peak RSS (VmHWM, the kernel's own high-water mark), and the
// workflow's runs (continue-as-new) with their history lengths. `evsys worker` runs the worker as a
// child with a heap cap (bin/evsys.js): its peak is the child's, the launcher's is printed beside.
// Run: npx tsx bench/scale.ts [tasks=1000] [samples=4] [latencyMs=50] [concurrency=256]
// EVSYS_BENCH_SERVER_ARGS passes extra `temporal server start-dev` flags (dynamic config);
// EVSYS_BENCH_WORKER_NODE_OPTIONS sets the worker's NODE_OPTIONS (e.g. a heap cap).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startOrAttachEval } from '../src/client/start-eval';
import { startDevServer } from '../testkit/dev-server';
import { EvaluateBenchmarkInputSchema } from '../src/workflows/io';
import { startWorkerProcess } from '../testkit/processes';
import { benchServerArgs, loadLine, writeBenchmark } from './common';
import { startSimulatorProcess } from '../testkit/simulator-process';

export interface ScaleOptions {
  tasks: number;
  samples: number;
  latencyMs: number;
  concurrency: number;
  serverArgs?: string[];
  workerNodeOptions?: string;
}

export interface ScaleResult {
  wallS: number;
  limitS: number;
  tasksPerS: number;
  workerPeakRssMiB: number;
  /** The `evsys worker` process that started the capped worker as its child (bin/evsys.js); 0 without one. */
  launcherPeakRssMiB: number;
  /** When the sampled RSS (every 500 ms) peaked, seconds from the eval's start. */
  peakSampledAtS: number;
  /** The sampled RSS's peak in the eval's last 10 s (aggregation, upload). */
  lastTenSecondsPeakMiB: number;
  /** The sampled RSS's peak up to a quarter, half, three quarters and all of the eval. */
  rssByQuarterMiB: number[];
  /** History length of each run (continue-as-new), first run first. */
  runs: number[];
  simRequests: number;
  simMaxConcurrency: number;
  nTasks: number;
  errored: number;
}

/** A figure of a process's /proc status (VmHWM: the kernel's record of its peak resident memory; VmRSS: now), in MiB. */
function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** The worker's resident memory every 500 ms, to say when it peaked (scoring, or aggregation at the end). */
function rssTrace(pid: number): () => Array<{ atS: number; rssMiB: number }> {
  const started = performance.now();
  const trace: Array<{ atS: number; rssMiB: number }> = [];
  const timer = setInterval(() => trace.push({ atS: (performance.now() - started) / 1000, rssMiB: statusMiB(pid, 'VmRSS') }), 500);
  return () => {
    clearInterval(timer);
    return trace;
  };
}

export async function runScale(opts: ScaleOptions): Promise<ScaleResult> {
  const { dir } = await writeBenchmark(opts.tasks, 'evsys-scale-');
  const [env, sim] = await Promise.all([startDevServer({ extraArgs: opts.serverArgs }), startSimulatorProcess({ benchmarkDir: dir, latencyMs: opts.latencyMs })]);
  const worker = await startWorkerProcess({
    address: env.address,
    taskQueue: 'scale',
    ledgerFile: path.join(dir, 'ledger.sqlite'),
    logFile: path.join(dir, 'worker.log'),
    env: opts.workerNodeOptions ? { NODE_OPTIONS: opts.workerNodeOptions } : {},
  });
  try {
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
    const workerPid = worker.pid;
    const stopTrace = rssTrace(workerPid);
    const result = await (await startOrAttachEval(env.client, 'scale', input)).result();
    const wallS = (performance.now() - started) / 1000;
    const trace = stopTrace();
    const workerPeakRssMiB = statusMiB(workerPid, 'VmHWM');
    const launcherPeakRssMiB = workerPid === worker.launcherPid ? 0 : statusMiB(worker.launcherPid, 'VmHWM');
    const peakAt = trace.reduce((best, t) => (t.rssMiB > best.rssMiB ? t : best), { atS: NaN, rssMiB: 0 });

    const simStats = await sim.stats();
    const runs: number[] = [];
    for await (const run of env.client.workflow.list({ query: `WorkflowId = '${result.eval_id}'` })) runs.push(run.historyLength);
    return {
      wallS,
      limitS: (opts.tasks * opts.samples * opts.latencyMs) / 1000 / opts.concurrency,
      tasksPerS: opts.tasks / wallS,
      workerPeakRssMiB,
      launcherPeakRssMiB,
      peakSampledAtS: peakAt.atS,
      lastTenSecondsPeakMiB: Math.max(...trace.filter((t) => t.atS > wallS - 10).map((t) => t.rssMiB)),
      rssByQuarterMiB: [0.25, 0.5, 0.75, 1].map((q) => Math.max(0, ...trace.filter((t) => t.atS <= q * wallS).map((t) => t.rssMiB))),
      runs: runs.reverse(),
      simRequests: simStats.requests,
      simMaxConcurrency: simStats.maxConcurrency,
      nTasks: result.metrics.n_tasks,
      errored: result.metrics.n_errored_samples,
    };
  } finally {
    await worker.stop();
    await sim.close();
    await env.teardown();
  }
}

if (require.main === module) {
  const [tasks, samples, latencyMs, concurrency] = [1000, 4, 50, 256].map((d, i) => Number(process.argv[2 + i] ?? d));
  const serverArgs = benchServerArgs();
  const workerNodeOptions = process.env.EVSYS_BENCH_WORKER_NODE_OPTIONS;
  runScale({ tasks, samples, latencyMs, concurrency, serverArgs, workerNodeOptions })
    .then((r) => {
      console.log(loadLine());
      console.log(`command: ${workerNodeOptions ? `EVSYS_BENCH_WORKER_NODE_OPTIONS='${workerNodeOptions}' ` : ''}npx tsx bench/scale.ts ${tasks} ${samples} ${latencyMs} ${concurrency}`);
      console.log(
        `${tasks} tasks x ${samples} samples, latency ${latencyMs} ms, n_concurrent ${concurrency}: wall ${r.wallS.toFixed(1)} s ` +
          `(limit ${r.limitS.toFixed(1)} s, efficiency ${(r.limitS / r.wallS).toFixed(2)}), ${r.tasksPerS.toFixed(1)} tasks/s, ` +
          `worker process peak RSS ${r.workerPeakRssMiB.toFixed(0)} MiB (target < 500; sampled peak at ${r.peakSampledAtS.toFixed(0)} s, ${r.lastTenSecondsPeakMiB.toFixed(0)} MiB in the last 10 s; peak by each quarter of the eval ${r.rssByQuarterMiB.map((m) => m.toFixed(0)).join(' / ')} MiB)` +
          (r.launcherPeakRssMiB ? `; its launcher (bin/evsys.js, which gives it the heap cap) ${r.launcherPeakRssMiB.toFixed(0)} MiB, ${(r.workerPeakRssMiB + r.launcherPeakRssMiB).toFixed(0)} MiB together` : ''),
      );
      console.log(`runs (continue-as-new): ${r.runs.length}; events per run: ${r.runs.join(', ')}`);
      console.log(`simulator: ${r.simRequests} requests, max concurrency ${r.simMaxConcurrency}; n_tasks ${r.nTasks}, errored ${r.errored}`);
      console.log(loadLine());
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
