import type { VerifierSpec } from '../benchmark/task';
import { BadInputError } from '../errors';
import type { VerifyContext } from './context';
import { verifyE2b } from './e2b';
import { verifyLlmJudge } from './llm-judge';
import { getAnswerExtractor, getVerifier } from './registry';

/**
 * The reward for one completion under a task's verifier spec. Rejects with BadInputError for a
 * broken task or config, VerifierInfraError when the sandbox or judge fails (retryable, never
 * a 0), and the signal's reason when ctx.signal aborts.
 */
export async function verify(spec: VerifierSpec, completion: string, ctx: VerifyContext = {}): Promise<number> {
  // No default case: a new kind in VerifierSpec fails the type check here until it is handled.
  switch (spec.kind) {
    case 'in_process':
      return finiteReward(spec.fn_name, getVerifier(spec.fn_name)(completion, spec.expected, spec.params));
    case 'e2b':
      return verifyE2b(spec, completion, ctx);
    case 'llm_judge':
      return finiteReward('llm_judge', await verifyLlmJudge(spec, completion, ctx));
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
