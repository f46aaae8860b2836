import { describe, expect, it } from 'vitest';
import { promptOpensThinking, splitThinking } from '../../src/chat/thinking';

describe('splitThinking', () => {
  it.each([
    // A closed block: the text after it is the answer.
    ['<think>\nLet me add.\n</think>\n\n4', '4', 'Let me add.'],
    ['<think>\n\n</think>\n\n4', '4', ''],
    ['  <think>r</think>answer with trailing space ', 'answer with trailing space ', 'r'],
    // The prompt opened the block (Qwen3): only the closing tag appears.
    ['Let me add.\n</think>\n\n4', '4', 'Let me add.'],
    ['</think>4', '4', ''],
    // Never closed (cut by max_tokens): no answer yet.
    ['<think>\nLet me add. 2+2 is', '', 'Let me add. 2+2 is'],
    ['<think>', '', ''],
    // The first </think> ends the block; whatever follows is the answer.
    ['<think>a</think>b</think>c', 'b</think>c', 'a'],
    ['<think>a<think>b</think>c', 'c', 'a<think>b'],
  ])('splits %j', (text, answer, reasoning) => {
    expect(splitThinking(text)).toEqual({ answer, reasoning });
  });

  it('returns a text without a block whole, with reasoning null', () => {
    expect(splitThinking('  4\n')).toEqual({ answer: '  4\n', reasoning: null });
    expect(splitThinking('')).toEqual({ answer: '', reasoning: null });
    expect(splitThinking('I think <thinking> is not a tag')).toEqual({ answer: 'I think <thinking> is not a tag', reasoning: null });
  });

  it('reads a tagless text as unfinished reasoning when the prompt opened the block', () => {
    expect(splitThinking('Let me add. 2+2 is', { openedInPrompt: true })).toEqual({ answer: '', reasoning: 'Let me add. 2+2 is' });
    expect(splitThinking('Let me add.\n</think>\n\n4', { openedInPrompt: true })).toEqual({ answer: '4', reasoning: 'Let me add.' });
  });
});

describe('promptOpensThinking', () => {
  it.each([
    ['<|im_start|>assistant\n<think>\n', true],
    ['<|im_start|>assistant\n<think>\n\n</think>\n\n', false],
    ['<|im_start|>assistant\n', false],
    ['<think>old</think>\n<|im_start|>assistant\n<think>\n', true],
  ])('%j -> %s', (prompt, opens) => {
    expect(promptOpensThinking(prompt)).toBe(opens);
  });
});
