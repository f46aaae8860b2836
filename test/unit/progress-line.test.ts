import { describe, expect, it } from 'vitest';
import { formatProgress } from '../../src/cli/progress';
import type { EvalProgress } from '../../src/workflows/io';

const progress: EvalProgress = {
  phase: 'scoring',
  tasks_total: 80,
  tasks_done: 20,
  tasks_failed: 0,
  samples_done: 60,
  samples_passed: 30,
  samples_errored: 0,
  samples_in_flight: 8,
};

describe('the progress line', () => {
  it('counts tasks and samples, the running pass rate and an ETA', () => {
    expect(formatProgress(progress, 10)).toBe(
      '#####............... [scoring] tasks 20/80 | samples 60 (6.0/s, 8 in flight) | pass 50.0% | errors 0 | 10s | ETA 30s',
    );
  });

  it('says when a worker finds the sampler down, and for how long, while requests retry', () => {
    const since = '2026-11-29T08:00:00.000Z';
    const down = { ...progress, sampler_down: { url: 'http://127.0.0.1:8000/v1', since, cause: 'connect ECONNREFUSED 127.0.0.1:8000' } };
    expect(formatProgress(down, 10, Date.parse(since) + 45_000)).toMatch(
      / \| sampler http:\/\/127\.0\.0\.1:8000\/v1 unreachable \(connect ECONNREFUSED 127\.0\.0\.1:8000\) for 45 s, retrying$/,
    );
  });
});
