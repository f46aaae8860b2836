import { macroMetric } from './per-task';
import { registerMetricFamily } from './registry';
import { PASS_REWARD, parseK } from './samples';
import type { TaskScores } from './types';

/**
 * Majority vote over the first k samples' extracted answers, compared as exact strings; a
 * `null` answer (nothing extracted) does not vote. A tie goes to the answer that appeared
 * first. The task scores 1 when a sample among the first k carrying the winning answer passed,
 * 0 otherwise (including when no sample had an answer). `undefined` (left out) when the task
 * has no `answers` or fewer than k scored samples.
 */
export function majorityVote(task: TaskScores, k: number): number | undefined {
  const { answers, rewards } = task;
  if (answers === undefined) return undefined;
  if (answers.length !== rewards.length) {
    throw new Error(`task "${task.taskId}" has ${answers.length} answers for ${rewards.length} rewards`);
  }
  if (rewards.length < k) return undefined;
  const votes = new Map<string, number>(); // insertion order = order of first appearance
  for (let i = 0; i < k; i++) {
    const answer = answers[i];
    if (answer !== null) votes.set(answer, (votes.get(answer) ?? 0) + 1);
  }
  let winner: string | undefined;
  let most = 0;
  for (const [answer, count] of votes) {
    if (count > most) [winner, most] = [answer, count];
  }
  for (let i = 0; i < k; i++) if (answers[i] === winner && rewards[i] >= PASS_REWARD) return 1;
  return 0;
}

/** `maj@k`, averaged over the tasks that have answers; omitted when none has. */
registerMetricFamily('maj@k', /^maj@(\d+)$/, (match) => {
  const k = parseK(match[0], match[1]);
  return macroMetric((task) => majorityVote(task, k), { minSamples: k });
});
