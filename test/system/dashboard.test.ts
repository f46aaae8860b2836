import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server';
import { SqliteResultsStore } from '../../src/store/sqlite-store';
import type { PredictionRow } from '../../src/store/types';
import { launchBrowser, newPage, screenshot } from '../helpers/browser';
import { tempDir } from '../helpers/temporal';
import { lacks } from '../helpers/requires';

const RUN = 'run <alpha> & "beta"';
const STEPS = [100, 200, 300, 400];
const SPLITS = ['val', 'test'];
const TEMPORAL_UI = 'http://temporal-ui.example:8233';
const N_TASKS = 6;

let dashboard: RunningDashboard;
let browser: Browser;
let page: Page;
const evalIds = new Map<string, string>(); // `${split}@${step}` -> id

function workflowId(step: number, split: string): string {
  return `evsys:${RUN}:quickstart:arithmetic-${split}:step-${step}`;
}

/** Task i passes at step s when i < s/100 + 1: the reward climbs with training. */
function predictions(step: number): PredictionRow[] {
  return Array.from({ length: N_TASKS }, (_, i) => {
    const passed = i < step / 100 + 1;
    return {
      kind: 'eval' as const,
      task_id: `task-${i}`,
      sample_idx: 0,
      step,
      instruction: i === 0 ? 'What is <b>2</b> + 2? <script>window.pwned = true</script>' : `What is ${i} + ${i}?`,
      expected: String(2 * i),
      completion: passed ? `The answer is ${2 * i}.` : `The answer is ${2 * i + 1}.`,
      reward: passed ? 1 : i % 2 ? 0 : 0.5,
      metadata: { parity: i % 2 ? 'odd' : 'even', latency_s: 0.1, ...(passed ? {} : { reasoning: `I think ${i} + ${i} is ${2 * i + 1} <because>.` }) },
    };
  });
}

beforeAll(async () => {
  const file = path.join(tempDir('evsys-dashboard-'), 'results.sqlite');
  const store = new SqliteResultsStore(file);
  for (const step of STEPS) {
    for (const [s, split] of SPLITS.entries()) {
      const rows = predictions(step);
      const mean = rows.reduce((sum, p) => sum + (p.reward ?? 0), 0) / rows.length - s * 0.05;
      const id = await store.recordEval(
        {
          run_id: RUN,
          benchmark_id: 'arithmetic',
          step,
          split,
          metrics: {
            mean_reward: mean,
            mean_reward_stderr: 0.06,
            pass_rate: mean * 0.9,
            n_tasks: N_TASKS,
            'parity=odd/mean_reward': mean - 0.1,
            'parity=odd/mean_reward_stderr': 0.1,
            'parity=even/mean_reward': mean + 0.1,
            'parity=even/mean_reward_stderr': 0.08,
          },
          workflow_id: workflowId(step, split),
          verifier_version: 'v-test',
        },
        rows,
      );
      evalIds.set(`${split}@${step}`, id);
    }
  }
  // Another run, to see the index list more than one.
  await store.recordEval(
    { run_id: 'other-run', benchmark_id: 'arithmetic', step: 5, split: null, metrics: { mean_reward: 0.25 }, workflow_id: 'wf-other', verifier_version: 'v-test' },
    [],
  );
  await store.close();
  [dashboard, browser] = await Promise.all([startDashboard({ store: file, port: 0, temporalUiUrl: TEMPORAL_UI }), launchBrowser()]);
  page = await newPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe.skipIf(lacks('chromium'))('evsys dashboard', () => {
  it('lists the runs with their eval counts and last step', async () => {
    await page.goto(dashboard.url);
    const row = page.locator('table.runs tr', { has: page.locator('a.run', { hasText: RUN }) });
    await expect(row.locator('td').nth(1).textContent()).resolves.toBe(String(STEPS.length * SPLITS.length));
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('400');
    await expect(page.locator('a.run').count()).resolves.toBe(2);
    await screenshot(page, 'dashboard-index');
  });

  it('charts each metric over steps: one point per step and split, with a stderr band', async () => {
    await page.locator('a.run', { hasText: RUN }).click();
    await page.waitForURL(/\/runs\//);
    await expect(page.locator('h1').textContent()).resolves.toBe(`Run ${RUN}`);
    const chart = page.locator('svg[data-metric="mean_reward"]');
    await expect(chart.count()).resolves.toBe(1);
    await expect(chart.locator('circle[data-step]').count()).resolves.toBe(STEPS.length * SPLITS.length);
    for (const split of SPLITS) {
      const points = chart.locator(`circle[data-series="${split}"]`);
      const steps = await points.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-step'))));
      expect(steps).toEqual(STEPS);
    }
    await expect(chart.locator('polygon.band').count()).resolves.toBe(SPLITS.length);
    // Stderr and breakdown metrics get no chart of their own; the breakdown is a table.
    await expect(page.locator('svg[data-metric="mean_reward_stderr"]').count()).resolves.toBe(0);
    await expect(page.locator('svg[data-metric="pass_rate"] circle[data-step]').count()).resolves.toBe(8);
    await expect(page.locator('svg[data-metric^="parity="]').count()).resolves.toBe(0);
    const breakdown = page.locator('table.breakdown[data-key="parity"]');
    await expect(breakdown.count()).resolves.toBe(SPLITS.length);
    await expect(breakdown.first().locator('tbody tr').allTextContents()).resolves.toEqual([
      expect.stringMatching(/^even.*±/),
      expect.stringMatching(/^odd.*±/),
    ]);
    await screenshot(page, 'dashboard-run');
  });

  it('shows an eval\'s predictions, filters the failed ones, and folds their reasoning', async () => {
    const id = evalIds.get('test@200')!;
    await page.locator(`a.eval[data-eval-id="${id}"]`).click();
    await page.waitForURL(new RegExp(`/evals/${id}$`));
    await expect(page.locator('tr.prediction').count()).resolves.toBe(N_TASKS);
    // Store text is text, never markup.
    await expect(page.locator('pre.instruction').first().textContent()).resolves.toContain('<script>window.pwned = true</script>');
    await expect(page.evaluate(() => (globalThis as { pwned?: boolean }).pwned)).resolves.toBeUndefined();
    const link = page.locator('a.temporal');
    await expect(link.getAttribute('href')).resolves.toBe(`${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(workflowId(200, 'test'))}`);

    await page.locator('a.failed-only').click();
    await page.waitForURL(/\?failed=1$/);
    const failed = page.locator('tr.prediction');
    await expect(failed.count()).resolves.toBe(N_TASKS - 3); // tasks 0..2 pass at step 200
    const rewards = await failed.evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-reward'))));
    expect(rewards.every((r) => r < 1)).toBe(true);

    const reasoning = failed.first().locator('details.reasoning');
    await expect(reasoning.locator('pre').isVisible()).resolves.toBe(false);
    await reasoning.locator('summary').click();
    await expect(reasoning.locator('pre').isVisible()).resolves.toBe(true);
    await expect(reasoning.locator('pre').textContent()).resolves.toBe('I think 3 + 3 is 7 <because>.');
    await screenshot(page, 'dashboard-eval-failed');
  });

  it('answers 404 for unknown runs and evals', async () => {
    for (const route of ['/runs/no-such-run', '/evals/999999', '/evals/abc', '/nope']) {
      expect((await fetch(`${dashboard.url}${route}`)).status, route).toBe(404);
    }
  });
});
