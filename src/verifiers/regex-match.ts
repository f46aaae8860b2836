import { BadInputError } from '../errors';
import { expectedText, flagParam, textAnswer } from './inputs';
import { registerVerifier } from './registry';

/** Bump when any input's reward changes (see verifierVersion). */
const VERSION = 1;

/**
 * 1 when the pattern in `expected` matches anywhere in the completion, like Python's
 * `re.search` (anchor with ^ and $ for a full match); `ignore_case` adds the `i` flag.
 * The pattern is JavaScript syntax: Python-only forms such as `(?P<name>...)` are rejected.
 */
function regexMatch(completion: string, expected: unknown, params: Record<string, unknown>): number {
  const source = expectedText('regex_match', expected);
  const flags = flagParam('regex_match', params, 'ignore_case') ? 'i' : '';
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, flags);
  } catch (err) {
    throw new BadInputError(`regex_match: invalid pattern ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  return pattern.test(completion) ? 1 : 0;
}

registerVerifier('regex_match', regexMatch, { version: VERSION, extract: textAnswer('regex_match') });
