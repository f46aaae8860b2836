import { Context } from '@temporalio/activity';
import { BadInputError } from '../errors';
import type { SampleLedger, SampleRecord } from '../ledger/types';
import { splitThinking } from '../chat/thinking';
import { extractAnswer, verifierVersion, verify } from '../verifiers';
import type { BenchmarkCache } from './benchmark-cache';
import type { EvalGates } from './eval-gates';
import { drawSample, taskPrompt } from './prompt';
import { runPool } from './run-pool';
import type { SamplerPool } from './sampler-pool';
import { sampleStamp } from './stamp';
import { allowListenersPerSample, finishedSamples, missingSamples, startHeartbeat, taskResult } from './task-samples';
import type { ScoreTaskInput, ScoreTaskResult } from './types';
import { verifyContextFor } from './verify-context';

export interface ScoreTaskDeps {
  benchmarks: BenchmarkCache;
  samplers: SamplerPool;
  gates: EvalGates;
  ledger: SampleLedger;
}

/**
 * Draws the task's missing samples (those not already in the ledger under the same stamp),
 * verifies each, and records it as soon as it is done, so a crash loses only in-flight work.
 */
export function scoreTaskActivity(deps: ScoreTaskDeps) {
  return async function scoreTask({ plan, task_index, parallelism, n_concurrent }: ScoreTaskInput): Promise<ScoreTaskResult> {
    const context = Context.current();
    allowListenersPerSample(context, plan.num_samples);
    const benchmark = await deps.benchmarks.get(plan.benchmark_path, plan.limit, plan.content_hash);
    const task = benchmark.tasks[task_index];
    if (!task) throw new BadInputError(`task index ${task_index} is outside benchmark ${plan.benchmark_path} (${benchmark.tasks.length} tasks)`);

    const version = verifierVersion();
    const stamp = sampleStamp(plan);
    const finished = await finishedSamples(deps.ledger, plan, task.task_id, stamp);
    // Completions an older verifier scored are re-verified, never drawn again.
    const stale = [...finished.values()].filter((s) => s.verifier_version !== version);
    const missing = missingSamples(plan, finished);
    const reused = finished.size;

    const client = deps.samplers.clientFor(plan.sampler, plan.model);
    const prompt = await taskPrompt(plan, task.instruction);
    const verifyContext = verifyContextFor(plan, deps.samplers, task.instruction, context.cancellationSignal);
    /** Scoring sees the answer, never the reasoning before it. */
    const score = async (text: string) => {
      const { answer, reasoning } = splitThinking(text, { openedInPrompt: prompt.opensThinking });
      try {
        const reward = await verify(task.verifier, answer, verifyContext);
        return { reward, reasoning, answer: extractAnswer(task.verifier, answer), verifier_version: version };
      } catch (err) {
        if (err instanceof BadInputError) throw new BadInputError(`task ${task.task_id}: ${err.message}`);
        throw err;
      }
    };
    const keep = async (record: SampleRecord) => {
      await deps.ledger.record(record);
      finished.set(record.sample_idx, record);
    };
    const stopHeartbeat = startHeartbeat(context, finished);
    try {
      await runPool(stale, parallelism, async (sample) => keep({ ...sample, ...(await score(sample.completion)) }));
      await runPool(missing, parallelism, async (sampleIdx) => {
        const request = {
          maxTokens: plan.max_tokens,
          temperature: plan.temperature,
          // The sample index as seed makes each sample reproducible and distinct at temperature > 0.
          seed: sampleIdx,
          signal: context.cancellationSignal,
        };
        const completion = await deps.gates.use(
          plan.eval_id,
          n_concurrent,
          () => deps.samplers.throttled(plan.sampler.base_url, () => drawSample(client, prompt, request), context.cancellationSignal),
          context.cancellationSignal,
        );
        await keep({
          eval_id: plan.eval_id,
          task_id: task.task_id,
          task_index,
          sample_idx: sampleIdx,
          stamp,
          completion: completion.text,
          ...(await score(completion.text)),
          prompt_tokens: completion.promptTokens ?? null,
          completion_tokens: completion.completionTokens ?? null,
          latency_s: completion.latencyS,
          attempts: completion.attempts,
        });
      });
    } finally {
      stopHeartbeat();
    }
    return taskResult(task.task_id, finished, reused);
  };
}
