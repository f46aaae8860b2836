import type { SampleScore } from './scores';
import type { SlotLeases } from '../concurrency/fleet-slots';

/**
 * One finished sample, as the ledger keeps it. `stamp` is a hash of everything that determined
 * its completion (model, sampling parameters, chat template, benchmark content, the engine's own
 * options): a sample is reused only under the same stamp. The verifier is not part of it: a
 * completion scored by another verifier version is re-verified, not drawn again.
 */
export interface SampleRecord {
  /**
   * Whose sample this is: the eval's workflow id, or, for a retry or rescore, the eval it
   * redoes (stored in the column `eval_id`, its name before there were retries).
   */
  ledger_key: string;
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
  /**
   * null: the sample ended without a valid reward (a Harbor trial whose verifier timed out or
   * wrote no reward file). It is kept, so it is not drawn again, and left out of every reward
   * metric, as Harbor leaves it out; `details` says why.
   */
  reward: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_s: number;
  attempts: number;
  /** Which verifier, at which version, gave `reward` (verifiers/registry.ts verifierVersionOf). */
  verifier_version: string;
  /** Why generation stopped, as the server said (`stop`, `length` = cut at max_tokens); null when not reported. */
  finish_reason: string | null;
  /** What the engine and verifier add: a code check's output tail, a trial's rewards and folder. Shown in predictions. */
  details: Record<string, unknown> | null;
}

/** Where workers keep finished samples, so a retried or resumed task redoes only missing ones. */
export interface SampleLedger {
  /** Each eval's n_concurrent slots, counted in the same database across every worker that shares it. */
  readonly slots: SlotLeases;
  samplesOf(ledgerKey: string, taskId: string, stamp: string): Promise<SampleRecord[]>;
  record(sample: SampleRecord): Promise<void>;
  /** Every sample of an eval under one stamp, in task and sample order. */
  samplesOfEval(ledgerKey: string, stamp: string): Promise<SampleRecord[]>;
  /** The scores of every sample of an eval under one stamp, in task and sample order, read a page at a time (ledger/scores.ts). */
  scoresOfEval(ledgerKey: string, stamp: string): AsyncIterable<SampleScore>;
  close(): Promise<void>;
}

/**
 * The table's columns, in order, for both dialects. `eval_id` holds SampleRecord.ledger_key;
 * `details` is JSON text.
 */
export const LEDGER_COLUMNS = [
  'eval_id',
  'task_id',
  'task_index',
  'sample_idx',
  'stamp',
  'completion',
  'reasoning',
  'answer',
  'reward',
  'prompt_tokens',
  'completion_tokens',
  'latency_s',
  'attempts',
  'verifier_version',
  'finish_reason',
  'details',
] as const;

/** Columns a ledger written by an earlier evsys may lack; its samples stay usable without them. */
export const LATER_COLUMNS = ['reasoning', 'answer', 'finish_reason', 'details'] as const;

type Row = Record<(typeof LEDGER_COLUMNS)[number], unknown>;

/** A record as the table's row (details as JSON text). */
export function toRow(sample: SampleRecord): Row {
  const { ledger_key, details, ...rest } = sample;
  return { ...rest, eval_id: ledger_key, details: details === null ? null : JSON.stringify(details) };
}

/** A row read back: `details` parsed, absent columns of old rows as null. */
export function fromRow(row: Record<string, unknown>): SampleRecord {
  const { eval_id, details, created_at: _written, ...rest } = row;
  return {
    ...(rest as Omit<SampleRecord, 'ledger_key' | 'details'>),
    ledger_key: eval_id as string,
    reasoning: (rest.reasoning as string | null | undefined) ?? null,
    answer: (rest.answer as string | null | undefined) ?? null,
    finish_reason: (rest.finish_reason as string | null | undefined) ?? null,
    details: typeof details === 'string' ? JSON.parse(details) : ((details as Record<string, unknown> | null | undefined) ?? null),
  };
}
