// Each import registers one metric; a new metric is one new file plus one line here.
import './mean-reward';
import './n-errored-samples';
import './n-tasks';
import './pass-rate';

export { aggregateMetrics, MISSING_BUCKET, type AggregateOptions } from './aggregate';
export { registerMetric, registerMetricFamily, registeredMetricNames, resolveMetric } from './registry';
export type { MetricFn, TaskScores } from './types';
