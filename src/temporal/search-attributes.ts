import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { benchmarkRefLabel } from '../config/evaluator';
import type { ParsedEvaluateBenchmarkInput } from '../workflows/io';

/** What people filter evals by in the Temporal UI (`EvsysRunId = "my-run"`). */
export const EVSYS_SEARCH_ATTRIBUTES = {
  runId: defineSearchAttributeKey('EvsysRunId', SearchAttributeType.KEYWORD),
  evaluator: defineSearchAttributeKey('EvsysEvaluator', SearchAttributeType.KEYWORD),
  benchmark: defineSearchAttributeKey('EvsysBenchmark', SearchAttributeType.KEYWORD),
  step: defineSearchAttributeKey('EvsysStep', SearchAttributeType.INT),
  modelPath: defineSearchAttributeKey('EvsysModelPath', SearchAttributeType.KEYWORD),
};

export const SEARCH_ATTRIBUTE_KEYS = Object.values(EVSYS_SEARCH_ATTRIBUTES);

function benchmarkLabel(input: ParsedEvaluateBenchmarkInput): string {
  const { benchmark, benchmark_id } = input.evaluator;
  if (benchmark_id) return benchmark_id;
  return benchmarkRefLabel(benchmark);
}

export function evalSearchAttributes(input: ParsedEvaluateBenchmarkInput): SearchAttributePair[] {
  const { runId, evaluator, benchmark, step, modelPath } = EVSYS_SEARCH_ATTRIBUTES;
  const pairs: SearchAttributePair[] = [
    { key: evaluator, value: input.evaluator.name },
    { key: benchmark, value: benchmarkLabel(input) },
    { key: step, value: input.step },
    { key: modelPath, value: input.model_path ?? input.evaluator.sampler.model },
  ];
  if (input.evaluator.run_id) pairs.push({ key: runId, value: input.evaluator.run_id });
  return pairs;
}

/** The one line the Temporal UI shows for an eval. */
export function evalSummary(input: ParsedEvaluateBenchmarkInput): string {
  const { name, num_samples, run_id } = input.evaluator;
  const model = input.model_path ?? input.evaluator.sampler.model;
  return `${name} on ${benchmarkLabel(input)} · step ${input.step} · ${model} · ${num_samples} sample(s)/task${run_id ? ` · run ${run_id}` : ''}`;
}

/** `temporal server start-dev` flags that register the attributes on a dev server. */
export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=${key.type === SearchAttributeType.INT ? 'Int' : 'Keyword'}`]);
}

/**
 * Registers the attributes on a server evsys did not start (a cluster at TEMPORAL_ADDRESS);
 * already registered ones are fine.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTE_KEYS.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [
        key.name,
        key.type === SearchAttributeType.INT ? IndexedValueType.INDEXED_VALUE_TYPE_INT : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
}
