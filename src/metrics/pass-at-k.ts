import { macroMetric } from './per-task';
import { registerMetricFamily } from './registry';
import { countPasses, parseK } from './samples';

/**
 * Unbiased pass@k of one task with n >= k scored samples of which c passed (Chen et al. 2021):
 * the chance that k of the n samples drawn without replacement hold a pass,
 * 1 - C(n-c, k) / C(n, k). The ratio `miss` is a product of min(c, k) factors in (0, 1), so
 * there are no factorials and nothing overflows; its complement `hit` is accumulated from
 * positive terms alongside (hit + miss stays 1), so a small pass@k is not lost to cancellation
 * in 1 - miss. Relative error within a few ulps per factor, for n in the thousands and beyond.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1; // every k-subset holds a pass
  let miss = 1;
  let hit = 0;
  if (c <= k) {
    // C(n-c, k) / C(n, k) = prod_{i=n-c+1..n} (1 - k/i)
    for (let i = n - c + 1; i <= n; i++) {
      hit += (k / i) * miss;
      miss *= (i - k) / i;
    }
  } else {
    // ... = prod_{i=0..k-1} (n-c-i) / (n-i) = prod (1 - c/(n-i))
    for (let i = 0; i < k; i++) {
      hit += (c / (n - i)) * miss;
      miss *= (n - c - i) / (n - i);
    }
  }
  return hit;
}

/**
 * `pass@k`, averaged over tasks. A task with fewer than k scored samples (the rest errored) is
 * left out of this metric's denominator: it has no unbiased estimate, and scoring it 0 would
 * count infrastructure failures as wrong answers. Its other metrics still count it.
 */
registerMetricFamily('pass@k', /^pass@(\d+)$/, (match) => {
  const k = parseK(match[0], match[1]);
  return macroMetric(({ rewards }) => (rewards.length < k ? undefined : passAtK(rewards.length, countPasses(rewards), k)), {
    minSamples: k,
  });
});
