import { registerMetric } from './registry';
import type { MetricFn } from './types';

/** Tasks with at least one scored sample; a task whose samples all errored is not counted. */
const nTasks: MetricFn = (tasks) => tasks.filter((task) => task.rewards.length > 0).length;

registerMetric('n_tasks', nTasks);
