import { registerMetric } from './registry';
import type { MetricFn } from './types';

/** Samples lost to infrastructure failures, reported so they are never mistaken for zeros. */
const nErroredSamples: MetricFn = (tasks) => {
  let errored = 0;
  for (const task of tasks) errored += task.erroredSamples;
  return errored;
};

registerMetric('n_errored_samples', nErroredSamples);
