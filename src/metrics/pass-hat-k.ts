import { macroMetric } from './per-task';
import { registerMetricFamily } from './registry';
import { countPasses, parseK } from './samples';

/**
 * Unbiased pass^k of one task with n >= k scored samples of which c passed (tau-bench): the
 * chance that k of the n samples drawn without replacement all pass, C(c, k) / C(n, k). Computed
 * as a product of min(k, n-c) factors in (0, 1], each a single rounded division of integers, so
 * nothing overflows and the relative error stays within about 2 * min(k, n-c) ulps (only
 * results below ~1e-300 can lose precision, to underflow).
 */
export function passHatK(n: number, c: number, k: number): number {
  if (c < k) return 0;
  if (c === n) return 1;
  let ratio = 1;
  if (k <= n - c) {
    // prod_{i=0..k-1} (c-i) / (n-i)
    for (let i = 0; i < k; i++) ratio *= (c - i) / (n - i);
  } else {
    // ... = prod_{i=c+1..n} (i-k) / i
    for (let i = c + 1; i <= n; i++) ratio *= (i - k) / i;
  }
  return ratio;
}

/**
 * `pass^k`, averaged over tasks; a task with fewer than k scored samples is left out of the
 * denominator, as for pass@k.
 */
registerMetricFamily('pass^k', /^pass\^(\d+)$/, (match) => {
  const k = parseK(match[0], match[1]);
  return macroMetric(({ rewards }) => (rewards.length < k ? undefined : passHatK(rewards.length, countPasses(rewards), k)), {
    minSamples: k,
  });
});
