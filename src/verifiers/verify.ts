import type { VerifierSpec } from '../benchmark/task';
import { BadInputError } from '../errors';
import { getVerifier } from './registry';

/** The reward for one completion under a task's verifier spec. */
export function verify(spec: VerifierSpec, completion: string): number {
  // No default case: a new kind in VerifierSpec fails the type check here until it is handled.
  switch (spec.kind) {
    case 'in_process': {
      const reward = getVerifier(spec.fn_name)(completion, spec.expected, spec.params);
      // A NaN or infinite reward would silently poison every mean it enters.
      if (!Number.isFinite(reward)) {
        throw new BadInputError(`verifier "${spec.fn_name}" returned a non-finite reward: ${reward}`);
      }
      return reward;
    }
    case 'e2b':
    case 'llm_judge':
      throw new BadInputError(`verifier kind "${spec.kind}" is not supported yet in this build`);
  }
}
