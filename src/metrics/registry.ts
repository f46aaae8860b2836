import { BadInputError } from '../errors';
import type { Metric } from './types';

interface MetricFamily {
  /** How the family is shown in error messages, e.g. `pass@k`. */
  label: string;
  /** Must match the whole name, e.g. /^pass@(\d+)$/. */
  pattern: RegExp;
  /** Builds the metric from the name's match; may throw BadInputError for a bad parameter. */
  build: (match: RegExpExecArray) => Metric;
}

const metrics = new Map<string, Metric>();
const families: MetricFamily[] = [];
/**
 * Family members already built. Metrics are pure, so reusing one is safe, and it keeps the
 * JIT's work on it across evals. A later plain registration still wins (looked up first), and
 * a later family cannot shadow an earlier one (the first match wins), so the cache never lies.
 */
const builtFamilyMembers = new Map<string, Metric>();

/** Registers one metric; a plain `(tasks) => number | undefined` function is a Metric. */
export function registerMetric(name: string, metric: Metric): void {
  // A second registration would silently change what an existing config's name means.
  if (metrics.has(name)) throw new Error(`metric "${name}" is already registered`);
  metrics.set(name, metric);
}

/** Registers metrics named by a pattern with parameters, e.g. `pass@k` for every k. */
export function registerMetricFamily(label: string, pattern: RegExp, build: (match: RegExpExecArray) => Metric): void {
  families.push({ label, pattern, build });
}

/** The metric called `name`: a plain registration first, then the first family that matches it. */
export function resolveMetric(name: string): Metric {
  const metric = metrics.get(name);
  if (metric) return metric;
  const built = builtFamilyMembers.get(name);
  if (built) return built;
  for (const family of families) {
    const match = family.pattern.exec(name);
    if (match && match[0] === name) {
      const member = family.build(match);
      builtFamilyMembers.set(name, member);
      return member;
    }
  }
  throw new BadInputError(
    `unknown metric "${name}"; registered metrics: ${[...metrics.keys()].sort().join(', ')}; ` +
      `metric families: ${registeredMetricFamilies().join(', ')}`,
  );
}

/** Plain names and family labels, sorted. */
export function registeredMetricNames(): string[] {
  return [...metrics.keys(), ...families.map((family) => family.label)].sort();
}

/** Family labels only (e.g. `pass@k`), sorted. */
export function registeredMetricFamilies(): string[] {
  return families.map((family) => family.label).sort();
}

/**
 * Config-time check of an evaluator's `metrics`: throws BadInputError for the first unknown
 * name (listing what is registered), or for every metric that needs more samples per task than
 * `numSamples` (e.g. "pass@5 needs num_samples >= 5, got 4"): a k beyond the samples drawn is
 * a config error, never a silent fallback.
 */
export function validateMetricNames(names: string[], numSamples: number): void {
  const tooFewSamples: string[] = [];
  for (const name of new Set(names)) {
    const { minSamples } = resolveMetric(name);
    if (minSamples !== undefined && minSamples > numSamples) {
      tooFewSamples.push(`${name} needs num_samples >= ${minSamples}, got ${numSamples}`);
    }
  }
  if (tooFewSamples.length > 0) throw new BadInputError(tooFewSamples.join('; '));
}
