import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { Activities } from '../activities';
import type { BenchmarkSummary, LoadBenchmarkInput } from '../activities/types';
import { benchmarkRefLabel, engineOptionsOf, splitOfTags, uploadProblem } from '../config/evaluator';
import { BAD_INPUT_ERROR_TYPE, FATAL_ERROR_TYPES } from '../errors';
import type { SamplerHealthReport } from '../sampler/client';
import type { EvalPlan } from '../scoring/plan';
import { EvalState } from './eval-state';
import {
  EvaluateBenchmarkInputSchema,
  type EvalProgress,
  type EvaluateBenchmarkInput,
  type EvaluateBenchmarkResult,
  type ParsedEvaluateBenchmarkInput,
  type TaskSelection,
  type UploadOutcome,
} from './io';

type Evaluator = ParsedEvaluateBenchmarkInput['evaluator'];
type BenchmarkSource = Pick<LoadBenchmarkInput, 'path' | 'stored'>;
/** What the eval scores: loadBenchmark's summary, or what continue-as-new carried of it. */
type ScoredBenchmark = BenchmarkSummary | Omit<BenchmarkSummary, 'total_tasks' | 'at_risk' | 'warnings'>;

export const progressQuery = defineQuery<EvalProgress>('progress');
/** What the eval's start left out, found at risk and found suspicious, with why: asked once, when scoring starts. */
export const taskSelectionQuery = defineQuery<TaskSelection>('taskSelection');
/** Workers report their sampler endpoint's health when it changes, so progress can say it is down. */
export const samplerHealthSignal = defineSignal<[SamplerHealthReport]>('samplerHealth');

const SCHEDULE_AHEAD_PATCH = 'schedule-ahead';
/** Evals started before `store` without `run_id` was refused skipped their upload: on replay they still do. */
const STORE_NEEDS_RUN_ID_PATCH = 'store-needs-run-id';

const retryBadInputNever = { nonRetryableErrorTypes: [BAD_INPUT_ERROR_TYPE] };

const { loadBenchmark, aggregateMetrics } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { ...retryBadInputNever, initialInterval: '1s', maximumAttempts: 5 },
});

// Best effort: a dashboard that is down for a few seconds gets a second chance, no more.
const { uploadResults } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { ...retryBadInputNever, initialInterval: '1s', maximumAttempts: 3 },
});

function scoringOptions(evaluator: Evaluator): ActivityOptions {
  return {
    // A sampling activity may legitimately take long; a dead worker is noticed by its
    // missing heartbeats instead, so the retry comes within seconds.
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${evaluator.heartbeat_timeout_s} seconds`,
    retry: {
      ...retryBadInputNever,
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: evaluator.max_task_attempts,
    },
  };
}

/**
 * Scores one checkpoint on one benchmark: one activity per task under a shared cap of sampler
 * requests, then metrics, then a best-effort upload. The workflow carries counts only; task
 * text and completions stay in the workers' sample ledger.
 */
export async function evaluateBenchmark(rawInput: EvaluateBenchmarkInput): Promise<EvaluateBenchmarkResult> {
  const input = parseInput(rawInput);
  const { evaluator } = input;
  refuseSilentUpload(evaluator);
  const source = benchmarkSourceOf(evaluator);
  const state = new EvalState(evaluator, input.resume?.progress, patched(SCHEDULE_AHEAD_PATCH));
  setHandler(progressQuery, () => state.snapshot());
  setHandler(taskSelectionQuery, () => state.selection);
  setHandler(samplerHealthSignal, (report) => {
    state.samplerHealth(report);
    setCurrentDetails(state.describe());
  });

  const benchmark = await benchmarkOf(input, source);
  state.startScoring(benchmark.n_tasks, {
    skipped: benchmark.skipped ?? [],
    at_risk: ('at_risk' in benchmark && benchmark.at_risk) || [],
    warnings: ('warnings' in benchmark && benchmark.warnings) || [],
  });
  const plan = planOf(input, source, benchmark);
  const nextTask = await scoreTasks(evaluator, plan, state, input.resume?.next_task_index ?? 0, benchmark.n_tasks);
  if (nextTask < benchmark.n_tasks) {
    // A long eval's history would outgrow the server's limits: go on in a fresh run that
    // carries only where this one stopped.
    await continueAsNew<typeof evaluateBenchmark>({
      ...input,
      resume: {
        next_task_index: nextTask,
        content_hash: benchmark.content_hash,
        benchmark: { name: benchmark.name, n_tasks: benchmark.n_tasks, stored: benchmark.stored, ...(benchmark.skipped?.length ? { skipped: benchmark.skipped } : {}) },
        progress: state.carried(),
      },
    });
  }

  state.setPhase('aggregating');
  const metrics = await failFast(aggregateMetrics({ plan, metrics: evaluator.metrics, breakdown_keys: evaluator.breakdown_keys, stderr: evaluator.stderr }));
  checkErrorBudget(metrics, benchmark.n_tasks * evaluator.num_samples, evaluator.max_error_rate, state);

  state.setPhase('uploading');
  const upload = await uploadBestEffort(input, plan, benchmark, metrics);
  state.setPhase('done');
  setCurrentDetails(state.describe());
  const { stored } = benchmark;
  return {
    eval_id: workflowInfo().workflowId,
    evaluator: evaluator.name,
    step: input.step,
    benchmark: {
      name: benchmark.name,
      content_hash: benchmark.content_hash,
      n_tasks: benchmark.n_tasks,
      ...(stored && { id: stored.id, version: stored.version }),
      ...(benchmark.skipped?.length ? { skipped: benchmark.skipped } : {}),
    },
    metrics,
    upload,
  };
}

function parseInput(raw: EvaluateBenchmarkInput): ParsedEvaluateBenchmarkInput {
  const parsed = EvaluateBenchmarkInputSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw ApplicationFailure.nonRetryable(
    `invalid workflow input at ${issue.path.join('.') || '(top level)'}: ${issue.message}`,
    BAD_INPUT_ERROR_TYPE,
  );
}

/** A caller that is not evsys's own (a Python client, the `temporal` CLI) gets the check the CLI and Evaluations make. */
function refuseSilentUpload(evaluator: Evaluator): void {
  const problem = uploadProblem(evaluator);
  if (problem && patched(STORE_NEEDS_RUN_ID_PATCH)) throw ApplicationFailure.nonRetryable(`evaluator ${evaluator.name}: ${problem}`, BAD_INPUT_ERROR_TYPE);
}

/** A folder every worker reads, or a benchmark in the entry's store, which each worker fetches. */
function benchmarkSourceOf(evaluator: Evaluator): BenchmarkSource {
  const ref = evaluator.benchmark;
  if ('path' in ref) return { path: ref.path };
  if (evaluator.store) return { stored: { store: evaluator.store, ref } };
  throw ApplicationFailure.nonRetryable(
    `benchmark ${benchmarkRefLabel(ref)} is a stored benchmark: set the entry's store to the store it was pushed to (a SQLite file, postgres:// or http(s):// URL)`,
    BAD_INPUT_ERROR_TYPE,
  );
}

