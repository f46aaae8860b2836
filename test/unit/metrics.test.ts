import { afterEach, describe, expect, it, vi } from 'vitest';
import { BadInputError } from '../../src/errors';
import {
  aggregateMetrics,
  macroMetric,
  registeredMetricNames,
  registerMetric,
  registerMetricFamily,
  resolveMetric,
  type SampleUsage,
  type TaskScores,
  validateMetricNames,
} from '../../src/metrics';

function task(taskId: string, rewards: number[], metadata: Record<string, unknown> = {}, erroredSamples = 0): TaskScores {
  return { taskId, rewards, erroredSamples, metadata };
}

/**
 * Hand-computed goldens. Macro mean_reward = (0.75 + 0 + 0.75) / 3 = 0.5, while the pooled mean
 * would be 4.5 / 7; pass_rate = (3 + 0 + 1) / (4 + 1 + 2) = 4/7 (0.5 is not a pass). Scoring the
 * 5 errored samples as 0 would give mean_reward 0.375 and pass_rate 4/12 instead.
 */
const TASKS: TaskScores[] = [
  task('t1', [1, 1, 1, 0], { difficulty: 'easy', source: { name: 'gsm8k' } }),
  task('t2', [0], { difficulty: 'hard', source: { name: 'math' } }, 2),
  task('t3', [1, 0.5], { difficulty: 'easy' }),
  task('t4', [], { difficulty: 'hard', source: { name: 'math' } }, 3),
];

