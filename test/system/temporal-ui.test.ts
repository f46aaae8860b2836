import path from 'node:path';
import type { DevServer } from '../../testkit/dev-server';
import type { Worker } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import { startOrAttachEval } from '../../src/client/start-eval';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server';
import { SqliteLedger } from '../../src/ledger/sqlite-ledger';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server';
import { startDevServer } from '../../testkit/dev-server';
import { createEvsysWorker } from '../../src/worker';
import { EvaluateBenchmarkInputSchema } from '../../src/workflows/io';
import { launchBrowser, newPage, screenshot } from '../helpers/browser';
import { EXAMPLE } from '../helpers/example-fixture';
import { freePort } from '../../src/temporal/ports';
import { tempDir, testBundle } from '../helpers/temporal';
import { lacks } from '../helpers/requires';

const RUN = `ui-run-${process.pid}`;
const TASK_QUEUE = `evsys-ui-test-${process.pid}`;
// The Temporal UI is a single-page app that polls visibility: give it time.
const UI_TIMEOUT_MS = 45_000;

let env: DevServer;
let uiUrl: string;
let ledger: SqliteLedger;
let worker: Worker;
let workerRun: Promise<void>;
let sim: RunningSimulator;
let browser: Browser;
let page: Page;
let storeFile: string;

beforeAll(async () => {
  const uiPort = await freePort();
  uiUrl = `http://127.0.0.1:${uiPort}`;
  const dir = tempDir('evsys-ui-');
  storeFile = path.join(dir, 'results.sqlite');
  const [server, bundle, { tasks }, launched] = await Promise.all([
    startDevServer({ uiPort }),
    testBundle(),
    loadBenchmark(EXAMPLE),
    launchBrowser(),
  ]);
  [env, browser] = [server, launched];
  ledger = new SqliteLedger(path.join(dir, 'ledger.sqlite'));
  worker = await createEvsysWorker({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, ledger, workflowBundle: bundle, env: {} });
  workerRun = worker.run();
  sim = await startSimulator({ tasks, seed: 7, pCorrect: 0.7, latencyMs: 5 });
  page = await newPage(browser);
});

afterAll(async () => {
  await browser?.close();
  await sim?.close();
  if (worker) {
    worker.shutdown();
    await workerRun;
  }
  await ledger?.close();
  await env?.teardown();
});

function evalInput(runId: string) {
  return EvaluateBenchmarkInputSchema.parse({
    evaluator: {
      name: 'quickstart',
      benchmark: { path: EXAMPLE },
      benchmark_id: 'arithmetic',
      num_samples: 1,
      n_concurrent: 8,
      run_id: runId,
      split: 'val',
      store: storeFile,
      sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5 },
    },
    step: 3,
  });
}

describe.skipIf(lacks('chromium'))('the Temporal UI', () => {
  it('lists an eval under its run id and opens it from the dashboard', async () => {
    // Two runs' evals, so the list shows the filter working, not just the server's only workflow.
    const [handle, other] = await Promise.all([
      startOrAttachEval(env.client, TASK_QUEUE, evalInput(RUN)),
      startOrAttachEval(env.client, TASK_QUEUE, evalInput(`${RUN}-other`)),
    ]);
    const [result] = await Promise.all([handle.result(), other.result()]);
    expect(result.upload.status).toBe('ok');

    // UI 2.x keeps the list's visibility query in `?query=`.
    const query = encodeURIComponent(`EvsysRunId="${RUN}"`);
    await page.goto(`${uiUrl}/namespaces/default/workflows?query=${query}`);
    await page.getByRole('link', { name: handle.workflowId, exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(page.getByText(other.workflowId).count()).resolves.toBe(0);
    await screenshot(page, 'temporal-ui');

    // The dashboard's link to the eval lands on the workflow in the UI.
    let dashboard: RunningDashboard | undefined;
    try {
      dashboard = await startDashboard({ store: storeFile, port: 0, temporalUiUrl: uiUrl });
      await page.goto(`${dashboard.url}/runs/${encodeURIComponent(RUN)}`);
      await page.locator('a.eval').first().click();
      await page.locator('a.temporal').click();
      await page.waitForURL((url) => url.href.startsWith(uiUrl), { timeout: UI_TIMEOUT_MS });
      await page.getByText(handle.workflowId).first().waitFor({ timeout: UI_TIMEOUT_MS });
      await page.getByText(/Completed/).first().waitFor({ timeout: UI_TIMEOUT_MS });
      await screenshot(page, 'temporal-ui-workflow');
    } finally {
      await dashboard?.close();
    }
  });
});
