import { z } from 'zod';
import { EvaluateBenchmarkInputSchema } from './io';

/** The workflow input as JSON Schema, for callers in other languages (shipped in schema/). */
export function evaluateBenchmarkInputJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://evsys.dev/schema/evaluate-benchmark-input.schema.json',
    title: 'evaluateBenchmark workflow input',
    ...z.toJSONSchema(EvaluateBenchmarkInputSchema, { io: 'input', target: 'draft-2020-12' }),
  };
}
