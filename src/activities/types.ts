import type { ChatTemplate, HarborOptions, SamplerConfig } from '../config/evaluator';

/**
 * Everything that determines one eval's samples, sent with each activity. It is compact (no
 * task text): workers read the benchmark from `benchmark_path` and check `content_hash`.
 */
export interface EvalPlan {
  /** The ledger key of this eval's samples: its workflow id, or the eval it retries or rescores. */
  eval_id: string;
  /** Re-verify stored completions only; a sample the ledger lacks is not drawn but errored. */
  rescore_only: boolean;
  benchmark_path: string;
  content_hash: string;
  limit?: number | null;
  sampler: SamplerConfig;
  /** The request's `model`: `model_path` when given, else `sampler.model`. */
  model: string;
  max_tokens: number;
  temperature: number;
  num_samples: number;
  chat_template: ChatTemplate;
  /** Tokenizer folder or package: the chat template of the `completions` sampler mode. */
  tokenizer?: string | null;
  judge?: SamplerConfig | null;
  sandbox: { timeout_s: number; memory_mb: number };
  /** Present exactly when the engine is `harbor`: each sample is a Harbor trial (src/harbor/). */
  harbor?: HarborOptions;
}

export interface LoadBenchmarkInput {
  path: string;
  limit?: number | null;
  /** `harbor` also reads Harbor task directories; see src/harbor/dataset.ts. */
  engine?: string;
}

export interface BenchmarkSummary {
  name: string;
  n_tasks: number;
  total_tasks: number;
  content_hash: string;
}

export interface ScoreTaskInput {
  plan: EvalPlan;
  task_index: number;
  /** Sampler requests this activity may have in flight: its share of `n_concurrent`. */
  parallelism: number;
  /** The eval's `n_concurrent`, which all its tasks on this worker share (see eval-gates.ts). */
  n_concurrent: number;
}

export interface ScoreTaskResult {
  task_id: string;
  scored: number;
  passed: number;
  /** Samples taken from the ledger instead of being drawn again. */
  reused: number;
}

export interface AggregateInput {
  plan: EvalPlan;
  metrics: string[];
  breakdown_keys: string[];
  stderr: boolean;
}

export interface UploadInput {
  plan: EvalPlan;
  store: string;
  run_id: string;
  benchmark_id?: string | null;
  benchmark_name: string;
  step: number;
  split?: string | null;
  metrics: Record<string, number>;
}

export interface UploadResult {
  eval_record_id: string;
  predictions: number;
}
