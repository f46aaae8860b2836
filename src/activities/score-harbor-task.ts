import { Context } from '@temporalio/activity';
import { splitThinking } from '../chat/thinking';
import { BadInputError } from '../errors';
import type { ModelTurn } from '../harbor/agent';
import { runHarborTrial } from '../harbor/run';
import { trialDir } from '../harbor/trial-logs';
import type { SampleLedger, SampleRecord } from '../ledger/types';
import { verifierVersion } from '../verifiers';
import type { BenchmarkCache } from './benchmark-cache';
import type { EvalGates } from './eval-gates';
import { conversationPrompt, drawSample } from './prompt';
import { runPool } from './run-pool';
import type { SamplerPool } from './sampler-pool';
import { sampleStamp } from './stamp';
import { allowListenersPerSample, finishedSamples, missingSamples, startHeartbeat, taskResult } from './task-samples';
import type { ScoreTaskInput, ScoreTaskResult } from './types';
import { verifyContextFor } from './verify-context';

export interface ScoreHarborTaskDeps {
  benchmarks: BenchmarkCache;
  samplers: SamplerPool;
  gates: EvalGates;
  ledger: SampleLedger;
  /** Where this worker keeps each trial's logs (trial-logs.ts). */
  trialsDir: string;
}

/**
 * scoreTask for `engine: harbor`: each missing sample is one Harbor trial (src/harbor/run.ts),
 * recorded in the ledger as soon as it is verified, like a live sample. All trials share the
 * worker's sampler client for the endpoint, and at most n_concurrent trials of an eval run at
 * once. A trial that times out or leaves no usable reward fails the activity after its siblings
 * finish; retries redo only the trials the ledger lacks.
 */
export function scoreHarborTaskActivity(deps: ScoreHarborTaskDeps) {
  return async function scoreHarborTask({ plan, task_index, parallelism, n_concurrent }: ScoreTaskInput): Promise<ScoreTaskResult> {
    const options = plan.harbor;
    if (!options) throw new Error('scoreHarborTask needs a plan with harbor options');
    if (plan.rescore_only) {
      throw new BadInputError("engine harbor cannot rescore: a trial's verifier ran in the trial's environment, which is gone");
    }
    const context = Context.current();
    allowListenersPerSample(context, plan.num_samples);
    const benchmark = await deps.benchmarks.harbor(plan.benchmark_path, plan.limit, plan.content_hash);
    const task = benchmark.tasks[task_index];
    if (!task) throw new BadInputError(`task index ${task_index} is outside benchmark ${plan.benchmark_path} (${benchmark.tasks.length} tasks)`);

    const stamp = sampleStamp(plan);
    const finished = await finishedSamples(deps.ledger, plan, task.task_id, stamp);
    const reused = finished.size;
    const client = deps.samplers.clientFor(plan.sampler, plan.model);
    const verifyContext = verifyContextFor(plan, deps.samplers, task.instruction, context.cancellationSignal);
    const version = verifierVersion();

    const stopHeartbeat = startHeartbeat(context, finished);
    try {
      await runPool(missingSamples(plan, finished), parallelism, async (sampleIdx) => {
        const model: ModelTurn = async (messages, signal) => {
          const prompt = await conversationPrompt(plan, messages);
          // The sample index as seed, for every turn: a trial is reproducible and its siblings differ.
          const request = { maxTokens: plan.max_tokens, temperature: plan.temperature, seed: sampleIdx, signal };
          const completion = await deps.samplers.throttled(plan.sampler.base_url, () => drawSample(client, prompt, request), signal);
          return { completion, ...splitThinking(completion.text, { openedInPrompt: prompt.opensThinking }) };
        };
        // A whole trial, verifier included, holds one of the eval's n_concurrent places (eval-gates.ts).
        const trial = await deps.gates.use(
          plan.eval_id,
          n_concurrent,
          () =>
            runHarborTrial({
              task,
              sampleIdx,
              options,
              template: plan.chat_template,
              model,
              verifyContext,
              signal: context.cancellationSignal,
              logDir: trialDir(deps.trialsDir, plan.eval_id, stamp, task.task_id, sampleIdx),
            }),
          context.cancellationSignal,
        );
        const record: SampleRecord = {
          eval_id: plan.eval_id,
          task_id: task.task_id,
          task_index,
          sample_idx: sampleIdx,
          stamp,
          completion: trial.completion,
          reasoning: trial.reasoning,
          answer: trial.answer,
          reward: trial.reward,
          prompt_tokens: trial.promptTokens,
          completion_tokens: trial.completionTokens,
          latency_s: trial.durationS,
          attempts: trial.attempts,
          verifier_version: version,
        };
        await deps.ledger.record(record);
        finished.set(sampleIdx, record);
      });
    } finally {
      stopHeartbeat();
    }
    return taskResult(task.task_id, finished, reused);
  };
}
