// The production path's efficiency, as a team runs evsys: a Temporal server evsys did not start
// or tune (`temporal server start-dev` with no flags, or the self-hosted go.temporal.io/server on
// PostgreSQL that testkit/temporal-server.ts runs), `evsys worker` processes, the CLI as the
// client (`evsys eval --json` with TEMPORAL_ADDRESS) and the fast model server
// (bench/fast-model-server.ts). Each eval is run `evals` times on the same workers, so the later
// ones meet a warm worker; then a plain keep-alive promise pool does the same requests in this
// process (bench/common.ts runPlain) for the ratio.
// Efficiency = limit / the eval's own duration (its history's first to last event: what the
// workers and the server cost, without the CLI process's start); the CLI's wall is printed beside.
// EVSYS_BENCH_WORKER_NODE_ARGS gives the workers' node flags, space-separated (a heap cap, --cpu-prof).
// EVSYS_BENCH_SERVER_CONFIG gives the server dynamic config an operator might set, space-separated
// key=value pairs (JSON values), for either server: `history.transferProcessorMaxPollRPS=200`.
// The figures without it are the untuned server's.
// Run: npx tsx bench/fleet.ts [tasks=2000] [samples=1] [latencyMs=200] [concurrency=64] [workers=1] [evals=3] [--server dev|self-hosted] [--no-plain]
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { connectTemporal, localTarget, type TemporalTarget } from '../src/temporal/connect';
import { resolveTemporalExecutable } from '../src/temporal/cli-path';
import { freePort } from '../src/temporal/ports';
import { startPostgres } from '../testkit/postgres';
import { EVSYS_BIN, startWorkerProcess, type WorkerProcess } from '../testkit/processes';
import { startTemporalServer } from '../testkit/temporal-server';
import { buildTemporalServer, temporalServerBuilt } from '../testkit/temporal-server-build';
import { cpuSeconds, evalInput, formatHistorySummary, historySummary, loadLine, runPlain, writeBenchmark } from './common';
import { startFastModelServer } from './fast-model-server';

const run = promisify(execFile);

export interface FleetOptions {
  tasks: number;
  samples: number;
  latencyMs: number;
  concurrency: number;
  workers: number;
  evals: number;
  server: 'dev' | 'self-hosted';
  /** The operator's dynamic config (key -> value); empty = the server's defaults. */
  serverConfig: Record<string, unknown>;
  plain: boolean;
  log: (line: string) => void;
}

interface Cluster {
  target: TemporalTarget;
  /** Processes whose CPU counts as the server's (PostgreSQL's backends come and go: asked each time). */
  serverPids(): Promise<number[]>;
  close(): Promise<void>;
}

