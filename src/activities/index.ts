import { ApplicationFailure } from '@temporalio/common';
import { BAD_INPUT_ERROR_TYPE, BadInputError } from '../errors';
import { DEFAULT_TRIALS_DIR } from '../harbor/trial-logs';
import type { SampleLedger } from '../ledger/types';
import { aggregateMetricsActivity } from './aggregate';
import { BenchmarkCache } from './benchmark-cache';
import { EvalGates } from './eval-gates';
import { loadBenchmarkActivity } from './load-benchmark';
import { SamplerPool } from './sampler-pool';
import { scoreHarborTaskActivity } from './score-harbor-task';
import { scoreTaskActivity } from './score-task';
import type { ScoreTaskInput } from './types';
import { uploadResultsActivity } from './upload';

export interface ActivityDeps {
  ledger: SampleLedger;
  /** The worker's environment: where API keys are read from, and EVSYS_TRIALS_DIR (harbor trial logs). */
  env: NodeJS.ProcessEnv;
}

/** Bad input becomes a non-retryable failure: no retry can fix a broken config or task file. */
function failFastOnBadInput<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (err instanceof BadInputError) {
        throw ApplicationFailure.create({ type: BAD_INPUT_ERROR_TYPE, message: err.message, nonRetryable: true });
      }
      throw err;
    }
  };
}

/** One scoreTask activity for both engines: a harbor plan's samples are Harbor trials. */
function dispatchByEngine<R>(live: (input: ScoreTaskInput) => Promise<R>, harbor: (input: ScoreTaskInput) => Promise<R>) {
  return async function scoreTask(input: ScoreTaskInput): Promise<R> {
    return input.plan.harbor ? harbor(input) : live(input);
  };
}

/** The worker's activities, built over injected dependencies so tests can pass their own. */
export function createActivities(deps: ActivityDeps) {
  const benchmarks = new BenchmarkCache();
  const samplers = new SamplerPool(deps.env);
  const gates = new EvalGates();
  const trialsDir = deps.env.EVSYS_TRIALS_DIR ?? DEFAULT_TRIALS_DIR;
  const scoreHarborTask = scoreHarborTaskActivity({ benchmarks, samplers, gates, ledger: deps.ledger, trialsDir });
  return {
    loadBenchmark: failFastOnBadInput(loadBenchmarkActivity(benchmarks)),
    scoreTask: failFastOnBadInput(dispatchByEngine(scoreTaskActivity({ benchmarks, samplers, gates, ledger: deps.ledger }), scoreHarborTask)),
    aggregateMetrics: failFastOnBadInput(aggregateMetricsActivity({ benchmarks, ledger: deps.ledger })),
    uploadResults: failFastOnBadInput(uploadResultsActivity({ benchmarks, ledger: deps.ledger, trialsDir })),
  };
}

export type Activities = ReturnType<typeof createActivities>;
