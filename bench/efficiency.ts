// Efficiency and durability overhead: N generated tasks x S samples against the simulator with a
// fixed latency, on an embedded dev server with an in-process worker, at each n_concurrent given.
// Limit = tasks x samples x latency / n_concurrent: a task's samples run in parallel inside its
// activity when slots allow (the workflow grants min(samples, free slots)), so every slot can stay
// busy and the plain formula holds. Efficiency = limit / wall.
// Then the same workload through a plain in-process runner (bench/common.ts runPlain: a promise
// pool of n_concurrent over the same prompt builder, SamplerClient, splitThinking and verify; no
// Temporal, no ledger): overhead = evsys wall / plain wall. Targets: efficiency as high as it
// goes; overhead <= 1.10 at n_concurrent 64. Runs one after the other, never at once.
// Run: npx tsx bench/efficiency.ts [tasks=2000] [samples=4] [latencyMs=200] [concurrency=8,64,256] [--no-plain] [--fast-server]
// --fast-server answers with bench/fast-model-server.ts (a minimal node:http server) instead of
// evsys's simulator, so the model server's own CPU per request is as small as it gets.
// A concurrency given twice (64,64,64) repeats the eval (and the plain pool) in the same rig.
// EVSYS_BENCH_SERVER_ARGS passes extra `temporal server start-dev` flags, e.g.
// '--dynamic-config-value limit.historyCount.suggestContinueAsNew=100000' to hold off continue-as-new.
import path from 'node:path';
import type { DevServer } from '../testkit/dev-server';
import type { Worker } from '@temporalio/worker';
import type { Task } from '../src/benchmark/task';
import { startOrAttachEval } from '../src/client/start-eval';
import { SqliteLedger } from '../src/ledger/sqlite-ledger';
import { startDevServer } from '../testkit/dev-server';
import { quietRuntime } from '../testkit/quiet-runtime';
import { createEvsysWorker, EAGER_ALL } from '../src/worker';
import { benchServerArgs, breakdown, formatHistorySummary, historySummary, childCpuDelta, cpuSeconds, evalInput, formatBreakdown, loadLine, peakRssSampler, recordRequests, runPlain, writeBenchmark, type HistorySummary, type TimeBreakdown } from './common';
import { startFastModelServer } from './fast-model-server';
import { startSimulatorProcess, type ModelServerProcess } from '../testkit/simulator-process';

export interface EfficiencyOptions {
  tasks: number;
  samples: number;
  latencyMs: number;
  concurrencies: number[];
  /** Also run the plain in-process runner for the overhead ratio. */
  plain: boolean;
  /** The model server: evsys's simulator (default) or bench/fast-model-server.ts. */
  server?: 'simulator' | 'fast';
  /** Called with each result's printed line as soon as it is measured. */
  log?: (line: string) => void;
}

export interface EfficiencyResult {
  concurrency: number;
  limitS: number;
  wallS: number;
  efficiency: number;
  tasksPerS: number;
  peakRssMiB: number;
  maxSimConcurrency: number;
  nTasks: number;
  errored: number;
  evsys: TimeBreakdown;
  cpu: { nodeS: number; serverS: number; simulatorS: number };
  history: HistorySummary;
  plain?: { wallS: number; efficiency: number; overhead: number; breakdown: TimeBreakdown; cpuS: number };
}

/** A dev server, simulator and in-process worker shared by several evals (and by bench/peer-inspect.ts). */
export interface EvsysRig {
  env: DevServer;
  sim: ModelServerProcess;
  worker: Worker;
  dir: string;
  tasks: Task[];
  close(): Promise<void>;
}

export async function startRig(opts: { tasks: number; latencyMs: number; server?: 'simulator' | 'fast' }): Promise<EvsysRig> {
  quietRuntime();
  const { dir, tasks } = await writeBenchmark(opts.tasks, 'evsys-efficiency-');
  const env = await startDevServer({ extraArgs: benchServerArgs() });
  const sim = opts.server === 'fast' ? await startFastModelServer(opts.latencyMs) : await startSimulatorProcess({ benchmarkDir: dir, latencyMs: opts.latencyMs });
  const ledger = new SqliteLedger(path.join(dir, 'ledger.sqlite'));
  // As the CLI's embedded worker runs: alone on its server, taking its workflow's activities eagerly.
  const worker = await createEvsysWorker({ connection: env.nativeConnection, taskQueue: 'efficiency', ledger, eagerActivities: EAGER_ALL });
  const running = worker.run();
  return {
    env,
    sim,
    worker,
    dir,
    tasks,
    async close() {
      worker.shutdown();
      await running;
      await ledger.close();
      await sim.close();
      await env.teardown();
    },
  };
}

