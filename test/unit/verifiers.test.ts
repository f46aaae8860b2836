import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import {
  getVerifier,
  registeredVerifierNames,
  registerVerifier,
  verifierVersion,
  verify,
} from '../../src/verifiers';

function inProcess(fn_name: string, expected: unknown, params: Record<string, unknown> = {}): VerifierSpec {
  return { kind: 'in_process', fn_name, expected, params };
}

describe('exact_match', () => {
  it('compares after stripping both sides', async () => {
    expect((await verify(inProcess('exact_match', ' 42\n'), '\t42  \n')).reward).toBe(1);
    expect((await verify(inProcess('exact_match', '42'), '4 2')).reward).toBe(0);
    expect((await verify(inProcess('exact_match', '42'), 'The answer is 42')).reward).toBe(0);
  });

  it('is case-sensitive unless ignore_case is set', async () => {
    expect((await verify(inProcess('exact_match', 'Paris'), 'paris')).reward).toBe(0);
    expect((await verify(inProcess('exact_match', 'Paris', { ignore_case: false }), 'paris')).reward).toBe(0);
    expect((await verify(inProcess('exact_match', 'Paris', { ignore_case: true }), ' PARIS ')).reward).toBe(1);
  });

  it('accepts a numeric expected value and rejects a missing one', async () => {
    expect((await verify(inProcess('exact_match', 42), '42')).reward).toBe(1);
    await expect(verify(inProcess('exact_match', undefined), '42')).rejects.toThrow(BadInputError);
    await expect(verify(inProcess('exact_match', { a: 1 }), '42')).rejects.toThrow(/exact_match: expected must be a string/);
  });

  it('rejects a non-boolean ignore_case', async () => {
    await expect(verify(inProcess('exact_match', 'a', { ignore_case: 'yes' }), 'a')).rejects.toThrow(BadInputError);
    await expect(verify(inProcess('exact_match', 'a', { ignore_case: 'yes' }), 'a')).rejects.toThrow(/params\.ignore_case/);
  });
});

describe('contains', () => {
  it('finds a substring anywhere', async () => {
    expect((await verify(inProcess('contains', 'blue'), 'The sky is blue today')).reward).toBe(1);
    expect((await verify(inProcess('contains', 'green'), 'The sky is blue today')).reward).toBe(0);
  });

  it('is case-sensitive unless ignore_case is set', async () => {
    expect((await verify(inProcess('contains', 'Blue'), 'the sky is BLUE')).reward).toBe(0);
    expect((await verify(inProcess('contains', 'Blue', { ignore_case: true }), 'the sky is BLUE')).reward).toBe(1);
  });
});

describe('regex_match', () => {
  it('searches anywhere in the completion, like re.search', async () => {
    expect((await verify(inProcess('regex_match', '\\d{3}'), 'code 123 here')).reward).toBe(1);
    expect((await verify(inProcess('regex_match', '^\\d{3}$'), 'code 123 here')).reward).toBe(0);
    expect((await verify(inProcess('regex_match', 'answer:\\s*(yes|no)'), 'final answer: no')).reward).toBe(1);
  });

  it('is case-sensitive unless ignore_case is set', async () => {
    expect((await verify(inProcess('regex_match', '^yes'), 'YES indeed')).reward).toBe(0);
    expect((await verify(inProcess('regex_match', '^yes', { ignore_case: true }), 'YES indeed')).reward).toBe(1);
  });

  it('names an invalid pattern in a BadInputError', async () => {
    const spec = inProcess('regex_match', '(unclosed');
    await expect(verify(spec, 'x')).rejects.toThrow(BadInputError);
    await expect(verify(spec, 'x')).rejects.toThrow(/invalid pattern "\(unclosed"/);
  });
});

describe('verify dispatch', () => {
  it('rejects an e2b spec whose default test_sh has no test_state_py, and an llm_judge without a judge', async () => {
    const e2b: VerifierSpec = { kind: 'e2b', test_sh: 'pytest -q test_state.py' };
    const judge: VerifierSpec = { kind: 'llm_judge', rubric: 'be right' };
    await expect(verify(e2b, 'x')).rejects.toThrow(BadInputError);
    await expect(verify(e2b, 'x')).rejects.toThrow(/test_sh runs test_state.py but the task has no test_state_py/);
    await expect(verify(judge, 'x')).rejects.toThrow(BadInputError);
    await expect(verify(judge, 'x')).rejects.toThrow('llm_judge needs a `judge` config');
  });

  it('rejects an unknown verifier name, listing the registered names sorted', async () => {
    await expect(verify(inProcess('fuzzy_match', 'a'), 'a')).rejects.toThrow(BadInputError);
    // Runs before this file registers its own verifiers, so only the built-ins are listed.
    expect(registeredVerifierNames()).toEqual(['contains', 'exact_match', 'math_equal', 'regex_match', 'tool_calls_match']);
    expect(() => getVerifier('fuzzy_match')).toThrow(
      'unknown verifier "fuzzy_match"; registered verifiers: contains, exact_match, math_equal, regex_match, tool_calls_match',
    );
  });

  it('runs user-registered verifiers with their params, and rejects a non-finite reward', async () => {
    registerVerifier('length_at_least', (completion, _expected, params) =>
      completion.length >= Number(params.min) ? 1 : 0.5,
    );
    expect((await verify(inProcess('length_at_least', undefined, { min: 3 }), 'abcd')).reward).toBe(1);
    expect((await verify(inProcess('length_at_least', undefined, { min: 10 }), 'abcd')).reward).toBe(0.5);

    registerVerifier('broken', () => Number.NaN);
    await expect(verify(inProcess('broken', 'a'), 'a')).rejects.toThrow(/verifier "broken" returned a non-finite reward/);
  });

  it('refuses to register a name twice', async () => {
    expect(() => registerVerifier('exact_match', () => 1)).toThrow(/already registered/);
    expect((await verify(inProcess('exact_match', 'a'), 'b')).reward).toBe(0);
  });
});

describe('verifierVersion', () => {
  it('is a short stable hash that changes when a verifier is registered', () => {
    const before = verifierVersion();
    expect(before).toMatch(/^[0-9a-f]{12}$/);
    expect(verifierVersion()).toBe(before);
    registerVerifier('always_one', () => 1, 3);
    expect(verifierVersion()).not.toBe(before);
  });
});
