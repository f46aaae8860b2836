import { createHash } from 'node:crypto';
import type { EvalPlan } from './types';

/**
 * What determined a sample. A ledger entry is reused only under the same stamp, so a retry
 * with another model, template, benchmark edit or verifier never mixes in stale samples.
 */
export function sampleStamp(plan: EvalPlan, verifierVersion: string): string {
  const determinants = {
    model: plan.model,
    api: plan.sampler.api,
    tokenizer: plan.tokenizer ?? null,
    max_tokens: plan.max_tokens,
    temperature: plan.temperature,
    chat_template: plan.chat_template,
    content_hash: plan.content_hash,
    verifier_version: verifierVersion,
  };
  return createHash('sha256').update(JSON.stringify(determinants)).digest('hex').slice(0, 16);
}