/** One eval through evsys on the rig; a fresh workflow id (no run_id) and so a fresh ledger key each time. */
export async function runEvsys(rig: EvsysRig, samples: number, concurrency: number, latencyMs: number) {
  const input = evalInput({ name: `eff-c${concurrency}`, dir: rig.dir, samples, concurrency, simUrl: rig.sim.url });
  await rig.sim.resetStats();
  const recorder = recordRequests(rig.sim.url);
  const peak = peakRssSampler();
  const cpu0 = cpuSeconds();
  const started = performance.now();
  try {
    const result = await (await startOrAttachEval(rig.env.client, 'efficiency', input)).result();
    const ended = performance.now();
    const cpu1 = cpuSeconds();
    return {
      /** CPU seconds of this process (worker, simulator, client) and of the dev server child during the eval. */
      cpu: {
        nodeS: cpu1.self - cpu0.self,
        serverS: childCpuDelta(cpu0.children, cpu1.children, { except: rig.sim.pid }),
        simulatorS: childCpuDelta(cpu0.children, cpu1.children, { pid: rig.sim.pid }),
      },
      wallS: (ended - started) / 1000,
      peakRssMiB: peak() / 2 ** 20,
      result,
      maxSimConcurrency: (await rig.sim.stats()).maxConcurrency,
      breakdown: breakdown(recorder.records, started, ended, latencyMs, concurrency),
      history: await historySummary(rig.env.client, result.eval_id),
    };
  } finally {
    peak();
    recorder.restore();
  }
}

export async function runEfficiency(opts: EfficiencyOptions): Promise<EfficiencyResult[]> {
  const rig = await startRig(opts);
  const perTask = (cpuS: number) => ((1000 * cpuS) / opts.tasks).toFixed(1);
  const results: EfficiencyResult[] = [];
  try {
    for (const concurrency of opts.concurrencies) {
      const limitS = (opts.tasks * opts.samples * opts.latencyMs) / 1000 / concurrency;
      const run = await runEvsys(rig, opts.samples, concurrency, opts.latencyMs);
      const r: EfficiencyResult = {
        concurrency,
        limitS,
        wallS: run.wallS,
        efficiency: limitS / run.wallS,
        tasksPerS: opts.tasks / run.wallS,
        peakRssMiB: run.peakRssMiB,
        maxSimConcurrency: run.maxSimConcurrency,
        nTasks: run.result.metrics.n_tasks,
        errored: run.result.metrics.n_errored_samples,
        evsys: run.breakdown,
        cpu: run.cpu,
        history: run.history,
      };
      opts.log?.(
        `evsys  n_concurrent ${concurrency}: wall ${r.wallS.toFixed(1)} s (limit ${limitS.toFixed(1)} s, efficiency ${r.efficiency.toFixed(2)}), ` +
          `${r.tasksPerS.toFixed(1)} tasks/s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, simulator max concurrency ${r.maxSimConcurrency}, ` +
          `n_tasks ${r.nTasks}, errored ${r.errored}, ` +
          `CPU a task: ${perTask(r.cpu.nodeS)} ms this process (worker, client) + ${perTask(r.cpu.serverS)} ms dev server = ${perTask(r.cpu.nodeS + r.cpu.serverS)} ms, ` +
          `+ ${perTask(r.cpu.simulatorS)} ms model server; ${loadLine()}\n  ${formatHistorySummary(r.history)}\n  where the time goes: ${formatBreakdown(r.evsys)}`,
      );
      if (opts.plain) {
        const input = evalInput({ name: 'plain', dir: rig.dir, samples: opts.samples, concurrency, simUrl: rig.sim.url });
        const recorder = recordRequests(rig.sim.url);
        const cpu0 = cpuSeconds().self;
        const t0 = performance.now();
        const plain = await runPlain(input, rig.tasks);
        const cpuS = cpuSeconds().self - cpu0;
        const b = breakdown(recorder.records, t0, performance.now(), opts.latencyMs, concurrency);
        recorder.restore();
        r.plain = { wallS: plain.wallS, efficiency: limitS / plain.wallS, overhead: r.wallS / plain.wallS, breakdown: b, cpuS };
        opts.log?.(
          `plain  n_concurrent ${concurrency}: wall ${plain.wallS.toFixed(1)} s (efficiency ${r.plain.efficiency.toFixed(2)}), CPU a task ${perTask(cpuS)} ms; ` +
            `durability overhead evsys/plain ${r.plain.overhead.toFixed(2)}; ${loadLine()}\n  where the time goes: ${formatBreakdown(b)}`,
        );
      }
      results.push(r);
    }
  } finally {
    await rig.close();
  }
  return results;
}

if (require.main === module) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const plain = !process.argv.includes('--no-plain');
  const server = process.argv.includes('--fast-server') ? 'fast' : 'simulator';
  const [tasks, samples, latencyMs] = [2000, 4, 200].map((d, i) => Number(args[i] ?? d));
  const concurrencies = (args[3] ?? '8,64,256').split(',').map(Number);
  console.log(`command: npx tsx bench/efficiency.ts ${tasks} ${samples} ${latencyMs} ${concurrencies.join(',')}${plain ? '' : ' --no-plain'}${server === 'fast' ? ' --fast-server' : ''}`);
  console.log(`${tasks} tasks x ${samples} samples, latency ${latencyMs} ms; limit = tasks x samples x latency / n_concurrent; ${loadLine()}`);
  runEfficiency({ tasks, samples, latencyMs, concurrencies, plain, server, log: (line) => console.log(line) })
    .then(() => console.log(loadLine()))
    .catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
