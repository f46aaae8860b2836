import { Context } from '@temporalio/activity';
import type { SampleLedger } from '../ledger/types';
import { readTrialSummary, trialDir } from '../harbor/trial-logs';
import { openResultsStore } from '../store/open-store';
import type { PredictionRow } from '../store/types';
import { verifierVersion } from '../verifiers';
import type { BenchmarkCache } from './benchmark-cache';
import { runPool } from './run-pool';
import { sampleStamp } from './stamp';
import type { UploadInput, UploadResult } from './types';

export interface UploadDeps {
  benchmarks: BenchmarkCache;
  ledger: SampleLedger;
  /** Where harbor trials keep their logs on this worker (trial-logs.ts). */
  trialsDir: string;
}

/**
 * A harbor prediction names its trial's log folder, and carries the rewards from its
 * result.json when this worker ran the trial (or shares its disk).
 */
async function trialReference(dir: string): Promise<Record<string, unknown>> {
  const summary = await readTrialSummary(dir);
  return { trial_dir: dir, ...(summary ? { rewards: summary.rewards, verifier_exit_code: summary.verifier_exit_code } : {}) };
}

const TRIAL_READS_AT_ONCE = 16;

/** SPEC.md's upload: one eval record, then one prediction row per (task, sample). */
export function uploadResultsActivity(deps: UploadDeps) {
  return async function uploadResults(input: UploadInput): Promise<UploadResult> {
    const { plan } = input;
    const benchmark = await deps.benchmarks.forPlan(plan);
    const stamp = sampleStamp(plan);
    const samples = await deps.ledger.samplesOfEval(plan.eval_id, stamp);
    const tasks = new Map(benchmark.tasks.map((task) => [task.task_id, task]));
    const predictions: PredictionRow[] = samples.flatMap((sample) => {
      const task = tasks.get(sample.task_id);
      if (!task) return [];
      return [{
        kind: 'eval' as const,
        task_id: sample.task_id,
        sample_idx: sample.sample_idx,
        step: input.step,
        instruction: task.instruction,
        expected: task.verifier?.kind === 'in_process' ? task.verifier.expected : undefined,
        completion: sample.completion,
        reward: sample.reward,
        metadata: {
          ...task.metadata,
          reasoning: sample.reasoning,
          latency_s: sample.latency_s,
          prompt_tokens: sample.prompt_tokens,
          completion_tokens: sample.completion_tokens,
        },
      }];
    });
    if (plan.harbor) {
      // A few files at a time: an eval of many trials must not open them all at once.
      await runPool(predictions, TRIAL_READS_AT_ONCE, async (row) => {
        Object.assign(row.metadata, await trialReference(trialDir(deps.trialsDir, plan.eval_id, stamp, row.task_id, row.sample_idx)));
      });
    }
    const store = openResultsStore(input.store);
    try {
      const evalRecordId = await store.recordEval(
        {
          run_id: input.run_id,
          benchmark_id: input.benchmark_id ?? input.benchmark_name,
          step: input.step,
          split: input.split ?? null,
          metrics: input.metrics,
          workflow_id: Context.current().info.workflowExecution?.workflowId ?? plan.eval_id,
          verifier_version: verifierVersion(),
        },
        predictions,
      );
      return { eval_record_id: evalRecordId, predictions: predictions.length };
    } finally {
      await store.close();
    }
  };
}
