import { expectedText, flagParam, textAnswer } from './inputs';
import { registerVerifier } from './registry';

/** Bump when any input's reward changes (see verifierVersion). */
const VERSION = 1;

/** 1 when the completion equals `expected` after trimming both; `ignore_case` folds case. */
function exactMatch(completion: string, expected: unknown, params: Record<string, unknown>): number {
  const fold = flagParam('exact_match', params, 'ignore_case')
    ? (text: string) => text.trim().toLowerCase()
    : (text: string) => text.trim();
  return fold(completion) === fold(expectedText('exact_match', expected)) ? 1 : 0;
}

registerVerifier('exact_match', exactMatch, { version: VERSION, extract: textAnswer('exact_match') });