/**
 * The benchmark's size and content hash (and the stored version it is): read by the first run's
 * loadBenchmark, carried by the runs after continue-as-new (every task still checks the hash on
 * its worker).
 */
async function benchmarkOf(input: ParsedEvaluateBenchmarkInput, source: BenchmarkSource): Promise<ScoredBenchmark> {
  const { resume, evaluator } = input;
  if (resume?.benchmark) return { ...resume.benchmark, content_hash: resume.content_hash };
  const benchmark = await failFast(loadBenchmark({ ...source, limit: evaluator.limit, engine: evaluator.engine, evaluator }));
  // Runs continued before the summary was carried read the benchmark again.
  if (resume && resume.content_hash !== benchmark.content_hash) {
    throw ApplicationFailure.nonRetryable(
      `benchmark ${source.path ?? benchmarkRefLabel(evaluator.benchmark)} changed while this eval ran (content hash ${benchmark.content_hash.slice(0, 12)}, started with ${resume.content_hash.slice(0, 12)})`,
      BAD_INPUT_ERROR_TYPE,
    );
  }
  return benchmark;
}

function planOf(input: ParsedEvaluateBenchmarkInput, source: BenchmarkSource, benchmark: ScoredBenchmark): EvalPlan {
  const { evaluator } = input;
  return {
    ledger_key: input.ledger_id ?? workflowInfo().workflowId,
    engine: evaluator.engine,
    rescore_only: input.rescore_only,
    ...(source.path !== undefined ? { benchmark_path: source.path } : { stored_benchmark: { store: source.stored!.store, id: benchmark.stored!.id } }),
    content_hash: benchmark.content_hash,
    limit: evaluator.limit,
    ...(benchmark.skipped?.length ? { skipped: benchmark.skipped } : {}),
    // An eval whose engine asks no model (Harbor's oracle) may have no sampler; its start checked that.
    ...(evaluator.sampler && { sampler: evaluator.sampler }),
    model: input.model_path ?? evaluator.sampler?.model,
    max_tokens: evaluator.max_tokens,
    temperature: evaluator.temperature,
    num_samples: evaluator.num_samples,
    chat_template: evaluator.chat_template,
    tokenizer: evaluator.tokenizer,
    judge: evaluator.judge,
    sandbox: evaluator.sandbox,
    engine_options: engineOptionsOf(evaluator).options,
    model_name: evaluator.model_name,
    workspace_dir: evaluator.workspace_dir,
    step: input.step,
  };
}

