import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ApplicationFailure, CancelledFailure, Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/benchmark/task';
import { startOrAttachEval } from '../../src/client/start-eval';
import type { EvaluatorInput } from '../../src/config/evaluator';
import { isCorrectSample } from '../../src/simulator/oracle';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { loadHarborBenchmark } from '../../src/harbor/dataset';
import { lacks } from '../helpers/requires';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/server';
import type { evaluateBenchmark } from '../../src/workflows';
import { progressQuery } from '../../src/workflows/evaluate-benchmark';
import { EvaluateBenchmarkInputSchema, type EvaluateBenchmarkResult } from '../../src/workflows/io';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { waitForProgress } from '../helpers/evals';
import { freePort } from '../../src/temporal/ports';
import { killAllWorkerProcesses, RestartableServer, startWorkerProcess, type WorkerProcess } from '../../testkit/processes';
import { tempDir } from '../helpers/temporal';

/**
 * Crash tests with real processes: a dev server child that keeps its histories in SQLite, `evsys
 * worker` children sharing one ledger file, and the simulator in this process. Every eval must
 * end with the metrics of an uninterrupted run, which the simulator's oracle predicts.
 */

const HARBOR_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'harbor-real');
const N_TASKS = 80;
const NUM_SAMPLES = 3;
const N_CONCURRENT = 8;
const SEED = 11;
const P_CORRECT = 0.6;
/** The workflow's scoreTask heartbeat timeout: how long a dead worker's task waits for a retry. */
const HEARTBEAT_TIMEOUT_MS = 30_000;
/** How long the dev server stays down when it is killed: longer than the 10 s for which Temporal's core retries a completion. */
const DOWN_MS = 12_000;
/** How long the sampler stays down: 90 s left 6 samples errored before requests retried by time rather than by count. */
const SAMPLER_OUTAGE_MS = 90_000;

let dir: string;
let benchmarkDir: string;
let ledgerFile: string;
let tasks: Task[];
let server: RestartableServer;
let connection: Connection;
let client: Client;
let worker: WorkerProcess | undefined;
let workerCount = 0;
const taskQueue = `evsys-crash-${process.pid}`;
const simulators: RunningSimulator[] = [];

function startWorker(): Promise<WorkerProcess> {
  workerCount++;
  return startWorkerProcess({
    address: server.address,
    taskQueue,
    ledgerFile,
    logFile: path.join(dir, `worker-${workerCount}.log`),
  });
}

/** The worker the tests share: started again if an earlier test left none running. */
async function liveWorker(): Promise<WorkerProcess> {
  if (!worker?.alive()) worker = await startWorker();
  return worker;
}

beforeAll(async () => {
  dir = tempDir('evsys-crash-');
  benchmarkDir = path.join(dir, 'bench');
  ledgerFile = path.join(dir, 'ledger.sqlite');
  tasks = await writeArithmeticBenchmark(benchmarkDir, N_TASKS);

  const [port, uiPort] = [await freePort(), await freePort()];
  server = new RestartableServer({ dbFile: path.join(dir, 'temporal.sqlite'), logFile: path.join(dir, 'temporal.log'), port, uiPort });
  await server.start();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  worker = await startWorker();
});

afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

interface TaskTree {
  type: string;
  tasks?: TaskTree[];
  result?: { state?: string };
}
const testsOf = (task: TaskTree): TaskTree[] => (task.tasks ? task.tasks.flatMap(testsOf) : [task]);

afterAll(async (file) => {
  await killAllWorkerProcesses();
  await connection?.close();
  await server?.stop();
  if (!dir) return;
  // The server's and workers' logs are worth keeping only when something went wrong.
  if (!testsOf(file).some((t) => t.result?.state === 'fail')) rmSync(dir, { recursive: true, force: true });
  else console.log(`crash test files kept in ${dir} (temporal.log, worker-N.log, ledger.sqlite)`);
});

async function simulator(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ tasks, seed: SEED, pCorrect: P_CORRECT, latencyMs: 50, ...opts });
  simulators.push(sim);
  return sim;
}

