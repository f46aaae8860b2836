/** One task's outcome, ready for metrics. */
export interface TaskScores {
  taskId: string;
  /** Rewards of the samples that were scored. */
  rewards: number[];
  /** Samples lost to infrastructure failures: counted apart, never scored as 0. */
  erroredSamples: number;
  metadata: Record<string, unknown>;
}

/** `undefined` when the metric cannot be computed from these tasks (e.g. none were scored). */
export type MetricFn = (tasks: TaskScores[]) => number | undefined;
