import type { Metric, MetricFn, PerTaskFn, TaskScores } from './types';

/**
 * A macro metric: the mean of `perTask` over the tasks where it is defined (every such task
 * weighs the same), `undefined` when it is defined for none.
 */
export function macroMetric(perTask: PerTaskFn, extras: Pick<Metric, 'minSamples'> = {}): Metric {
  const mean: MetricFn = (tasks) => {
    let sum = 0;
    let counted = 0;
    for (const task of tasks) {
      const value = perTask(task);
      if (value === undefined) continue;
      sum += value;
      counted++;
    }
    return counted === 0 ? undefined : sum / counted;
  };
  return Object.assign(mean, { perTask }, extras);
}

/**
 * A metric's value and, when `withStderr`, its standard error over tasks: the metric's own
 * `stderr` when it has one; else, for a macro metric, the sample standard deviation of its
 * per-task values over sqrt(number of those values), from the same single pass that gives the
 * mean; else none. `undefined` stderr below two tasks.
 */
export function evaluateMetric(
  metric: Metric,
  tasks: TaskScores[],
  withStderr: boolean,
): { value: number | undefined; stderr?: number } {
  if (!withStderr) return { value: metric(tasks) };
  if (metric.stderr || !metric.perTask) {
    const value = metric(tasks);
    return { value, stderr: value === undefined ? undefined : metric.stderr?.(tasks, value) };
  }
  const values = new Float64Array(tasks.length);
  let counted = 0;
  let sum = 0;
  for (const task of tasks) {
    const value = metric.perTask(task);
    if (value === undefined) continue;
    values[counted++] = value;
    sum += value;
  }
  // The same summation, in the same order, as macroMetric: asking for stderr changes no value.
  if (counted === 0) return { value: undefined };
  const mean = sum / counted;
  return { value: mean, stderr: stderrAround(values.subarray(0, counted), mean) };
}

/** Sample std (n - 1) / sqrt(n); `undefined` below two values. */
export function standardErrorOfMean(values: number[]): number | undefined {
  let sum = 0;
  for (const value of values) sum += value;
  return stderrAround(values, sum / values.length);
}

/** Second pass of the two-pass variance, which keeps its precision when values barely differ. */
function stderrAround(values: ArrayLike<number>, mean: number): number | undefined {
  const n = values.length;
  if (n < 2) return undefined;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i] - mean) * (values[i] - mean);
  return Math.sqrt(squares / (n - 1) / n);
}
