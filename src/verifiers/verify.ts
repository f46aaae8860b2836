import type { VerifierSpec } from '../benchmark/task';
import { BadInputError } from '../errors';
import type { Verdict, VerifyContext } from './context';
import { verifyE2b } from './e2b';
import { verifyLlmJudge } from './llm-judge';
import { checkTestPrograms, verifyProgram } from './program';
import { getAnswerExtractor, getVerifier } from './registry';

/** A verifier's judgement of one completion: the reward, and what it saw that a person may want (a test run's output). */

/**
 * The verdict on one completion under a task's verifier spec. Rejects with BadInputError for a
 * broken task or config, VerifierInfraError when the sandbox or judge fails (retryable, never
 * a 0), and the signal's reason when ctx.signal aborts.
 */
export async function verify(spec: VerifierSpec, completion: string, ctx: VerifyContext = {}): Promise<Verdict> {
  // No default case: a new kind in VerifierSpec fails the type check here until it is handled.
  switch (spec.kind) {
    case 'in_process':
      return { reward: finiteReward(spec.fn_name, getVerifier(spec.fn_name)(completion, spec.expected, spec.params)) };
    case 'e2b':
      return verifyE2b(spec, completion, ctx);
    case 'program':
      return verifyProgram(spec, completion, ctx);
    case 'llm_judge':
      return { reward: finiteReward('llm_judge', await verifyLlmJudge(spec, completion, ctx)) };
  }
}

/**
 * Checks the tasks' verifiers before any sampling, so a typo on line 60 stops the eval before the
 * first request instead of after the first 59 tasks: each one's own checks (checkVerifierSpec),
 * then, in one Python, whether the program tasks' test programs compile.
 */
export function checkVerifierSpecs(tasks: { spec: VerifierSpec; where: string }[], eval_: { judge: boolean }): void {
  for (const { spec, where } of tasks) checkVerifierSpec(spec, where, eval_);
  checkTestPrograms(tasks.flatMap(({ spec, where }) => (spec.kind === 'program' ? [{ testProgram: spec.test_program, where }] : [])));
}

/**
 * One task's verifier: the kind, the registered name, and the task's `expected` and `params`.
 * In-process verifiers are pure, so their inputs are checked by scoring an empty completion
 * once: a verifier that rejects its inputs does so then. `where` (file:line: task id) prefixes
 * the error; `eval_` says what the eval provides.
 */
function checkVerifierSpec(spec: VerifierSpec, where: string, eval_: { judge: boolean }): void {
  try {
    if (spec.kind === 'in_process') getVerifier(spec.fn_name)('', spec.expected, spec.params);
    if (spec.kind === 'llm_judge' && !eval_.judge) throw new BadInputError('llm_judge needs the eval\'s `judge` config (an OpenAI-compatible endpoint like `sampler`)');
    if (spec.kind === 'e2b' && spec.test_state_py === undefined && spec.test_sh.includes('test_state.py')) {
      throw new BadInputError('e2b: test_sh runs test_state.py but the task has no test_state_py');
    }
  } catch (err) {
    if (err instanceof BadInputError) throw new BadInputError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * The completion's normalized answer under the spec's verifier, for majority voting: equal
 * strings are the same answer. null when the verifier has no extractor (e2b, llm_judge, a user
 * verifier registered without one) or the completion gives no answer it can read.
 */
export function extractAnswer(spec: VerifierSpec, completion: string): string | null {
  if (spec.kind !== 'in_process') return null;
  const extract = getAnswerExtractor(spec.fn_name);
  return extract ? extract(completion, spec.params) : null;
}

function finiteReward(verifier: string, reward: number): number {
  // A NaN or infinite reward would silently poison every mean it enters.
  if (!Number.isFinite(reward)) {
    throw new BadInputError(`verifier "${verifier}" returned a non-finite reward: ${reward}`);
  }
  return reward;
}
