import { BadInputError } from '../errors';

/** A sample passes at full reward; partial credit does not count as a pass. */
export const PASS_REWARD = 1.0;

export function countPasses(rewards: number[]): number {
  let passed = 0;
  for (const reward of rewards) if (reward >= PASS_REWARD) passed++;
  return passed;
}

/** The k of a family name such as `pass@8`; k counts samples, so it must be a whole number >= 1. */
export function parseK(name: string, digits: string): number {
  const k = Number(digits);
  if (!Number.isSafeInteger(k) || k < 1) throw new BadInputError(`metric "${name}": k must be an integer >= 1, got ${digits}`);
  return k;
}