function evalInput(baseUrl: string, overrides: Partial<EvaluatorInput> = {}) {
  return EvaluateBenchmarkInputSchema.parse({
    evaluator: {
      name: 'crash',
      benchmark: { path: benchmarkDir },
      num_samples: NUM_SAMPLES,
      n_concurrent: N_CONCURRENT,
      sampler: { base_url: baseUrl, model: 'simulator', timeout_s: 10, max_retries: 5 },
      ...overrides,
    },
  });
}

let evals = 0;
function startEval(baseUrl: string, overrides: Partial<EvaluatorInput> = {}, workflowId = `crash-${Date.now()}-${evals++}`) {
  return startOrAttachEval(client, taskQueue, evalInput(baseUrl, overrides), workflowId);
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, pollMs = 50): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(pollMs);
  }
  return Date.now() - started;
}

function expectOracleMetrics(result: EvaluateBenchmarkResult, nTasks = N_TASKS): void {
  const expected = expectedFromOracle(tasks.slice(0, nTasks), SEED, P_CORRECT, NUM_SAMPLES);
  expect(result.metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
  expect(result.metrics.pass_rate).toBeCloseTo(expected.pass_rate, 12);
  expect(result.metrics.n_tasks).toBe(nTasks);
  expect(result.metrics.n_errored_samples).toBe(0);
}

/** Each finished sample's task and details (a harbor trial's folder), read from the ledger file. */
function ledgerDetails(evalId: string): { task_id: string; details: string }[] {
  const db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT task_id, details FROM samples WHERE eval_id = ?').all(evalId) as { task_id: string; details: string }[];
  } finally {
    db.close();
  }
}

