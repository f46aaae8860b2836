import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { BadInputError } from '../../src/errors';
import { extractAnswer, registerVerifier, verify } from '../../src/verifiers';

function inProcess(fn_name: string, params: Record<string, unknown> = {}): VerifierSpec {
  return { kind: 'in_process', fn_name, expected: 'unused', params };
}

describe('extractAnswer', () => {
  it('gives math_equal the canonical value, so equivalent answers vote together', () => {
    const math = inProcess('math_equal');
    expect(extractAnswer(math, 'so \\boxed{\\frac{2}{4}}')).toBe('1/2');
    expect(extractAnswer(math, 'it is 0.5.')).toBe('1/2');
    expect(extractAnswer(math, '\\boxed{\\dfrac12}')).toBe('1/2');
    expect(extractAnswer(math, '\\boxed{1,000}')).toBe('1000');
    expect(extractAnswer(math, 'The answer is $-3.0$.')).toBe('-3');
    expect(extractAnswer(math, '\\boxed{x = 5}')).toBe('5');
    expect(extractAnswer(math, '\\boxed{(1, 2)}')).toBe('(1,2)');
    expect(extractAnswer(math, 'no idea')).toBeNull();
  });

  it('gives the string verifiers the stripped text, lowercased under ignore_case', () => {
    expect(extractAnswer(inProcess('exact_match'), '  Paris \n')).toBe('Paris');
    expect(extractAnswer(inProcess('exact_match', { ignore_case: true }), '  Paris \n')).toBe('paris');
    expect(extractAnswer(inProcess('contains', { ignore_case: true }), 'BLUE sky')).toBe('blue sky');
    expect(extractAnswer(inProcess('regex_match'), ' Yes ')).toBe('Yes');
    expect(extractAnswer(inProcess('exact_match'), '  \n')).toBeNull();
    expect(() => extractAnswer(inProcess('exact_match', { ignore_case: 'yes' }), 'a')).toThrow(BadInputError);
  });

  it('gives tool_calls_match canonical JSON of tool, action, ref and text', () => {
    const spec = inProcess('tool_calls_match');
    const a = extractAnswer(spec, '```json\n{"text": "hi", "action": "type", "tool": "browser", "coordinate": [1, 2]}\n```');
    const b = extractAnswer(spec, 'Typing: {"tool":"browser","action":"type","text":"hi","coordinate":[50,60]}');
    expect(a).toBe('{"tool":"browser","action":"type","text":"hi"}');
    expect(b).toBe(a);
    expect(extractAnswer(spec, '{"tool":"browser","action":"click","ref":"e1"}')).toBe('{"tool":"browser","action":"click","ref":"e1"}');
    expect(extractAnswer(spec, 'no call')).toBeNull();
  });

  it('gives null for e2b and llm_judge', () => {
    expect(extractAnswer({ kind: 'e2b', test_sh: 'true' }, '```python\nprint(1)\n```')).toBeNull();
    expect(extractAnswer({ kind: 'llm_judge', rubric: 'r' }, '\\boxed{1}')).toBeNull();
  });

  it('uses a user verifier’s own extractor, and null without one', async () => {
    registerVerifier('first_word', (completion, expected) => (completion.split(/\s+/)[0] === expected ? 1 : 0), {
      version: 2,
      extract: (completion) => completion.trim().split(/\s+/)[0] || null,
    });
    registerVerifier('no_extractor', () => 1);
    const firstWord: VerifierSpec = { kind: 'in_process', fn_name: 'first_word', expected: 'yes', params: {} };
    expect((await verify(firstWord, 'yes indeed')).reward).toBe(1);
    expect(extractAnswer(firstWord, '  yes indeed')).toBe('yes');
    expect(extractAnswer(inProcess('no_extractor'), 'anything')).toBeNull();
    expect(() => extractAnswer(inProcess('nope'), 'anything')).toThrow(/unknown verifier "nope"/);
  });
});
