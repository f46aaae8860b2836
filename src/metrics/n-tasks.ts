import { registerMetric } from './registry';
import type { MetricFn } from './types';

/** Tasks with at least one scored sample; a task whose samples all errored is not counted. */
const nTasks: MetricFn = (tasks) => {
  let scored = 0;
  for (const { rewards } of tasks) if (rewards.length > 0) scored++;
  return scored;
};

registerMetric('n_tasks', nTasks);
