// An eval of N generated tasks x 4 samples against the simulator (latency 50 ms), n_concurrent
// 256, on a dev server with its default limits and an in-process worker. Prints wall time,
// tasks/s, peak RSS of this process (worker + simulator + client), and the workflow's runs
// (continue-as-new) with their history lengths.
// Run: npx tsx bench/scale.ts [tasks=1000] [samples=4] [latencyMs=50] [concurrency=256]
// EVSYS_BENCH_SERVER_ARGS passes extra `temporal server start-dev` flags (dynamic config).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadBenchmark } from '../src/benchmark/load';
import { startOrAttachEval } from '../src/client/start-eval';
import { SqliteLedger } from '../src/ledger/sqlite-ledger';
import { startSimulator } from '../src/simulator/server';
import { startDevServer } from '../src/temporal/dev-server';
import { createEvsysWorker } from '../src/worker';
import { EvaluateBenchmarkInputSchema } from '../src/workflows/io';

const [nTasks, nSamples, latencyMs, concurrency] = [1000, 4, 50, 256].map((d, i) => Number(process.argv[2 + i] ?? d));

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'evsys-scale-'));
  const rows = Array.from({ length: nTasks }, (_, i) =>
    JSON.stringify({
      task_id: `t${i}`,
      instruction: `Task ${i}: what is ${i} + 1?`,
      verifier: { kind: 'in_process', fn_name: 'exact_match', expected: String(i + 1) },
      metadata: { bucket: i % 10 },
    }),
  );
  writeFileSync(path.join(dir, 'tasks.jsonl'), `${rows.join('\n')}\n`);
  const { tasks } = await loadBenchmark(dir);
  const [env, sim] = await Promise.all([startDevServer({ extraArgs: (process.env.EVSYS_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean) }), startSimulator({ tasks, seed: 1, pCorrect: 0.5, latencyMs })]);
  const ledger = new SqliteLedger(path.join(dir, 'ledger.sqlite'));
  const worker = await createEvsysWorker({ connection: env.nativeConnection, taskQueue: 'scale', ledger });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const input = EvaluateBenchmarkInputSchema.parse({
    evaluator: {
      name: 'scale',
      benchmark: { path: dir },
      num_samples: nSamples,
      n_concurrent: concurrency,
      run_id: 'bench',
      sampler: { base_url: sim.url, model: 'simulator', timeout_s: 60 },
    },
  });
  const started = performance.now();
  const result = await worker.runUntil(async () => (await startOrAttachEval(env.client, 'scale', input)).result());
  const wallS = (performance.now() - started) / 1000;
  clearInterval(sampler);

  const runs: number[] = [];
  for await (const run of env.client.workflow.list({ query: `WorkflowId = '${result.eval_id}'` })) runs.push(run.historyLength);
  const limitS = (nTasks * nSamples * latencyMs) / 1000 / concurrency;
  console.log(`command: npx tsx bench/scale.ts ${nTasks} ${nSamples} ${latencyMs} ${concurrency}`);
  console.log(
    `${nTasks} tasks x ${nSamples} samples, latency ${latencyMs} ms, n_concurrent ${concurrency}: wall ${wallS.toFixed(1)} s ` +
      `(limit ${limitS.toFixed(1)} s, efficiency ${(limitS / wallS).toFixed(2)}), ${(nTasks / wallS).toFixed(1)} tasks/s, ` +
      `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (worker + simulator + client in one process)`,
  );
  console.log(`runs (continue-as-new): ${runs.length}; events per run: ${runs.reverse().join(', ')}`);
  console.log(`simulator: ${sim.stats().requests} requests, max concurrency ${sim.stats().maxConcurrency}; n_tasks ${result.metrics.n_tasks}, errored ${result.metrics.n_errored_samples}`);
  await ledger.close();
  await sim.close();
  await env.teardown();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
