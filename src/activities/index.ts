import { ApplicationFailure } from '@temporalio/common';
import { BAD_INPUT_ERROR_TYPE, BadInputError } from '../errors';
import type { SampleLedger } from '../ledger/types';
import { aggregateMetricsActivity } from './aggregate';
import { BenchmarkCache } from './benchmark-cache';
import { EvalGates } from './eval-gates';
import { loadBenchmarkActivity } from './load-benchmark';
import { SamplerPool } from './sampler-pool';
import { scoreTaskActivity } from './score-task';
import { uploadResultsActivity } from './upload';

export interface ActivityDeps {
  ledger: SampleLedger;
  /** The worker's environment: where API keys are read from. */
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

/** The worker's activities, built over injected dependencies so tests can pass their own. */
export function createActivities(deps: ActivityDeps) {
  const benchmarks = new BenchmarkCache();
  const samplers = new SamplerPool(deps.env);
  const gates = new EvalGates();
  return {
    loadBenchmark: failFastOnBadInput(loadBenchmarkActivity(benchmarks)),
    scoreTask: failFastOnBadInput(scoreTaskActivity({ benchmarks, samplers, gates, ledger: deps.ledger })),
    aggregateMetrics: failFastOnBadInput(aggregateMetricsActivity({ benchmarks, ledger: deps.ledger })),
    uploadResults: failFastOnBadInput(uploadResultsActivity({ benchmarks, ledger: deps.ledger })),
  };
}

export type Activities = ReturnType<typeof createActivities>;
