import { macroMetric } from './per-task';
import { registerMetric } from './registry';

/** Mean over tasks of each task's mean reward (macro): every task weighs the same. */
const meanReward = macroMetric(({ rewards }) => {
  if (rewards.length === 0) return undefined;
  let sum = 0;
  for (const reward of rewards) sum += reward;
  return sum / rewards.length;
});

registerMetric('mean_reward', meanReward);
registerMetric('avg', meanReward);
