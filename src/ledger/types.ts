/**
 * One finished sample, as the ledger keeps it. `stamp` is a hash of everything that determined
 * it (model, sampling parameters, chat template, benchmark content, verifier version): a
 * sample is reused only under the same stamp.
 */
export interface SampleRecord {
  eval_id: string;
  task_id: string;
  task_index: number;
  sample_idx: number;
  stamp: string;
  /** The model's whole output, reasoning included. */
  completion: string;
  /** The think block's content, when the output had one. */
  reasoning: string | null;
  /** The verifier's normalised final answer, for majority voting. */
  answer: string | null;
  reward: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_s: number;
  attempts: number;
  verifier_version: string;
}

/** Where workers keep finished samples, so a retried or resumed task redoes only missing ones. */
export interface SampleLedger {
  samplesOf(evalId: string, taskId: string, stamp: string): Promise<SampleRecord[]>;
  record(sample: SampleRecord): Promise<void>;
  /** Every sample of an eval under one stamp, in task and sample order. */
  samplesOfEval(evalId: string, stamp: string): Promise<SampleRecord[]>;
  close(): Promise<void>;
}