/** The ledger rows of one eval, read from the SQLite file the worker processes write. */
function ledgerRows(evalId: string): { task_id: string; sample_idx: number; reward: number; attempts: number }[] {
  const db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT task_id, sample_idx, reward, attempts FROM samples WHERE eval_id = ?').all(evalId) as {
      task_id: string;
      sample_idx: number;
      reward: number;
      attempts: number;
    }[];
  } finally {
    db.close();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe('crashes and outages with real processes', () => {
  it(
    'a worker SIGKILLed half way: a new worker finishes the eval with the metrics of an uninterrupted run',
    async () => {
      const sim = await simulator();
      await liveWorker();

      // The uninterrupted run on the same worker, server and simulator: the reference wall time.
      let started = Date.now();
      const baseline = await (await startEval(sim.url)).result();
      const uninterruptedMs = Date.now() - started;
      expectOracleMetrics(baseline);

      sim.resetStats();
      started = Date.now();
      const handle = await startEval(sim.url);
      const atKill = await waitForProgress(handle, (p) => p.tasks_total > 0 && p.tasks_done >= p.tasks_total / 2);
      // Kill it while it waits on the sampler, so requests die with it.
      await waitFor('sampler requests in flight', () => sim.stats().inFlight > 0, 10_000, 2);
      const requestsInFlight = sim.stats().inFlight;
      await worker!.kill();
      const killedAt = Date.now();
      worker = await startWorker();
      const replacementReadyMs = Date.now() - killedAt;
      const result = await handle.result();
      const crashedMs = Date.now() - started;

      expectOracleMetrics(result);
      expect(result.metrics).toEqual(baseline.metrics);
      const stats = sim.stats();
      const drawnTwice = stats.completed - N_TASKS * NUM_SAMPLES;
      const requestedTwice = stats.requests - N_TASKS * NUM_SAMPLES;
      expect(drawnTwice).toBeGreaterThanOrEqual(0);
      expect(drawnTwice).toBeLessThanOrEqual(N_CONCURRENT * NUM_SAMPLES);
      expect(ledgerRows(handle.workflowId)).toHaveLength(N_TASKS * NUM_SAMPLES);

      console.log(
        `[crash] worker SIGKILL at ${atKill.tasks_done}/${atKill.tasks_total} tasks with ${requestsInFlight} sampler requests in flight: ` +
          `uninterrupted ${seconds(uninterruptedMs)}, with the crash ${seconds(crashedMs)}, ` +
          `wall time lost ${seconds(crashedMs - uninterruptedMs)} (heartbeat timeout ${seconds(HEARTBEAT_TIMEOUT_MS)}; ` +
          `replacement worker ready ${seconds(replacementReadyMs)} after the kill); ` +
          `samples drawn twice (answered twice) ${drawnTwice} of ${N_TASKS * NUM_SAMPLES}; ` +
          `requests sent twice ${requestedTwice}, of which aborted by the kill ${stats.aborted}`,
      );
    },
    150_000,
  );

  it(
    'the dev server SIGKILLed and down longer than core retries a completion: sampling resumes at once, no task waits for its heartbeat timeout, nothing drawn twice',
    async () => {
      const sim = await simulator();
      const serving = await liveWorker();
      const handle = await startEval(sim.url);
      // Asked before the outage: the client's pending long poll must survive it.
      const result = handle.result();
      result.catch(() => {});
      const atKill = await waitForProgress(handle, (p) => p.tasks_total > 0 && p.tasks_done >= p.tasks_total / 3);
      // When each request arrived, sampled every 20 ms: the gap after the restart is the stall.
      const arrivals: { at: number; requests: number }[] = [];
      const sampling = setInterval(() => arrivals.push({ at: Date.now(), requests: sim.stats().requests }), 20);
      const killedAt = Date.now();
      await server.restart(DOWN_MS, 'kill');
      const readyAt = Date.now();
      const finished = await result;
      const doneAfterMs = Date.now() - readyAt;
      clearInterval(sampling);

      expectOracleMetrics(finished);
      expect(serving.alive()).toBe(true);
      const atReady = arrivals.filter((a) => a.at <= readyAt).at(-1)!.requests;
      const firstAfter = arrivals.find((a) => a.at > readyAt && a.requests > atReady);
      const stallMs = (firstAfter?.at ?? Date.now()) - readyAt;
      const history = await handle.fetchHistory();
      const retried = (history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
      const drawnTwice = sim.stats().completed - N_TASKS * NUM_SAMPLES;
      console.log(
        `[server SIGKILL] at ${atKill.tasks_done}/${atKill.tasks_total} tasks, down ${seconds(readyAt - killedAt)}: first request ${seconds(stallMs)} after the server was back, eval done ${seconds(doneAfterMs)} after; ` +
          `task attempts retried ${retried}; samples drawn twice ${drawnTwice}`,
      );
      expect(stallMs).toBeLessThan(11_000);
      expect(retried).toBe(0);
      expect(drawnTwice).toBe(0);
    },
    120_000,
  );

  it(
    'the sampler is down for 90 s, as an inference server restarting: the default retries ride it out, progress says so, and the server is not hammered',
    async () => {
      await liveWorker();
      const port = await freePort();
      const first = await simulator({ port });
      // The sampler's defaults: retry_for_s 600, backoff capped at 30 s.
      const handle = await startEval(first.url, { sampler: { base_url: first.url, model: 'simulator' } });
      const atOutage = await waitForProgress(handle, (p) => p.tasks_total > 0 && p.tasks_done >= p.tasks_total / 4);
      await first.close();
      simulators.splice(simulators.indexOf(first), 1);
      const downAt = Date.now();
      const during = await waitForProgress(handle, (p) => p.sampler_down !== undefined, 20_000);
      await sleep(SAMPLER_OUTAGE_MS - (Date.now() - downAt));
      const second = await simulator({ port });
      const result = await handle.result();

      expectOracleMetrics(result);
      // Refused once it is gone; reset for a request it was answering as it went.
      expect(during.sampler_down).toMatchObject({ url: first.url, cause: expect.stringMatching(/ECONNREFUSED|ECONNRESET/) });
      expect(Date.parse(during.sampler_down!.since)).toBeGreaterThanOrEqual(downAt - 1_000);
      expect((await handle.query(progressQuery)).sampler_down).toBeUndefined();
      // Jittered backoff doubling from 0.5 s to at most 30 s: about a dozen attempts per request over 90 s.
      const attempts = ledgerRows(handle.workflowId).map((r) => r.attempts);
      const mostAttempts = Math.max(...attempts);
      expect(mostAttempts).toBeGreaterThan(1);
      expect(mostAttempts).toBeLessThanOrEqual(20);
      console.log(
        `[sampler outage] down ${seconds(SAMPLER_OUTAGE_MS)} from ${atOutage.tasks_done}/${N_TASKS} tasks: progress said ` +
          `"sampler ${during.sampler_down!.url} unreachable (${during.sampler_down!.cause})"; n_errored_samples ${result.metrics.n_errored_samples}; ` +
          `at most ${mostAttempts} attempts for one request; ${second.stats().requests} requests after it came back`,
      );
    },
    SAMPLER_OUTAGE_MS + 60_000,
  );

  it(
    'a base_url where nothing answers fails the eval at its start, naming the URL and the cause, and draws nothing',
    async () => {
      await liveWorker();
      const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
      // retry_for_s bounds the wait at the start too (60 s by default).
      const handle = await startEval(nowhere, { sampler: { base_url: nowhere, model: 'simulator', retry_for_s: 3 } });
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('Unreachable');
      expect(cause.message).toMatch(new RegExp(`sampler at ${nowhere} did not answer within 3 s; last cause: .*ECONNREFUSED.* before the eval started; check sampler.base_url`));
      expect(ledgerRows(handle.workflowId)).toHaveLength(0);
    },
    60_000,
  );

  it(
    'the sampler stays down past the retry budget: the eval fails with TooManyErroredSamples and keeps its samples',
    async () => {
      await liveWorker();
      const port = await freePort();
      // 500 ms answers: the 96 samples take at least 3 rounds, so the outage lands mid-eval.
      const sim = await simulator({ port, latencyMs: 500 });
      const limit = 32;
      const overrides: Partial<EvaluatorInput> = {
        limit,
        n_concurrent: 32,
        max_task_attempts: 2,
        sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5, max_retries: 1 },
      };
      const workflowId = `crash-down-${Date.now()}`;
      const handle = await startEval(sim.url, overrides, workflowId);
      const atOutage = await waitForProgress(handle, (p) => p.samples_done >= 12);
      await sim.close();
      simulators.splice(simulators.indexOf(sim), 1);
      const failure = await handle.result().catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('TooManyErroredSamples');
      expect(cause?.message).toMatch(new RegExp(`the first task to fail: sampler at ${sim.url}/chat/completions unavailable: .*last cause: .*ECONNREFUSED.*max_error_rate`));

      // What was finished before the outage is in the ledger, and each sample is the oracle's.
      const rows = ledgerRows(workflowId);
      expect(rows.length).toBeGreaterThanOrEqual(atOutage.samples_done);
      expect(rows.length).toBeLessThan(limit * NUM_SAMPLES);
      for (const row of rows) {
        expect(row.reward).toBe(isCorrectSample(SEED, row.task_id, row.sample_idx, P_CORRECT) ? 1 : 0);
      }

      // Started again under the same id once the sampler is back, it draws only the rest.
      const back = await simulator({ port, latencyMs: 500 });
      const retried = await (await startEval(back.url, overrides, workflowId)).result();
      expectOracleMetrics(retried, limit);
      expect(back.stats().completed).toBe(limit * NUM_SAMPLES - rows.length);
      console.log(
        `[sampler gone] failed with: ${cause?.message}; ${rows.length} samples kept in the ledger ` +
          `(${atOutage.samples_done} done when it went down); the rerun drew ${back.stats().completed}`,
      );
    },
    90_000,
  );

  it.skipIf(lacks('bubblewrap', 'harbor'))(
    'engine harbor: a worker SIGKILLed mid-eval loses no finished trial; the next worker runs only those in flight',
    async () => {
      const dataset = path.join(dir, 'harbor-dataset');
      for (let i = 0; i < 8; i++) cpSync(path.join(HARBOR_FIXTURES, 'plain-pass'), path.join(dataset, `pass-${i}`), { recursive: true });
      const harborTasks = (await loadHarborBenchmark(dataset)).tasks;
      // Slow answers, so trials are in flight when the worker dies.
      const sim = await startSimulator({ tasks: harborTasks, seed: 1, pCorrect: 1, latencyMs: 1_500 });
      simulators.push(sim);
      await liveWorker();
      const handle = await startEval(sim.url, {
        engine: 'harbor',
        benchmark: { path: dataset },
        num_samples: 1,
        n_concurrent: 2,
        heartbeat_timeout_s: 10,
        sampler: { base_url: sim.url, model: 'simulator', timeout_s: 30 },
      });
      await waitForProgress(handle, (p) => p.tasks_done >= 3, 120_000);
      await waitFor('trials in flight', () => sim.stats().inFlight > 0, 20_000);
      const before = ledgerDetails(handle.workflowId);
      await worker!.kill();
      worker = await startWorker();
      const result = await handle.result();

      expect(result.metrics).toMatchObject({ n_tasks: 8, mean_reward: 1, n_errored_samples: 0 });
      const after = ledgerDetails(handle.workflowId);
      expect(after).toHaveLength(8);
      // Every trial finished before the kill is the same trial afterwards: kept, not run again.
      for (const row of before) expect(after).toContainEqual(row);
      // Requests beyond one per trial: only the trials in flight at the kill, run again.
      expect(sim.stats().completed - 8).toBeLessThanOrEqual(2);
    },
    240_000,
  );

  /** An eval of 4 tasks x 2 samples whose 8 requests hang for 30 s: only a cancel ends them early. */
  async function evalWithHungRequests() {
    await liveWorker();
    const sim = await simulator({ latencyMs: 30_000 });
    const handle = await startEval(sim.url, {
      limit: 4,
      num_samples: 2,
      n_concurrent: 8,
      // Longer than the test, so no request is ever cut short by its own timeout.
      sampler: { base_url: sim.url, model: 'simulator', timeout_s: 120, max_retries: 0 },
    });
    await waitFor('8 requests in flight', () => sim.stats().inFlight === 8, 20_000);
    return { sim, handle };
  }

  async function cancelAndTimeAborts(sim: RunningSimulator, handle: WorkflowHandle<typeof evaluateBenchmark>) {
    const inFlight = sim.stats().inFlight;
    await handle.cancel();
    const failure = await handle.result().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    // The activity learns of the cancel from a heartbeat's answer; it heartbeats every 5 s.
    const abortedAfterMs = await waitFor(`${inFlight} in-flight requests aborted`, () => sim.stats().aborted >= inFlight, 9_000);
    expect(sim.stats().completed).toBe(0);
    return { inFlight, abortedAfterMs };
  }

  it(
    'cancelling the eval aborts the sampler requests in flight',
    async () => {
      const { sim, handle } = await evalWithHungRequests();
      const { inFlight, abortedAfterMs } = await cancelAndTimeAborts(sim, handle);
      console.log(`[cancel] ${inFlight} requests in flight aborted ${seconds(abortedAfterMs)} after the cancel`);
    },
    60_000,
  );

  // The SDK throttles heartbeats to 0.8 x heartbeatTimeout (24 s) by default, so without the
  // worker's `maxHeartbeatThrottleInterval` a cancel after the first heartbeat would reach the
  // activity only at ~29 s.
  it(
    'cancelling the eval later (after the first heartbeats) still aborts the requests within seconds',
    async () => {
      const { sim, handle } = await evalWithHungRequests();
      await sleep(6_000);
      const { inFlight, abortedAfterMs } = await cancelAndTimeAborts(sim, handle);
      console.log(`[late cancel] ${inFlight} requests in flight aborted ${seconds(abortedAfterMs)} after the cancel`);
    },
    60_000,
  );
});
