/**
 * What metrics read of one finished sample: its score and usage, never its completion text, so
 * aggregating an eval holds a few numbers per sample (ledger/types.ts has the whole record).
 */
export interface SampleScore {
  task_id: string;
  task_index: number;
  sample_idx: number;
  reward: number | null;
  answer: string | null;
  latency_s: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  finish_reason: string | null;
}

export const SCORE_COLUMNS = ['task_id', 'task_index', 'sample_idx', 'reward', 'answer', 'latency_s', 'prompt_tokens', 'completion_tokens', 'finish_reason'] as const;

/** Rows per page: a page, not the eval, is in memory at once. */
export const SCORES_PAGE_ROWS = 10_000;

/** Where a page ends: the next page starts after it. (task_index, sample_idx) is unique under one stamp, which fixes the benchmark's contents. */
export interface ScoresCursor {
  task_index: number;
  sample_idx: number;
}

/**
 * An eval's scores in task and sample order, a page at a time (keyset pagination on the ledger's
 * (eval_id, stamp, task_index, sample_idx) index). Each page is read whole before it is
 * yielded, so no query stays open between pages while other activities of the worker write.
 */
export async function* pagedScores(readPage: (after: ScoresCursor, limit: number) => Promise<SampleScore[]>): AsyncGenerator<SampleScore> {
  let after: ScoresCursor = { task_index: -1, sample_idx: -1 };
  for (;;) {
    const page = await readPage(after, SCORES_PAGE_ROWS);
    yield* page;
    if (page.length < SCORES_PAGE_ROWS) return;
    const last = page[page.length - 1];
    after = { task_index: last.task_index, sample_idx: last.sample_idx };
  }
}
