import type { WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { expect } from 'vitest';
import type { Task } from '../../src/benchmark/task';
import type { evaluateBenchmark } from '../../src/workflows';
import { progressQuery } from '../../src/workflows/evaluate-benchmark';
import type { EvalProgress, EvaluateBenchmarkResult } from '../../src/workflows/io';
import { expectedFromOracle } from './expected-metrics';

/** Checks and waits on evals run through the real stack, shared by the tests of worker processes and hosts. */

/** The simulator's oracle fixes every sample: an eval that lost or doubled nothing has exactly these metrics. */
export function expectOracleMetrics(result: EvaluateBenchmarkResult, tasks: Task[], seed: number, pCorrect: number, numSamples: number): void {
  const expected = expectedFromOracle(tasks, seed, pCorrect, numSamples);
  expect(result.metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
  expect(result.metrics.pass_rate).toBeCloseTo(expected.pass_rate, 12);
  expect(result.metrics.n_tasks).toBe(tasks.length);
  expect(result.metrics.n_errored_samples).toBe(0);
}

/**
 * From the eval's history: how many activities each worker (its identity, `pid@host`) ran to
 * the end, and how many needed more than one attempt (a retried task: its worker died).
 */
export async function activityStarts(handle: WorkflowHandle<typeof evaluateBenchmark>): Promise<{ perWorker: Map<string, number>; retried: number }> {
  const perWorker = new Map<string, number>();
  let retried = 0;
  for (const event of (await handle.fetchHistory()).events ?? []) {
    const started = event.activityTaskStartedEventAttributes;
    if (!started?.identity) continue;
    perWorker.set(started.identity, (perWorker.get(started.identity) ?? 0) + 1);
    if ((started.attempt ?? 1) > 1) retried++;
  }
  return { perWorker, retried };
}

/** Polls the progress query until `done` holds; a query that fails (a worker gone) is retried. */
export async function waitForProgress(
  handle: WorkflowHandle<typeof evaluateBenchmark>,
  done: (p: EvalProgress) => boolean,
  timeoutMs = 60_000,
): Promise<EvalProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: EvalProgress | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(progressQuery).catch(() => last);
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`progress did not get there within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/**
 * How many eval slots each worker process (by pid) holds now in a PostgreSQL ledger: slots are
 * the only session-level two-key advisory locks there, and each worker's slot session is named
 * `evsys slots <pid>@<host>`.
 */
export async function postgresSlotHolders(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; n: string }>(
      `SELECT a.application_name AS name, count(*) AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
       WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted GROUP BY 1`,
    );
    return new Map(rows.map((row) => [Number(/evsys slots (\d+)@/.exec(row.name)![1]), Number(row.n)]));
  } finally {
    await client.end();
  }
}
