import { macroMetric } from './per-task';
import { registerMetric } from './registry';
import type { PerTaskFn, SampleUsage } from './types';

type Quantity = (usage: SampleUsage) => number | undefined;

/**
 * The mean over tasks of each task's mean of one quantity over its scored samples that reported
 * it. A task none of whose samples reported it is left out; with no such sample anywhere the
 * metric is omitted. Errored samples are not in `usage` (it is parallel to `rewards`).
 */
function perTaskMeanOf(quantity: Quantity): PerTaskFn {
  return (task) => {
    const { usage, rewards } = task;
    if (usage === undefined) return undefined;
    if (usage.length !== rewards.length) {
      throw new Error(`task "${task.taskId}" has ${usage.length} usage entries for ${rewards.length} rewards`);
    }
    let sum = 0;
    let reported = 0;
    for (const sample of usage) {
      const value = quantity(sample);
      if (value === undefined) continue;
      sum += value;
      reported++;
    }
    return reported === 0 ? undefined : sum / reported;
  };
}

/** `null`, absent and non-finite values all mean "not reported". */
function reported(value: number | null | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Prompt plus completion tokens; a sample reporting only one of them counts that one alone. */
const totalTokens: Quantity = ({ promptTokens, completionTokens }) => {
  const prompt = reported(promptTokens);
  const completion = reported(completionTokens);
  return prompt === undefined && completion === undefined ? undefined : (prompt ?? 0) + (completion ?? 0);
};

registerMetric('time_per_task', macroMetric(perTaskMeanOf(({ latencyS }) => reported(latencyS))));
registerMetric('tokens_per_task', macroMetric(perTaskMeanOf(totalTokens)));
registerMetric('cost_per_task', macroMetric(perTaskMeanOf(({ cost }) => reported(cost))));
