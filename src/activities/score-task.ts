import { Context } from '@temporalio/activity';
import { BadInputError } from '../errors';
import type { SampleLedger, SampleRecord } from '../ledger/types';
import { buildMessages } from '../sampler/messages';
import { verifierVersion, verify } from '../verifiers';
import type { BenchmarkCache } from './benchmark-cache';
import { runPool } from './run-pool';
import type { SamplerPool } from './sampler-pool';
import { sampleStamp } from './stamp';
import type { ScoreTaskInput, ScoreTaskResult } from './types';

export interface ScoreTaskDeps {
  benchmarks: BenchmarkCache;
  samplers: SamplerPool;
  ledger: SampleLedger;
}

/** Keeps the server's heartbeat clock fed during long requests, so cancellation reaches us. */
const HEARTBEAT_INTERVAL_MS = 5_000;

/**
 * Draws the task's missing samples (those not already in the ledger under the same stamp),
 * verifies each, and records it as soon as it is done, so a crash loses only in-flight work.
 */
export function scoreTaskActivity(deps: ScoreTaskDeps) {
  return async function scoreTask({ plan, task_index, parallelism }: ScoreTaskInput): Promise<ScoreTaskResult> {
    const context = Context.current();
    const benchmark = await deps.benchmarks.get(plan.benchmark_path, plan.limit, plan.content_hash);
    const task = benchmark.tasks[task_index];
    if (!task) throw new BadInputError(`task index ${task_index} is outside benchmark ${plan.benchmark_path} (${benchmark.tasks.length} tasks)`);

    const version = verifierVersion();
    const stamp = sampleStamp(plan, version);
    const finished = new Map((await deps.ledger.samplesOf(plan.eval_id, task.task_id, stamp)).map((s) => [s.sample_idx, s]));
    const missing = Array.from({ length: plan.num_samples }, (_, i) => i).filter((i) => !finished.has(i));
    const reused = finished.size;

    const client = deps.samplers.clientFor(plan.sampler, plan.model);
    const messages = buildMessages(plan.chat_template, task.instruction);
    const heartbeat = setInterval(() => context.heartbeat({ finished: finished.size }), HEARTBEAT_INTERVAL_MS);
    try {
      await runPool(missing, parallelism, async (sampleIdx) => {
        const completion = await client.complete(messages, {
          maxTokens: plan.max_tokens,
          temperature: plan.temperature,
          // The sample index as seed makes each sample reproducible and distinct at temperature > 0.
          seed: sampleIdx,
          signal: context.cancellationSignal,
        });
        let reward: number;
        try {
          reward = verify(task.verifier, completion.text);
        } catch (err) {
          if (err instanceof BadInputError) throw new BadInputError(`task ${task.task_id}: ${err.message}`);
          throw err;
        }
        const record: SampleRecord = {
          eval_id: plan.eval_id,
          task_id: task.task_id,
          task_index,
          sample_idx: sampleIdx,
          stamp,
          completion: completion.text,
          reward,
          prompt_tokens: completion.promptTokens ?? null,
          completion_tokens: completion.completionTokens ?? null,
          latency_s: completion.latencyS,
          attempts: completion.attempts,
          verifier_version: version,
        };
        await deps.ledger.record(record);
        finished.set(sampleIdx, record);
        context.heartbeat({ finished: finished.size });
      });
    } finally {
      clearInterval(heartbeat);
    }
    const rewards = [...finished.values()].map((s) => s.reward);
    return { task_id: task.task_id, scored: rewards.length, passed: rewards.filter((r) => r >= 1).length, reused };
  };
}