/** Same metric names, each value equal to 12 decimals (the goldens are fractions). */
function expectClose(actual: Record<string, number>, expected: Record<string, number>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, value] of Object.entries(expected)) {
    expect(actual[name], name).toBeCloseTo(value, 12);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('aggregateMetrics', () => {
  it('reports mean_reward and pass_rate by default, plus n_tasks and n_errored_samples', () => {
    expect(aggregateMetrics(TASKS, { metrics: [], breakdownKeys: [] })).toEqual({
      mean_reward: 0.5,
      pass_rate: 4 / 7,
      n_tasks: 3,
      n_errored_samples: 5,
    });
  });

  it('reports only the requested metrics plus the always-on counts', () => {
    expect(aggregateMetrics(TASKS, { metrics: ['avg'], breakdownKeys: [] })).toEqual({
      avg: 0.5,
      n_tasks: 3,
      n_errored_samples: 5,
    });
    expect(aggregateMetrics(TASKS, { metrics: ['n_tasks', 'n_tasks'], breakdownKeys: [] })).toEqual({
      n_tasks: 3,
      n_errored_samples: 5,
    });
  });

  it('omits metrics that are not computable when no sample was scored', () => {
    const allErrored = [task('a', [], {}, 4)];
    expect(aggregateMetrics(allErrored, { metrics: [], breakdownKeys: [] })).toEqual({
      n_tasks: 0,
      n_errored_samples: 4,
    });
    expect(aggregateMetrics([], { metrics: [], breakdownKeys: [] })).toEqual({ n_tasks: 0, n_errored_samples: 0 });
  });

  it('breaks down by dotted metadata keys, with a __missing__ bucket', () => {
    expect(aggregateMetrics(TASKS, { metrics: [], breakdownKeys: ['difficulty', 'source.name'] })).toEqual({
      mean_reward: 0.5,
      pass_rate: 4 / 7,
      n_tasks: 3,
      n_errored_samples: 5,
      'difficulty=easy/mean_reward': 0.75,
      'difficulty=easy/pass_rate': 4 / 6,
      'difficulty=easy/n_tasks': 2,
      'difficulty=hard/mean_reward': 0,
      'difficulty=hard/pass_rate': 0,
      'difficulty=hard/n_tasks': 1,
      'source.name=gsm8k/mean_reward': 0.75,
      'source.name=gsm8k/pass_rate': 0.75,
      'source.name=gsm8k/n_tasks': 1,
      'source.name=math/mean_reward': 0,
      'source.name=math/pass_rate': 0,
      'source.name=math/n_tasks': 1,
      'source.name=__missing__/mean_reward': 0.75,
      'source.name=__missing__/pass_rate': 0.5,
      'source.name=__missing__/n_tasks': 1,
    });
  });

  it('buckets non-string values by their text and treats null or inherited keys as missing', () => {
    const tasks = [
      task('a', [1], { level: 3, ok: true, tags: ['x', 'y'], parent: null }),
      task('b', [0], { level: '3', ok: false, parent: 'p' }),
    ];
    const result = aggregateMetrics(tasks, {
      metrics: ['pass_rate'],
      breakdownKeys: ['level', 'ok', 'tags', 'parent', 'constructor', 'level.deeper'],
    });
    const bucketCounts = Object.fromEntries(Object.entries(result).filter(([name]) => name.endsWith('/n_tasks')));
    expect(bucketCounts).toEqual({
      'level=3/n_tasks': 2,
      'ok=true/n_tasks': 1,
      'ok=false/n_tasks': 1,
      'tags=["x","y"]/n_tasks': 1,
      'tags=__missing__/n_tasks': 1,
      'parent=__missing__/n_tasks': 1,
      'parent=p/n_tasks': 1,
      'constructor=__missing__/n_tasks': 2,
      'level.deeper=__missing__/n_tasks': 2,
    });
    expect(result['ok=true/pass_rate']).toBe(1);
    expect(result['ok=false/pass_rate']).toBe(0);
  });

  it('skips a metric that throws, warning with its name, and keeps the rest', () => {
    registerMetric('explodes', () => {
      throw new Error('boom');
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const result = aggregateMetrics(TASKS, { metrics: ['explodes', 'pass_rate'], breakdownKeys: ['difficulty'] });
    expect(result).toEqual({
      pass_rate: 4 / 7,
      n_tasks: 3,
      n_errored_samples: 5,
      'difficulty=easy/pass_rate': 4 / 6,
      'difficulty=easy/n_tasks': 2,
      'difficulty=hard/pass_rate': 0,
      'difficulty=hard/n_tasks': 1,
    });
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      expect.stringMatching(/metric "explodes" failed.*boom/),
      expect.stringMatching(/metric "difficulty=easy\/explodes" failed/),
      expect.stringMatching(/metric "difficulty=hard\/explodes" failed/),
    ]);
  });

  it('rejects an unknown metric name before computing anything', () => {
    const spy = vi.fn(() => 1);
    registerMetric('spy', spy);
    expect(() => aggregateMetrics(TASKS, { metrics: ['spy', 'pass@3x'], breakdownKeys: [] })).toThrow(BadInputError);
    expect(spy).not.toHaveBeenCalled();
  });

  it('aggregates 100,000 tasks x 16 samples x 3 nested breakdown keys (timed in bench/aggregate.ts)', () => {
    const tasks = Array.from({ length: 100_000 }, (_, i) =>
      task(
        `t${i}`,
        Array.from({ length: 16 }, (_, s) => ((i + s) % 3 === 0 ? 1 : 0)),
        { group: i % 50, source: { name: `s${i % 7}` }, lang: i % 2 ? 'en' : 'fr' },
        i % 10 === 0 ? 1 : 0,
      ),
    );
    const result = aggregateMetrics(tasks, { metrics: [], breakdownKeys: ['group', 'source.name', 'lang'] });
    expect(result.n_tasks).toBe(100_000);
    expect(result.n_errored_samples).toBe(10_000);
    expect(result['lang=en/n_tasks']).toBe(50_000);
    expect(result['source.name=s3/n_tasks']).toBe(tasks.filter((_, i) => i % 7 === 3).length);
  });
});

describe('metric registry', () => {
  it('lists the registered names, sorted, for an unknown name', () => {
    // Runs after this file's earlier registrations of `explodes` and `spy`.
    expect(() => resolveMetric('median')).toThrow(
      'unknown metric "median"; registered metrics: avg, cost_per_task, explodes, mean_reward, n_errored_samples, ' +
        'n_tasks, n_truncated_samples, n_unscored_samples, pass_rate, spy, time_per_task, tokens_per_task; metric families: maj@k, pass@k, pass^k',
    );
  });

  it('resolves a parametric family registered with one line, matching whole names only', () => {
    registerMetricFamily('at_least@k', /^at_least@(\d+)$/, (match) => {
      const k = Number(match[1]);
      return (tasks) => tasks.filter((t) => t.rewards.filter((r) => r >= 1).length >= k).length;
    });
    expect(resolveMetric('at_least@3')(TASKS)).toBe(1);
    expect(resolveMetric('at_least@1')(TASKS)).toBe(2);
    expect(aggregateMetrics(TASKS, { metrics: ['at_least@1'], breakdownKeys: [] })['at_least@1']).toBe(2);
    expect(registeredMetricNames()).toContain('at_least@k');
    expect(() => resolveMetric('at_least@')).toThrow(/unknown metric "at_least@".*at_least@k/);

    registerMetricFamily('top@k', /top@(\d+)/, () => () => 1);
    expect(() => resolveMetric('xtop@2')).toThrow(BadInputError);
    expect(resolveMetric('top@2')([])).toBe(1);
  });

  it('builds each family member once, and a later plain registration still wins', () => {
    expect(resolveMetric('pass@3')).toBe(resolveMetric('pass@3'));
    expect(resolveMetric('top@9')([])).toBe(1);
    registerMetric('top@9', () => 9);
    expect(resolveMetric('top@9')([])).toBe(9);
  });

  it('gives a macro metric registered with one line its standard error', () => {
    // Share of a task's samples with reward above 0.4: t1 3/4, t2 0, t3 2/2 (t4 unscored).
    const anyCredit = macroMetric(({ rewards }) =>
      rewards.length === 0 ? undefined : rewards.filter((r) => r > 0.4).length / rewards.length,
    );
    registerMetric('any_credit', anyCredit);
    const result = aggregateMetrics(TASKS, { metrics: ['any_credit'], breakdownKeys: [], stderr: true });
    // mean 7/12; deviations 2/12, -7/12, 5/12; squares 78/144; variance 39/144; stderr sqrt(39/432)
    expectClose(result, { any_credit: 7 / 12, any_credit_stderr: Math.sqrt(39 / 432), n_tasks: 3, n_errored_samples: 5 });
  });

  it('refuses to register a name twice', () => {
    expect(() => registerMetric('mean_reward', () => 0)).toThrow(/already registered/);
  });
});

/**
 * k = 2 over samples drawn without replacement. Unbiased vs the original's first-k definition:
 *   t1 [0,0,1,1] n=4 c=2: pass@2 = 1 - C(2,2)/C(4,2) = 5/6 (first 2: 0); pass^2 = C(2,2)/C(4,2) = 1/6 (first 2: 0)
 *   t2 [1,0,0,0] n=4 c=1: pass@2 = 1 - C(3,2)/C(4,2) = 1/2 (first 2: 1); pass^2 = 0 (first 2: 0)
 *   t3 [1,1,1,.5] n=4 c=3: pass@2 = 1 (first 2: 1); pass^2 = C(3,2)/C(4,2) = 1/2 (first 2: 1)
 *   pass@2 = (5/6 + 1/2 + 1) / 3 = 7/9 ~ 0.778, first-k: 2/3 ~ 0.667
 *   pass^2 = (1/6 + 0 + 1/2) / 3 = 2/9 ~ 0.222, first-k: 1/3 ~ 0.333
 * t4 has one scored sample (3 errored): it is left out of pass@2 and pass^2 (counting it as 0
 * would give pass@2 = 7/12) but counts for pass@1 = (2/4 + 1/4 + 3/4 + 1) / 4 = 5/8.
 */
const PASS_K_TASKS: TaskScores[] = [
  task('t1', [0, 0, 1, 1]),
  task('t2', [1, 0, 0, 0]),
  task('t3', [1, 1, 1, 0.5]),
  task('t4', [1], {}, 3),
];

describe('pass@k and pass^k', () => {
  it('use the unbiased estimators over all n samples, not the first k', () => {
    const metrics = ['pass@1', 'pass@2', 'pass@4', 'pass^1', 'pass^2', 'pass^3', 'pass^4'];
    expectClose(aggregateMetrics(PASS_K_TASKS, { metrics, breakdownKeys: [] }), {
      'pass@1': 5 / 8,
      'pass@2': 7 / 9,
      'pass@4': 1,
      'pass^1': 5 / 8,
      'pass^2': 2 / 9,
      'pass^3': 1 / 12, // only t3: C(3,3)/C(4,3) = 1/4
      'pass^4': 0,
      n_tasks: 4,
      n_errored_samples: 3,
    });
  });

  it('equal the first-k definitions when n = k', () => {
    // n = k = 3: pass@3 = any of the 3 passes, pass^3 = all 3 pass.
    const tasks = [task('a', [0, 0, 1]), task('b', [0, 0.5, 0]), task('c', [1, 1, 1]), task('d', [1, 1, 0])];
    const result = aggregateMetrics(tasks, { metrics: ['pass@3', 'pass^3'], breakdownKeys: [] });
    expect(result['pass@3']).toBe(3 / 4);
    expect(result['pass^3']).toBe(1 / 4);
  });

  it('are omitted when no task has k scored samples', () => {
    const result = aggregateMetrics([task('a', [1, 1], {}, 2)], { metrics: ['pass@3', 'pass^3', 'pass@2'], breakdownKeys: [] });
    expect(result).toEqual({ 'pass@2': 1, n_tasks: 1, n_errored_samples: 2 });
  });

  it('reject k = 0 as a bad config, before computing anything', () => {
    for (const name of ['pass@0', 'pass^0', 'maj@0']) {
      expect(() => aggregateMetrics(PASS_K_TASKS, { metrics: [name], breakdownKeys: [] })).toThrow(BadInputError);
      expect(() => resolveMetric(name)).toThrow(`metric "${name}": k must be an integer >= 1, got 0`);
    }
  });
});

/**
 * maj@k goldens; `null` answers do not vote, ties go to the answer seen first, and the task is
 * correct when a sample with the winning answer (among the first k) passed.
 *   m1 [4,5,4,-] / [1,0,1,0]: k=1 '4' ok; k=2 tie 4-5 -> '4' ok; k=3 '4' ok; k=4 '4' ok
 *   m2 [5,4,4,5] / [0,1,1,0]: k=1 '5' no; k=2 tie -> '5' no; k=3 '4' ok; k=4 tie 2-2 -> '5' no
 *      (a running "count > best" would wrongly pick '4' at k=4)
 *   m3 [-,7,8,-] / [0,0,1,0]: k=1 no votes -> 0; k=2 '7' no; k=3 tie -> '7' no; k=4 '7' no
 *   m4 [x,x,y,y] / [0,1,1,1]: k=1 'x' no; k=2 'x', its second sample passed -> ok; k=3 ok; k=4 tie -> 'x' ok
 *   m5 no answers: left out; m6 one sample: left out for k >= 2
 *   maj@1 = (1+0+0+0+1)/5 = 0.4, maj@2 = 2/4, maj@3 = 3/4, maj@4 = 2/4
 */
const MAJ_TASKS: TaskScores[] = [
  { ...task('m1', [1, 0, 1, 0]), answers: ['4', '5', '4', null] },
  { ...task('m2', [0, 1, 1, 0]), answers: ['5', '4', '4', '5'] },
  { ...task('m3', [0, 0, 1, 0]), answers: [null, '7', '8', null] },
  { ...task('m4', [0, 1, 1, 1]), answers: ['x', 'x', 'y', 'y'] },
  task('m5', [1, 1, 1, 1]),
  { ...task('m6', [1], {}, 3), answers: ['1'] },
];

describe('maj@k', () => {
  it('votes over the first k extracted answers', () => {
    const result = aggregateMetrics(MAJ_TASKS, { metrics: ['maj@1', 'maj@2', 'maj@3', 'maj@4'], breakdownKeys: [] });
    expectClose(result, { 'maj@1': 0.4, 'maj@2': 0.5, 'maj@3': 0.75, 'maj@4': 0.5, n_tasks: 6, n_errored_samples: 3 });
  });

  it('is omitted when no task has answers', () => {
    expect(aggregateMetrics(TASKS, { metrics: ['maj@1'], breakdownKeys: [] })).toEqual({ n_tasks: 3, n_errored_samples: 5 });
  });

  it('fails (and is skipped with a warning) when answers are not parallel to rewards', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tasks = [{ ...task('a', [1, 0]), answers: ['1'] }];
    expect(aggregateMetrics(tasks, { metrics: ['maj@1'], breakdownKeys: [] })).toEqual({ n_tasks: 1, n_errored_samples: 0 });
    expect(String(warn.mock.calls[0][0])).toMatch(/maj@1.*task "a" has 1 answers for 2 rewards/);
  });
});