/**
 * Schedules one scoreTask per task from `startIndex` while request slots are free, and returns
 * the index of the first task not scheduled: the end, or where continue-as-new must resume.
 */
async function scoreTasks(evaluator: Evaluator, plan: EvalPlan, state: EvalState, startIndex: number, nTasks: number): Promise<number> {
  const options = scoringOptions(evaluator);
  const { scoreTask } = proxyActivities<Activities>(options);
  let taskIndex = startIndex;
  for (; taskIndex < nTasks; taskIndex++) {
    // Every promise a workflow makes costs a stack trace in the SDK's promise hook (a third of
    // the workflow thread's CPU per task): wait only when no slot is free, and settle each task
    // in one handler rather than a then/catch/finally chain. Neither changes the commands: the
    // SDK runs every microtask and condition of an activation before it completes.
    if (!state.canSchedule()) await condition(() => state.canSchedule());
    // Near the history's limit: stop scheduling and let the tasks in flight finish, so no
    // request is abandoned.
    if (state.fatal !== undefined || workflowInfo().continueAsNewSuggested) break;
    const parallelism = state.slots.take(evaluator.num_samples);
    const scheduledIndex = taskIndex;
    const settled = () => {
      state.slots.release(parallelism);
      state.inFlight.delete(scoring);
      setCurrentDetails(state.describe());
    };
    const failed = (err: unknown) => {
      if (isFatal(err) || isCancellation(err)) {
        state.fatal ??= err;
      } else {
        log.warn('task failed after all attempts', { taskIndex: scheduledIndex, error: describeFailure(err) });
        state.taskFailed(describeFailure(err));
      }
    };
    // Labelled so the UI's event list says which task an activity scores.
    const scoring: Promise<void> = scoreTask
      .executeWithOptions({ ...options, summary: `task #${scheduledIndex + 1} of ${nTasks}` }, [
        { plan, task_index: scheduledIndex, parallelism, n_concurrent: evaluator.n_concurrent },
      ])
      .then(
        (result) => {
          // A result the state cannot take counts as the task's failure, not the eval's.
          try {
            state.taskScored(result);
          } catch (err) {
            failed(err);
          }
          settled();
        },
        (err: unknown) => {
          failed(err);
          settled();
        },
      );
    state.inFlight.add(scoring);
  }
  await Promise.all(state.inFlight);
  if (state.fatal !== undefined) throw fatalFailure(state.fatal) ?? state.fatal;
  return taskIndex;
}

/** Bad input (or a service that never answered) fails the eval with the activity's own message and type, not "Activity task failed". */
function fatalFailure(err: unknown): ApplicationFailure | undefined {
  if (!isFatal(err)) return undefined;
  return ApplicationFailure.nonRetryable(describeFailure(err), ((err as ActivityFailure).cause as ApplicationFailure).type);
}

async function failFast<T>(activity: Promise<T>): Promise<T> {
  try {
    return await activity;
  } catch (err) {
    throw fatalFailure(err) ?? err;
  }
}

function isFatal(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && FATAL_ERROR_TYPES.includes(err.cause.type ?? '');
}

function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Too many infrastructure errors make metrics meaningless: fail, keeping the ledger for a retry. */
function checkErrorBudget(metrics: Record<string, number>, totalSamples: number, maxErrorRate: number, state: EvalState): void {
  const errored = metrics.n_errored_samples ?? 0;
  if (totalSamples > 0 && errored / totalSamples > maxErrorRate) {
    const why = state.firstTaskFailure ? ` (the first task to fail: ${state.firstTaskFailure})` : '';
    throw ApplicationFailure.nonRetryable(
      `${errored} of ${totalSamples} samples failed for infrastructure reasons${why}, more than ` +
        `max_error_rate ${maxErrorRate}; the finished samples are kept: start this eval again to draw only the rest`,
      'TooManyErroredSamples',
    );
  }
}

async function uploadBestEffort(input: ParsedEvaluateBenchmarkInput, plan: EvalPlan, benchmark: ScoredBenchmark, metrics: Record<string, number>): Promise<UploadOutcome> {
  const { store, run_id, benchmark_id } = input.evaluator;
  if (!store || !run_id) return { status: 'skipped', reason: 'store and run_id are not both set' };
  // A stored benchmark's tags give the split when the entry sets none (evsys's clients pin it in the input already).
  const split = input.evaluator.split ?? splitOfTags(benchmark.stored?.tags);
  try {
    const uploaded = await uploadResults({ plan, store, run_id, benchmark_id, benchmark_name: benchmark.name, step: input.step, split, metrics });
    return { status: 'ok', eval_record_id: uploaded.eval_record_id, predictions: uploaded.predictions };
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A dashboard failure never fails the eval: the metrics are the product.
    log.warn('upload failed', { error: describeFailure(err) });
    return { status: 'failed', error: describeFailure(err) };
  }
}
