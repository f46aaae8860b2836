import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { verify } from '../../src/verifiers';

function spec(expected: unknown): VerifierSpec {
  return { kind: 'in_process', fn_name: 'math_equal', expected, params: {} };
}

async function equal(expected: unknown, completion: string): Promise<number> {
  return (await verify(spec(expected), completion)).reward;
}

describe('math_equal: where the final answer is read', () => {
  it('takes the last \\boxed{} with balanced braces', async () => {
    expect(await equal(5, 'First \\boxed{3}, on second thought \\boxed{5}')).toBe(1);
    expect(await equal(3, 'First \\boxed{3}, on second thought \\boxed{5}')).toBe(0);
    expect(await equal('1/2', 'So $\\boxed{\\frac{1}{2}}$.')).toBe(1);
    expect(await equal('1/2', 'So $\\boxed{\\frac{1}{2}}$ and the 7 steps are done')).toBe(1);
    expect(await equal('x^{2}+1', 'The result is \\boxed{x^{2} + 1}')).toBe(1);
  });

  it('takes the last number when there is no box', async () => {
    expect(await equal(42, 'Adding 40 and 2 gives 42.')).toBe(1);
    expect(await equal(40, 'Adding 40 and 2 gives 42.')).toBe(0);
    expect(await equal(-7, 'The temperature fell to -7')).toBe(1);
    expect(await equal(2, 'Subtract: 5-3 = 2')).toBe(1);
    expect(await equal(1000000, 'That costs $1,000,000.')).toBe(1);
    expect(await equal(0.75, 'the answer is 3/4')).toBe(1);
    expect(await equal(0.5, 'so x = \\frac{1}{2}')).toBe(1);
    expect(await equal(-0.5, 'so x = -\\frac{1}{2}')).toBe(1);
    expect(await equal(3.25, 'It is 3.25.')).toBe(1);
    expect(await equal(1500, 'about 1.5e3')).toBe(1);
  });

  it('gives 0 when the completion has no answer at all', async () => {
    expect(await equal(4, 'I do not know.')).toBe(0);
    expect(await equal(4, '')).toBe(0);
    expect(await equal(4, 'Answer: \\boxed{}')).toBe(0);
  });
});

describe('math_equal: equivalences', () => {
  it.each([
    [0.5, '\\boxed{1/2}'],
    [0.5, '\\boxed{\\frac{1}{2}}'],
    [0.5, '\\boxed{\\dfrac{1}{2}}'],
    [0.5, '\\boxed{\\tfrac12}'],
    [0.5, '\\boxed{\\frac 1 2}'],
    ['1/2', '\\boxed{0.5}'],
    ['\\frac{1}{2}', '\\boxed{0.50}'],
    ['2/4', '\\boxed{1/2}'],
    [-0.5, '\\boxed{-\\frac{1}{2}}'],
    [-0.5, '\\boxed{\\frac{-1}{2}}'],
    [-0.5, '\\boxed{−1/2}'],
    ['-3', '\\boxed{-3}'],
    [1000, '\\boxed{1,000}'],
    [1000, '\\boxed{1{,}000}'],
    [1000, '\\boxed{1\\,000}'],
    ['1,000', '\\boxed{1000}'],
    [1234567.5, '\\boxed{1,234,567.5}'],
    [50, '\\boxed{50\\%}'],
    [50, '\\boxed{50%}'],
    [12, '\\boxed{$12$}'],
    [12, '\\boxed{\\$12}'],
    [5, '\\boxed{5\\text{ cm}}'],
    [5, '\\boxed{\\text{5}}'],
    [5, '\\boxed{5.}'],
    [5, '\\boxed{x = 5}'],
    [90, '\\boxed{90^\\circ}'],
    [90, '\\boxed{90^{\\circ}}'],
    [3, '\\boxed{3.0}'],
    [3, '\\boxed{+3}'],
    [0.1, '\\boxed{0.1000000000001}'],
    [1 / 3, '\\boxed{1/3}'],
    ['42', '\\boxed{{42}}'],
    ['\\boxed{7} is the official answer', 'so \\boxed{7}'],
    ['$\\frac{3}{4}$', '\\boxed{0.75}'],
    ['(1, 2)', '\\boxed{(1,2)}'],
    ['\\text{yes}', '\\boxed{yes}'],
  ])('%s equals %s', async (expected, completion) => {
    expect(await equal(expected, completion)).toBe(1);
  });

  it.each([
    [0.5, '\\boxed{0.51}'],
    [0.5, '\\boxed{-0.5}'],
    [1 / 3, '\\boxed{0.333333}'],
    [0.1, '\\boxed{0.100001}'],
    [1000, '\\boxed{1,0}'],
    [12, '\\boxed{1,2}'],
    [5, '\\boxed{5 apples}'],
    [2, '\\boxed{\\sqrt{4}}'],
    ['x+1', '\\boxed{x-1}'],
    ['(1, 2)', '\\boxed{(2, 1)}'],
    [0, '\\boxed{1e-300}'],
    [0.5, '\\boxed{1/0}'],
  ])('%s does not equal %s', async (expected, completion) => {
    expect(await equal(expected, completion)).toBe(0);
  });
});

describe('math_equal: expected', () => {
  it('rejects a missing, blank or non-scalar expected answer', async () => {
    await expect(equal(undefined, '\\boxed{1}')).rejects.toThrow(BadInputError);
    await expect(equal('  ', '\\boxed{1}')).rejects.toThrow(/expected is blank/);
    await expect(equal([1], '\\boxed{1}')).rejects.toThrow(/math_equal: expected must be a number or a string/);
    await expect(equal(Number.NaN, '\\boxed{1}')).rejects.toThrow(/finite number/);
  });
});
