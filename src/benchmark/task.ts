import { z } from 'zod';

/** `in_process`: a registered function of (completion, expected, params) -> reward. */
export const InProcessVerifierSchema = z.object({
  kind: z.literal('in_process'),
  fn_name: z.string().min(1),
  expected: z.unknown().optional(),
  params: z.record(z.string(), z.unknown()).default({}),
});

/** Sandboxed code check (docs/scoring.md, `e2b`), run locally under bubblewrap (verifiers/e2b.ts); `dockerfile` is ignored there. */
export const E2bVerifierSchema = z.looseObject({
  kind: z.literal('e2b'),
  dockerfile: z.string().optional(),
  test_sh: z.string().default('pytest -q test_state.py'),
  test_state_py: z.string().optional(),
});

/**
 * A plain-program code check (docs/scoring.md, `program`; verifiers/program.ts): the completion's
 * code, then `test_program`, run as one Python file in the `e2b` sandbox; exit code 0 passes.
 * Strict, so a misspelt key is an error instead of a setting silently ignored.
 */
export const ProgramVerifierSchema = z.strictObject({
  kind: z.literal('program'),
  test_program: z.string().refine((source) => source.trim() !== '', 'must hold the test code: an empty one would pass every completion that runs'),
});

/** A judge model scores the completion against a rubric (docs/scoring.md, `llm_judge`). */
export const LlmJudgeVerifierSchema = z.looseObject({
  kind: z.literal('llm_judge'),
  judge_model: z.string().optional(),
  rubric: z.string(),
  /** The judge's scale, 0..max_score; without it the scale is read from the score (verifiers/llm-judge.ts). */
  max_score: z.number().positive().optional(),
});

export const VerifierSpecSchema = z.discriminatedUnion('kind', [
  InProcessVerifierSchema,
  E2bVerifierSchema,
  ProgramVerifierSchema,
  LlmJudgeVerifierSchema,
]);
export type VerifierSpec = z.infer<typeof VerifierSpecSchema>;

/** One line of `tasks.jsonl`. */
export const TaskSchema = z.object({
  task_id: z.string().min(1),
  instruction: z.string(),
  verifier: VerifierSpecSchema,
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type Task = z.infer<typeof TaskSchema>;

/** What every task has, whichever engine scores it: all that metrics and upload read. */
export type TaskInfo = Pick<Task, 'task_id' | 'instruction' | 'metadata'>;
