import { Context } from '@temporalio/activity';
import type { SampleLedger } from '../ledger/types';
import { openResultsStore } from '../store/open-store';
import type { PredictionRow } from '../store/types';
import { verifierVersion } from '../verifiers';
import type { BenchmarkCache } from './benchmark-cache';
import { sampleStamp } from './stamp';
import type { UploadInput, UploadResult } from './types';

export interface UploadDeps {
  benchmarks: BenchmarkCache;
  ledger: SampleLedger;
}

/** SPEC.md's upload: one eval record, then one prediction row per (task, sample). */
export function uploadResultsActivity(deps: UploadDeps) {
  return async function uploadResults(input: UploadInput): Promise<UploadResult> {
    const { plan } = input;
    const benchmark = await deps.benchmarks.get(plan.benchmark_path, plan.limit, plan.content_hash);
    const samples = await deps.ledger.samplesOfEval(plan.eval_id, sampleStamp(plan));
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
        expected: task.verifier.kind === 'in_process' ? task.verifier.expected : undefined,
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
