import { setMaxListeners } from 'node:events';
import type { Context } from '@temporalio/activity';
import type { SampleLedger, SampleRecord } from '../ledger/types';
import type { EvalPlan, ScoreTaskResult } from './types';

/**
 * The ledger bookkeeping of one scoreTask attempt, whichever engine draws the samples: what
 * the ledger already has, what is still missing, the heartbeat while samples are drawn, and
 * the activity's result.
 */

/** Keeps the server's heartbeat clock fed during long requests, so cancellation reaches us. */
const HEARTBEAT_INTERVAL_MS = 5_000;

/** The task's samples the ledger already holds under this stamp, by sample index. */
export async function finishedSamples(ledger: SampleLedger, plan: EvalPlan, taskId: string, stamp: string): Promise<Map<number, SampleRecord>> {
  return new Map((await ledger.samplesOf(plan.eval_id, taskId, stamp)).map((s) => [s.sample_idx, s]));
}

/** Sample indices still to draw; none when the eval only rescores. */
export function missingSamples(plan: EvalPlan, finished: Map<number, SampleRecord>): number[] {
  return plan.rescore_only ? [] : Array.from({ length: plan.num_samples }, (_, i) => i).filter((i) => !finished.has(i));
}

/**
 * Every sample in flight listens on the activity's one cancellation signal, in its request, its
 * backoff and its waits for a place; Node warns of a leak past 10 listeners, which 16 samples
 * reach legitimately.
 */
export function allowListenersPerSample(context: Context, numSamples: number): void {
  setMaxListeners(10 + 4 * numSamples, context.cancellationSignal);
}

/** Heartbeats how many samples are finished until the returned function is called. */
export function startHeartbeat(context: Context, finished: Map<number, SampleRecord>): () => void {
  const heartbeat = setInterval(() => context.heartbeat({ finished: finished.size }), HEARTBEAT_INTERVAL_MS);
  return () => clearInterval(heartbeat);
}

export function taskResult(taskId: string, finished: Map<number, SampleRecord>, reused: number): ScoreTaskResult {
  const rewards = [...finished.values()].map((s) => s.reward);
  return { task_id: taskId, scored: rewards.length, passed: rewards.filter((r) => r >= 1).length, reused };
}
