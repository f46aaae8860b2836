import type { Task } from '../../benchmark/task';
import { taskPrompt } from '../../chat/prompt';
import { splitThinking } from '../../chat/thinking';
import { LIVE_ENGINE } from '../../config/evaluator';
import { checkVerifierSpecs, extractAnswer, verifierVersionOf, verify } from '../../verifiers';
import type { Engine, SampleJob, ScoredSample } from '../engine';
import { promptSettings } from '../plan';
import { registerEngine } from '../engine-registry';
import { tasksKind } from './tasks-kind';

/**
 * The live-sampler path (docs/scoring.md): each sample is one request for the task's instruction under the
 * eval's chat template, scored by the task's verifier (tasks.jsonl). Only the answer after a
 * think block is verified; the reasoning is kept beside it.
 */
async function scoreCompletion(job: SampleJob<Task>, text: string, opensThinking: boolean) {
  const { answer, reasoning } = splitThinking(text, { openedInPrompt: opensThinking });
  const verdict = await verify(job.task.verifier, answer, job.verifyContext);
  return {
    reward: verdict.reward,
    reasoning,
    answer: extractAnswer(job.task.verifier, answer),
    verifier_version: verifierVersionOf(job.task.verifier),
    details: verdict.details ?? null,
  };
}

export const liveEngine: Engine<Task> = {
  name: LIVE_ENGINE,
  benchmarkKind: tasksKind,
  checkTasks(benchmark, evaluator) {
    const tasks = benchmark.tasks.map((task, i) => ({ spec: task.verifier, where: `${benchmark.locations[i]}: task ${task.task_id}` }));
    checkVerifierSpecs(tasks, { judge: Boolean(evaluator.judge) });
  },
  stampFields: () => ({}),
  verifierVersion: (task) => verifierVersionOf(task.verifier),
  async drawSample(job): Promise<ScoredSample> {
    const prompt = await taskPrompt(promptSettings(job.plan), job.task.instruction);
    // The sample index as seed makes each sample reproducible and distinct at temperature > 0.
    const completion = await job.holdSlot(() => job.send(prompt, job.sampleIdx));
    return {
      completion: completion.text,
      ...(await scoreCompletion(job, completion.text, prompt.opensThinking)),
      prompt_tokens: completion.promptTokens ?? null,
      completion_tokens: completion.completionTokens ?? null,
      latency_s: completion.latencyS,
      attempts: completion.attempts,
      finish_reason: completion.finishReason ?? null,
    };
  },
  async rescore(job, stored): Promise<ScoredSample> {
    const prompt = await taskPrompt(promptSettings(job.plan), job.task.instruction);
    return { ...stored, ...(await scoreCompletion(job, stored.completion, prompt.opensThinking)) };
  },
  expected: (task) => (task.verifier.kind === 'in_process' ? task.verifier.expected : undefined),
};

registerEngine(liveEngine);