describe('usage metrics', () => {
  const usage = (samples: SampleUsage[]) => samples;
  /**
   * u1: latency (2+4)/2 = 3, tokens (15+25)/2 = 20, cost 0.01 (one sample reported it)
   * u2: latency 1, tokens 7 (completion only), no cost: left out of cost_per_task
   * u3: no usage; u4: all samples errored
   * time_per_task = (3+1)/2 = 2, tokens_per_task = (20+7)/2 = 13.5, cost_per_task = 0.01
   * stderr of two values a, b is |a - b| / 2: time 1, tokens 6.5; cost rests on one task: omitted
   */
  const USAGE_TASKS: TaskScores[] = [
    {
      ...task('u1', [1, 0]),
      usage: usage([
        { latencyS: 2, promptTokens: 10, completionTokens: 5, cost: 0.01 },
        { latencyS: 4, promptTokens: 10, completionTokens: 15, cost: null },
      ]),
    },
    { ...task('u2', [0]), usage: usage([{ latencyS: 1, completionTokens: 7, cost: Number.NaN }]) },
    task('u3', [1, 1]),
    task('u4', [], {}, 2),
  ];
  const metrics = ['time_per_task', 'tokens_per_task', 'cost_per_task'];

  it('are means over tasks of per-task means of what samples reported', () => {
    expectClose(aggregateMetrics(USAGE_TASKS, { metrics, breakdownKeys: [] }), {
      time_per_task: 2,
      tokens_per_task: 13.5,
      cost_per_task: 0.01,
      n_tasks: 3,
      n_errored_samples: 2,
    });
    expectClose(aggregateMetrics(USAGE_TASKS, { metrics, breakdownKeys: [], stderr: true }), {
      time_per_task: 2,
      time_per_task_stderr: 1,
      tokens_per_task: 13.5,
      tokens_per_task_stderr: 6.5,
      cost_per_task: 0.01,
      n_tasks: 3,
      n_errored_samples: 2,
    });
  });

  it('are omitted when no sample reported them', () => {
    const tasks = [task('a', [1]), { ...task('b', [0]), usage: [{ latencyS: null }] }];
    expect(aggregateMetrics(tasks, { metrics, breakdownKeys: [], stderr: true })).toEqual({ n_tasks: 2, n_errored_samples: 0 });
  });
});

