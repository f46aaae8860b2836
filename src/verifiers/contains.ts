import { expectedText, flagParam, textAnswer } from './inputs';
import { registerVerifier } from './registry';

/** Bump when any input's reward changes (see verifierVersion). */
const VERSION = 1;

/** 1 when `expected` occurs anywhere in the completion; `ignore_case` folds case. */
function contains(completion: string, expected: unknown, params: Record<string, unknown>): number {
  const needle = expectedText('contains', expected);
  return flagParam('contains', params, 'ignore_case')
    ? Number(completion.toLowerCase().includes(needle.toLowerCase()))
    : Number(completion.includes(needle));
}

registerVerifier('contains', contains, { version: VERSION, extract: textAnswer('contains') });