/** `temporal server start-dev` exactly as a person starts it: no tuning flags but the operator's `serverConfig`, histories in memory. */
async function devServer(dir: string, serverConfig: Record<string, unknown>): Promise<Cluster> {
  const executable = resolveTemporalExecutable();
  if (executable.type !== 'existing-path') throw new Error('no Temporal CLI: run npm ci');
  const [port, uiPort] = [await freePort(), await freePort()];
  const log = openSync(path.join(dir, 'temporal.log'), 'a');
  const child = spawn(executable.path, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn', ...Object.entries(serverConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`])], { stdio: ['ignore', log, log] });
  closeSync(log);
  const target = localTarget(`127.0.0.1:${port}`, 'the bench\'s dev server');
  for (const started = Date.now(); ; ) {
    try {
      await (await connectTemporal(target)).close();
      break;
    } catch (err) {
      if (Date.now() - started > 60_000) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return {
    target,
    serverPids: async () => [child.pid!],
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The self-hosted server of the production-cluster tests, on a PostgreSQL of its own, with a fresh namespace. */
async function selfHostedServer(serverConfig: Record<string, unknown>): Promise<Cluster> {
  // Built once, as the tests' setup does (minutes the first time), then kept in .tools/.
  if (!temporalServerBuilt()) await buildTemporalServer();
  const postgres = await startPostgres({ maxConnections: 200 });
  const server = await startTemporalServer({ postgres, dynamicConfig: serverConfig });
  await server.createNamespace('bench');
  const pgrep = async (...args: string[]) => (await run('pgrep', args).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).map(Number);
  const temporalPids = await pgrep('-f', `--root ${path.dirname(server.logFile)} `);
  const postmaster = await pgrep('-f', `postgres -D .* -p ${new URL(postgres.url).port} `);
  return {
    target: { ...localTarget(server.address, 'the self-hosted server'), namespace: 'bench' },
    serverPids: async () => [...temporalPids, ...postmaster, ...(await pgrep('-P', postmaster.join(',')))],
    close: async () => {
      await server.stop();
      await postgres.stop();
    },
  };
}

/** The eval's own duration from its history: from the first run's start to the last run's close. */
async function evalSeconds(client: Client, workflowId: string): Promise<number> {
  const runs: { start: Date; close?: Date }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ start: execution.startTime, close: execution.closeTime });
  const start = Math.min(...runs.map((r) => r.start.getTime()));
  const close = Math.max(...runs.map((r) => r.close?.getTime() ?? Number.NaN));
  return (close - start) / 1000;
}

/** A process's peak resident memory (the kernel's VmHWM), MiB. */
function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** EVSYS_BENCH_SERVER_CONFIG's `key=value` pairs, each value JSON; a malformed pair is named, not guessed at. */
function parseServerConfig(text: string): Record<string, unknown> {
  const entries = text.split(' ').filter(Boolean).map((pair) => {
    const at = pair.indexOf('=');
    try {
      if (at <= 0) throw new Error('no key=value');
      return [pair.slice(0, at), JSON.parse(pair.slice(at + 1)) as unknown] as const;
    } catch (err) {
      throw new Error(`EVSYS_BENCH_SERVER_CONFIG: "${pair}" is not key=<JSON value> (${(err as Error).message})`);
    }
  });
  return Object.fromEntries(entries);
}

export async function runFleet(opts: FleetOptions): Promise<void> {
  const { dir, tasks } = await writeBenchmark(opts.tasks, 'evsys-fleet-');
  const cluster = opts.server === 'dev' ? await devServer(dir, opts.serverConfig) : await selfHostedServer(opts.serverConfig);
  const model = await startFastModelServer(opts.latencyMs);
  const env = { TEMPORAL_ADDRESS: cluster.target.address, TEMPORAL_NAMESPACE: cluster.target.namespace, EVSYS_TASK_QUEUE: 'fleet' };
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < opts.workers; i++) {
    const nodeArgs = process.env.EVSYS_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean);
    workers.push(await startWorkerProcess({ taskQueue: 'fleet', ledgerFile: path.join(dir, 'ledger.sqlite'), logFile: path.join(dir, `worker-${i}.log`), env, nodeArgs, cwd: dir }));
  }
  const connection = await connectTemporal(cluster.target);
  const client = new Client({ connection, namespace: cluster.target.namespace });
  const limitS = (opts.tasks * opts.samples * opts.latencyMs) / 1000 / opts.concurrency;
  const perTask = (s: number) => ((1000 * s) / opts.tasks).toFixed(1);
  const closeAll = async () => {
    await connection.close();
    await Promise.all(workers.map((w) => w.stop()));
    await model.close();
    await cluster.close();
  };
  // Ctrl-C would leave the server, the workers and the model server running.
  const interrupted = () => void closeAll().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    for (let e = 1; e <= opts.evals; e++) {
      const config = path.join(dir, `eval-${e}.json`);
      writeFileSync(config, JSON.stringify({ name: `fleet-${e}`, benchmark: { path: dir }, num_samples: opts.samples, n_concurrent: opts.concurrency, sampler: { base_url: model.url, model: 'fast', timeout_s: 60 } }));
      const serverPids = await cluster.serverPids();
      const cpu0 = new Map([...workers.map((w) => w.pid), ...serverPids].map((pid) => [pid, processCpuSeconds(pid)] as const));
      await model.resetStats();
      const started = performance.now();
      const { stdout, stderr } = await run(process.execPath, [EVSYS_BIN, 'eval', config, '--json'], { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
      const cliS = (performance.now() - started) / 1000;
      const metrics = JSON.parse(stdout) as Record<string, number>;
      const workflowId = /workflow (\S+)/.exec(stderr)?.[1]?.replace(/,$/, '');
      const evalS = workflowId ? await evalSeconds(client, workflowId) : Number.NaN;
      const workerCpu = workers.reduce((sum, w) => sum + processCpuSeconds(w.pid) - cpu0.get(w.pid)!, 0);
      const serverCpu = (await cluster.serverPids()).reduce((sum, p) => sum + processCpuSeconds(p) - (cpu0.get(p) ?? 0), 0);
      const requests = (await model.stats()) as { busyMs?: number; firstStartMs?: number; lastEndMs?: number; maxConcurrency: number };
      const meanInFlight = (requests.busyMs ?? 0) / ((requests.lastEndMs ?? 0) - (requests.firstStartMs ?? 0));
      opts.log(
        `eval ${e} (${e === 1 ? 'cold workers' : 'warm workers'}): ${(limitS / evalS).toFixed(2)} efficiency (eval ${evalS.toFixed(2)} s from its history, limit ${limitS.toFixed(2)} s; ` +
          `CLI wall ${cliS.toFixed(1)} s), n_tasks ${metrics.n_tasks}, errored ${metrics.n_errored_samples}; CPU a task: ${perTask(workerCpu)} ms workers + ${perTask(serverCpu)} ms server; ` +
          `model server: mean ${meanInFlight.toFixed(1)} in flight of ${opts.concurrency} (peak ${requests.maxConcurrency}) over ${(((requests.lastEndMs ?? 0) - (requests.firstStartMs ?? 0)) / 1000).toFixed(2)} s; ` +
          `workers' peak RSS so far ${workers.map((w) => peakRssMiB(w.pid).toFixed(0)).join(' / ')} MiB; ${loadLine()}` +
          (workflowId ? `\n  ${formatHistorySummary(await historySummary(client, workflowId))}` : ''),
      );
    }
    if (opts.plain) {
      const cpu0 = cpuSeconds();
      const plain = await runPlain(evalInput({ name: 'plain', dir, samples: opts.samples, concurrency: opts.concurrency, simUrl: model.url }), tasks);
      const cpu1 = cpuSeconds();
      opts.log(`plain keep-alive pool: ${(limitS / plain.wallS).toFixed(2)} efficiency (${plain.wallS.toFixed(2)} s), CPU a task ${perTask(cpu1.self - cpu0.self)} ms; ${loadLine()}`);
    }
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await closeAll();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--server');
  const [tasks, samples, latencyMs, concurrency, workers, evals] = [2000, 1, 200, 64, 1, 3].map((d, i) => Number(args[i] ?? d));
  const serverAt = process.argv.indexOf('--server');
  const server = serverAt > 0 && process.argv[serverAt + 1] === 'self-hosted' ? 'self-hosted' : 'dev';
  const plain = !process.argv.includes('--no-plain');
  const serverConfig = parseServerConfig(process.env.EVSYS_BENCH_SERVER_CONFIG ?? '');
  const configured = Object.keys(serverConfig).length > 0 ? `EVSYS_BENCH_SERVER_CONFIG='${process.env.EVSYS_BENCH_SERVER_CONFIG}' ` : '';
  console.log(`command: ${configured}npx tsx bench/fleet.ts ${tasks} ${samples} ${latencyMs} ${concurrency} ${workers} ${evals} --server ${server}${plain ? '' : ' --no-plain'}`);
  console.log(`${tasks} tasks x ${samples} samples, latency ${latencyMs} ms, n_concurrent ${concurrency}, ${workers} evsys worker process(es), ${server === 'dev' ? '`temporal server start-dev`' : 'go.temporal.io/server on PostgreSQL'}${configured ? ' with the dynamic config given' : ', untuned'}; ${loadLine()}`);
  runFleet({ tasks, samples, latencyMs, concurrency, workers, evals, server, serverConfig, plain, log: (line) => console.log(line) })
    .then(() => process.exit(0))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
