import { BadInputError } from '../errors';

/**
 * The text a verifier compares against. Numbers and booleans are accepted because JSON rows
 * often write answers like `"expected": 42`; anything else is a broken task, not a 0 reward.
 */
export function expectedText(verifier: string, expected: unknown): string {
  if (typeof expected === 'string') return expected;
  if (typeof expected === 'number' || typeof expected === 'boolean') return String(expected);
  throw new BadInputError(
    `${verifier}: expected must be a string, got ${expected === undefined ? 'nothing' : JSON.stringify(expected)}`,
  );
}

/** An optional boolean param; a non-boolean (e.g. "yes") is rejected rather than guessed at. */
export function flagParam(verifier: string, params: Record<string, unknown>, name: string): boolean {
  const value = params[name];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new BadInputError(`${verifier}: params.${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The answer text the string verifiers vote on: the stripped completion, lowercased under
 * `ignore_case`; null for a blank completion (no answer to vote for).
 */
export function textAnswer(verifier: string): (completion: string, params: Record<string, unknown>) => string | null {
  return (completion, params) => {
    const text = completion.trim();
    if (text === '') return null;
    return flagParam(verifier, params, 'ignore_case') ? text.toLowerCase() : text;
  };
}
