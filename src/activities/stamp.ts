import { createHash } from 'node:crypto';
import type { EvalPlan } from './types';

/**
 * What determined a sample's completion. A ledger entry is reused only under the same stamp,
 * so a retry with another model, template or benchmark edit never mixes in stale samples. The
 * verifier is not part of it: a completion scored by an older verifier is re-verified, not
 * drawn again.
 */
export function sampleStamp(plan: EvalPlan): string {
  const determinants = {
    model: plan.model,
    api: plan.sampler.api,
    tokenizer: plan.tokenizer ?? null,
    max_tokens: plan.max_tokens,
    temperature: plan.temperature,
    chat_template: plan.chat_template,
    content_hash: plan.content_hash,
    // Only harbor evals carry it, so the stamps of live-sampler samples stay what they were.
    ...(plan.harbor ? { harbor: plan.harbor } : {}),
  };
  return createHash('sha256').update(JSON.stringify(determinants)).digest('hex').slice(0, 16);
}
