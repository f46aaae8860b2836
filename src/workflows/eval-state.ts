import type { ScoreTaskResult } from '../activities/types';
import type { SamplerHealthReport } from '../sampler/client';
import type { EvalProgress, ParsedEvaluateBenchmarkInput, TaskSelection } from './io';
import { RequestSlots } from './request-slots';

type Evaluator = ParsedEvaluateBenchmarkInput['evaluator'];
type CarriedProgress = Pick<EvalProgress, 'tasks_done' | 'tasks_failed' | 'samples_done' | 'samples_passed' | 'samples_errored'>;

/**
 * Sample slots scheduled beyond n_concurrent: tasks that wait on the worker instead of behind a
 * Temporal round trip when a slot frees: half the cap, at least one task's worth. At
 * n_concurrent 64 and 200 ms requests, efficiency went 0.77 -> 0.91 with a quarter and 0.94
 * with half; the whole cap gave no more (bench/efficiency.ts).
 */
function slotsAhead(evaluator: Evaluator): number {
  return Math.max(evaluator.num_samples, Math.ceil(evaluator.n_concurrent / 2));
}

/**
 * Everything evaluateBenchmark keeps while it runs (samples-typescript safe-message-handlers'
 * ClusterManager): the progress a query or the UI reads, the request slots, the tasks in flight
 * and the first fatal failure among them.
 */
export class EvalState {
  private readonly progress: EvalProgress;
  readonly slots: RequestSlots;
  readonly inFlight = new Set<Promise<void>>();
  /** Bad input or cancellation from a task: stop scheduling and fail the eval with it. */
  fatal: unknown;
  /** Why the first task that ran out of attempts in this run failed, for the eval's own failure message. */
  firstTaskFailure: string | undefined;
  /** What the start left out and found at risk: the `taskSelection` query's answer. */
  selection: TaskSelection = { skipped: [], at_risk: [], warnings: [] };

  constructor(
    private readonly evaluator: Evaluator,
    carried: CarriedProgress | undefined,
    /** Evals started before tasks were scheduled ahead replay with the exact schedule they had. */
    scheduleAhead: boolean,
  ) {
    this.progress = {
      phase: 'loading',
      tasks_total: 0,
      tasks_done: 0,
      tasks_failed: 0,
      samples_done: 0,
      samples_passed: 0,
      samples_errored: 0,
      samples_in_flight: 0,
      ...carried,
    };
    this.slots = new RequestSlots(evaluator.n_concurrent + (scheduleAhead ? slotsAhead(evaluator) : 0));
  }

  /** The `progress` query's answer: tasks waiting on a worker beyond n_concurrent are not in flight. */
  snapshot(): EvalProgress {
    return { ...this.progress, samples_in_flight: Math.min(this.slots.inUse, this.evaluator.n_concurrent) };
  }


  /** What continue-as-new carries into the next run: counts only (sampler_down is a worker's report, sent again while it holds). */
  carried(): CarriedProgress {
    const { tasks_done, tasks_failed, samples_done, samples_passed, samples_errored } = this.progress;
    return { tasks_done, tasks_failed, samples_done, samples_passed, samples_errored };
  }

  setPhase(phase: EvalProgress['phase']): void {
    this.progress.phase = phase;
  }

  startScoring(nTasks: number, selection: TaskSelection): void {
    this.progress.tasks_total = nTasks;
    this.progress.phase = 'scoring';
    this.selection = selection;
    if (selection.skipped.length) this.progress.tasks_skipped = selection.skipped.length;
    if (selection.at_risk.length) this.progress.tasks_at_risk = selection.at_risk.length;
  }

  /** The next task may be scheduled: a slot is free and nothing fatal happened. */
  canSchedule(): boolean {
    return this.slots.free > 0 || this.fatal !== undefined;
  }

  samplerHealth(report: SamplerHealthReport): void {
    if (report.down) this.progress.sampler_down = { url: report.url, since: report.since, cause: report.cause };
    else if (this.progress.sampler_down?.url === report.url) delete this.progress.sampler_down;
  }

  taskScored(result: ScoreTaskResult): void {
    this.progress.tasks_done++;
    this.progress.samples_done += result.scored;
    this.progress.samples_passed += result.passed;
  }

  /** Retries are spent: progress counts the whole task as errored; the metrics count exactly the samples the ledger lacks. */
  taskFailed(cause: string): void {
    this.firstTaskFailure ??= cause;
    this.progress.tasks_failed++;
    this.progress.samples_errored += this.evaluator.num_samples;
  }

  /** What the Temporal UI shows as the eval's current details. */
  describe(): string {
    const p = this.progress;
    const passRate = p.samples_done > 0 ? `${((100 * p.samples_passed) / p.samples_done).toFixed(1)}%` : '-';
    return [
      `**${p.phase}**`,
      `tasks ${p.tasks_done + p.tasks_failed}/${p.tasks_total} (${p.tasks_failed} failed${p.tasks_skipped ? `; ${p.tasks_skipped} skipped` : ''})`,
      `samples ${p.samples_done} · running pass rate ${passRate} · ${p.samples_errored} errored`,
      ...(p.sampler_down ? [`sampler ${p.sampler_down.url} unreachable (${p.sampler_down.cause}) since ${p.sampler_down.since}, retrying`] : []),
    ].join('\n\n');
  }
}