describe('standard errors', () => {
  /**
   * mean_reward: per-task means 0.75, 0, 0.75 (mean 0.5), squared deviations sum 0.375, sample
   * variance 0.1875, stderr sqrt(0.1875 / 3) = 0.25.
   * pass_rate (cluster-robust): c = 3, 0, 1, n = 4, 1, 2, p = 4/7, residuals c - p*n = 5/7,
   * -4/7, -1/7, squares sum 6/7, stderr sqrt(3/2 * 6/7) / 7 = 3 / (7 sqrt 7) ~ 0.162.
   * difficulty=easy: mean_reward 0.75, 0.75 -> 0; pass_rate c = 3, 1, n = 4, 2, p = 2/3,
   * residuals 1/3, -1/3, sqrt(2 * 2/9) / 6 = 1/9 (the stderr of per-task rates 0.75, 0.5 would
   * be 0.125: unequal n weigh in). difficulty=hard rests on one task: no stderr.
   */
  it('are reported as <metric>_stderr, overall and per bucket, when asked', () => {
    const result = aggregateMetrics(TASKS, { metrics: [], breakdownKeys: ['difficulty'], stderr: true });
    expectClose(result, {
      mean_reward: 0.5,
      mean_reward_stderr: 0.25,
      pass_rate: 4 / 7,
      pass_rate_stderr: 3 / (7 * Math.sqrt(7)),
      n_tasks: 3,
      n_errored_samples: 5,
      'difficulty=easy/mean_reward': 0.75,
      'difficulty=easy/mean_reward_stderr': 0,
      'difficulty=easy/pass_rate': 2 / 3,
      'difficulty=easy/pass_rate_stderr': 1 / 9,
      'difficulty=easy/n_tasks': 2,
      'difficulty=hard/mean_reward': 0,
      'difficulty=hard/pass_rate': 0,
      'difficulty=hard/n_tasks': 1,
    });
    // Asking for standard errors changes no value.
    const without = aggregateMetrics(TASKS, { metrics: [], breakdownKeys: ['difficulty'] });
    for (const [name, value] of Object.entries(without)) expect(result[name]).toBe(value);
  });

  it('of pass@k are taken over the tasks that count toward it', () => {
    // pass@2 per task 5/6, 1/2, 1 (t4 left out), mean 7/9: deviations 1/18, -5/18, 4/18,
    // squares 42/324, variance 7/108, stderr sqrt(7/324) = sqrt(7)/18 ~ 0.147.
    const result = aggregateMetrics(PASS_K_TASKS, { metrics: ['pass@2', 'n_tasks'], breakdownKeys: [], stderr: true });
    expectClose(result, { 'pass@2': 7 / 9, 'pass@2_stderr': Math.sqrt(7) / 18, n_tasks: 4, n_errored_samples: 3 });
  });

  it('are omitted for metrics without a per-task form', () => {
    registerMetric('constant_metric', () => 0.5);
    const result = aggregateMetrics(TASKS, { metrics: ['constant_metric'], breakdownKeys: [], stderr: true });
    expect(result).toEqual({ constant_metric: 0.5, n_tasks: 3, n_errored_samples: 5 });
  });
});

