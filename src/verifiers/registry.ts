import { createHash } from 'node:crypto';
import { BadInputError } from '../errors';

/** Scores one completion; the reward is usually 0 or 1. */
export type InProcessVerifier = (
  completion: string,
  expected: unknown,
  params: Record<string, unknown>,
) => number;

interface Registration {
  fn: InProcessVerifier;
  /** Bumped by the verifier's author whenever the same input could get a different reward. */
  version: number;
}

const verifiers = new Map<string, Registration>();

export function registerVerifier(name: string, fn: InProcessVerifier, version = 1): void {
  // A second registration would silently change what an existing benchmark's name means.
  if (verifiers.has(name)) throw new Error(`verifier "${name}" is already registered`);
  verifiers.set(name, { fn, version });
}

export function getVerifier(name: string): InProcessVerifier {
  const registration = verifiers.get(name);
  if (!registration) {
    throw new BadInputError(
      `unknown verifier "${name}"; registered verifiers: ${registeredVerifierNames().join(', ')}`,
    );
  }
  return registration.fn;
}

export function registeredVerifierNames(): string[] {
  return [...verifiers.keys()].sort();
}

/**
 * A short stable hash of every registered verifier's name and version, stamped on stored
 * rewards so a reward computed by different verifier logic can be told apart.
 */
export function verifierVersion(): string {
  const manifest = registeredVerifierNames()
    .map((name) => `${name}@${verifiers.get(name)!.version}`)
    .join('\n');
  return createHash('sha256').update(manifest).digest('hex').slice(0, 12);
}
