import { afterEach, describe, expect, it, vi } from 'vitest';
import { BadInputError } from '../src/errors';
import {
  aggregateMetrics,
  registeredMetricNames,
  registerMetric,
  registerMetricFamily,
  resolveMetric,
  type TaskScores,
} from '../src/metrics';

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
      'unknown metric "median"; registered metrics: avg, explodes, mean_reward, n_errored_samples, n_tasks, pass_rate, spy',
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

  it('refuses to register a name twice', () => {
    expect(() => registerMetric('mean_reward', () => 0)).toThrow(/already registered/);
  });
});
