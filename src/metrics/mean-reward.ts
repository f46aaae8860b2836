import { registerMetric } from './registry';
import type { MetricFn } from './types';

/** Mean over tasks of each task's mean reward (macro): every task weighs the same. */
const meanReward: MetricFn = (tasks) => {
  let sumOfMeans = 0;
  let scoredTasks = 0;
  for (const { rewards } of tasks) {
    if (rewards.length === 0) continue;
    sumOfMeans += sum(rewards) / rewards.length;
    scoredTasks++;
  }
  return scoredTasks === 0 ? undefined : sumOfMeans / scoredTasks;
};

function sum(values: number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

registerMetric('mean_reward', meanReward);
registerMetric('avg', meanReward);
