// A sampler outage as an RL loop's inference server restart makes one: the simulator (the model
// server) is closed mid-eval for `outage` seconds and opened again on the same port. Runs at the
// sampler's DEFAULT retry settings (retry_for_s 600, backoff capped at 30 s): the eval must end
// with n_errored_samples 0 and the metrics of a fault-free run. Prints what progress said while
// the sampler was down, and how hard the dead server was asked (request attempts in the ledger).
// Target (issue 11): a 5-minute outage ridden out by default.
// Run: npx tsx bench/outage.ts [outageS=300] [tasks=200] [samples=2] [concurrency=16]
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { startOrAttachEval } from '../src/client/start-eval';
import { startSimulator, type RunningSimulator } from '../src/simulator/server';
import { freePort } from '../src/temporal/ports';
import { progressQuery } from '../src/workflows/evaluate-benchmark';
import type { EvalProgress } from '../src/workflows/io';
import { startProcessCluster } from '../testkit/process-cluster';
import { loadLine, writeBenchmark } from './common';
import { EvaluateBenchmarkInputSchema } from '../src/workflows/io';

export interface OutageResult {
  erroredSamples: number;
  metricsEqual: boolean;
  saidDown?: EvalProgress['sampler_down'];
  attemptsDuringOutage: number;
  mostAttempts: number;
  wallS: number;
}

export async function runOutage(opts: { outageS: number; tasks: number; samples: number; concurrency: number }): Promise<OutageResult> {
  const { dir, tasks } = await writeBenchmark(opts.tasks, 'evsys-outage-');
  const cluster = await startProcessCluster(dir, 'outage');
  const { client, taskQueue, ledgerFile } = cluster;
  const simPort = await freePort();
  const simulator = (): Promise<RunningSimulator> => startSimulator({ tasks, seed: 3, pCorrect: 0.5, latencyMs: 100, port: simPort });
  let sim = await simulator();
  try {
    await cluster.startWorker();
    const input = (name: string) =>
      EvaluateBenchmarkInputSchema.parse({
        evaluator: { name, benchmark: { path: dir }, num_samples: opts.samples, n_concurrent: opts.concurrency, sampler: { base_url: sim.url, model: 'simulator' } },
      });
    const reference = await (await startOrAttachEval(client, taskQueue, input('reference'), `outage-ref-${Date.now()}`)).result();

    const started = performance.now();
    const handle = await startOrAttachEval(client, taskQueue, input('outage'), `outage-${Date.now()}`);
    for (let p: EvalProgress | undefined; !(p && p.tasks_done >= p.tasks_total / 4 && p.tasks_total > 0); await sleep(50)) {
      p = await handle.query(progressQuery).catch(() => undefined);
    }
    await sim.close();
    const downAt = performance.now();
    let saidDown: EvalProgress['sampler_down'];
    while (performance.now() - downAt < opts.outageS * 1000) {
      saidDown ??= (await handle.query(progressQuery).catch(() => undefined))?.sampler_down;
      await sleep(1_000);
    }
    sim = await simulator();
    const result = await handle.result();
    const rows = new Database(ledgerFile, { readonly: true })
      .prepare('SELECT attempts FROM samples WHERE eval_id = ?')
      .all(handle.workflowId) as { attempts: number }[];
    return {
      erroredSamples: result.metrics.n_errored_samples,
      metricsEqual: JSON.stringify(result.metrics) === JSON.stringify(reference.metrics),
      saidDown,
      attemptsDuringOutage: rows.reduce((sum, r) => sum + r.attempts - 1, 0),
      mostAttempts: Math.max(...rows.map((r) => r.attempts)),
      wallS: (performance.now() - started) / 1000,
    };
  } finally {
    await sim.close();
    await cluster.close();
  }
}

if (require.main === module) {
  const [outageS, tasks, samples, concurrency] = [300, 200, 2, 16].map((d, i) => Number(process.argv[2 + i] ?? d));
  runOutage({ outageS, tasks, samples, concurrency })
    .then((r) => {
      console.log(`command: npx tsx bench/outage.ts ${outageS} ${tasks} ${samples} ${concurrency}`);
      console.log(
        `sampler down ${outageS} s during ${tasks} tasks x ${samples} samples at n_concurrent ${concurrency}, default retry settings: ` +
          `n_errored_samples ${r.erroredSamples}, metrics equal to the fault-free run: ${r.metricsEqual}; ` +
          `progress said ${r.saidDown ? `"sampler ${r.saidDown.url} unreachable (${r.saidDown.cause})"` : 'nothing'}; ` +
          `${r.attemptsDuringOutage} retried requests in all (${(r.attemptsDuringOutage / outageS).toFixed(2)}/s on the dead server), ` +
          `at most ${r.mostAttempts} attempts for one request; eval wall ${r.wallS.toFixed(0)} s`,
      );
      console.log(loadLine());
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
