import { BadInputError } from '../errors';
import type { MetricFn } from './types';

interface MetricFamily {
  /** How the family is shown in error messages, e.g. `pass@k`. */
  label: string;
  /** Must match the whole name, e.g. /^pass@(\d+)$/. */
  pattern: RegExp;
  /** Builds the metric from the name's match; may throw BadInputError for a bad parameter. */
  build: (match: RegExpExecArray) => MetricFn;
}

const metrics = new Map<string, MetricFn>();
const families: MetricFamily[] = [];

export function registerMetric(name: string, fn: MetricFn): void {
  // A second registration would silently change what an existing config's name means.
  if (metrics.has(name)) throw new Error(`metric "${name}" is already registered`);
  metrics.set(name, fn);
}

/** Registers metrics named by a pattern with parameters, e.g. `pass@k` for every k. */
export function registerMetricFamily(
  label: string,
  pattern: RegExp,
  build: (match: RegExpExecArray) => MetricFn,
): void {
  families.push({ label, pattern, build });
}

/** The metric called `name`: a plain registration first, then the first family that matches it. */
export function resolveMetric(name: string): MetricFn {
  const fn = metrics.get(name);
  if (fn) return fn;
  for (const family of families) {
    const match = family.pattern.exec(name);
    if (match && match[0] === name) return family.build(match);
  }
  throw new BadInputError(`unknown metric "${name}"; registered metrics: ${registeredMetricNames().join(', ')}`);
}

/** Plain names and family labels, sorted. */
export function registeredMetricNames(): string[] {
  return [...metrics.keys(), ...families.map((family) => family.label)].sort();
}
