import type { ChatTemplate } from '../config/evaluator';
import type { ChatMessage } from '../sampler/client';
import { buildMessages } from '../sampler/messages';
import type { LoadedTokenizer } from './jinja-template';

/**
 * The evaluator's `chat_template` knob applied in each sampler mode: `completions` renders the
 * prompt here with the model's own template; `chat` sends messages and lets the server render,
 * so `enable_thinking` must travel in the request instead.
 */

/** The prompt text a `/completions` endpoint receives for one task. */
export function renderPrompt(tokenizer: LoadedTokenizer, template: ChatTemplate, instruction: string): string {
  return renderConversation(tokenizer, template, buildMessages(template, instruction));
}

/** The same for a conversation already under way (a multi-turn agent's). */
export function renderConversation(tokenizer: LoadedTokenizer, template: ChatTemplate, messages: ChatMessage[]): string {
  return tokenizer.render(messages, { enableThinking: template.enable_thinking });
}

/**
 * Extra body fields for a `/chat/completions` request (vLLM and SGLang read
 * `chat_template_kwargs`): `enable_thinking` only when set, so the server's template keeps its
 * own default otherwise.
 */
export function chatTemplateKwargs(template: ChatTemplate): Record<string, unknown> {
  return template.enable_thinking === undefined ? {} : { chat_template_kwargs: { enable_thinking: template.enable_thinking } };
}
