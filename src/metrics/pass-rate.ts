import { registerMetric } from './registry';
import type { MetricFn } from './types';

/** A sample passes at full reward; partial credit does not count as a pass. */
const PASS_REWARD = 1.0;

/** Passing samples over all scored samples, pooled across tasks (micro). */
const passRate: MetricFn = (tasks) => {
  let passed = 0;
  let scored = 0;
  for (const { rewards } of tasks) {
    for (const reward of rewards) if (reward >= PASS_REWARD) passed++;
    scored += rewards.length;
  }
  return scored === 0 ? undefined : passed / scored;
};

registerMetric('pass_rate', passRate);