describe('validateMetricNames', () => {
  it('accepts known names whose k fits in num_samples', () => {
    expect(() => validateMetricNames(['pass@4', 'pass^4', 'maj@4', 'mean_reward', 'avg', 'cost_per_task'], 4)).not.toThrow();
    expect(() => validateMetricNames([], 1)).not.toThrow();
  });

  it('rejects a k larger than num_samples, naming every such metric', () => {
    expect(() => validateMetricNames(['pass@5'], 4)).toThrow(BadInputError);
    expect(() => validateMetricNames(['pass@5'], 4)).toThrow(new BadInputError('pass@5 needs num_samples >= 5, got 4'));
    expect(() => validateMetricNames(['pass@2', 'pass^3', 'maj@8', 'pass^3'], 2)).toThrow(
      new BadInputError('pass^3 needs num_samples >= 3, got 2; maj@8 needs num_samples >= 8, got 2'),
    );
  });

  it('rejects unknown names, listing the registered metrics and families', () => {
    expect(() => validateMetricNames(['pass_rate', 'median'], 4)).toThrow(BadInputError);
    expect(() => validateMetricNames(['median'], 4)).toThrow(
      /^unknown metric "median"; registered metrics: (.*, )?avg, .*mean_reward, .*pass_rate.*; metric families: .*maj@k, pass@k, pass\^k/,
    );
    expect(() => validateMetricNames(['pass@'], 4)).toThrow(/unknown metric "pass@"/);
    expect(() => validateMetricNames(['pass@0'], 4)).toThrow(new BadInputError('metric "pass@0": k must be an integer >= 1, got 0'));
  });
});
