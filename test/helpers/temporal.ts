import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DevServer } from '../../testkit/dev-server';
import type { Worker } from '@temporalio/worker';
import { SqliteLedger } from '../../src/ledger/sqlite-ledger';
import { startDevServer } from '../../testkit/dev-server';
import { readSettings } from '../../src/settings';
import { createEvsysWorker, workerOptionsFrom } from '../../src/worker';
import { workflowBundleFile } from '../../src/temporal/workflow-bundle';


/**
 * The workflow bundle, built once for all test files and runs (the cache the CLI uses, keyed by
 * the sources' hash), not once per file: a build takes seconds.
 */
export function testBundle(): Promise<{ codePath: string }> {
  return workflowBundleFile(path.join(__dirname, '..', '..', '.evsys', 'cache'));
}

/** One real dev server per test file (seconds to start), on the run's one workflow bundle. */
export interface TemporalFixture {
  env: DevServer;
  bundle: { codePath: string };
  ledger: SqliteLedger;
  taskQueue: string;
  worker: Worker;
  workerRun: Promise<void>;
  teardown(): Promise<void>;
}

export function tempDir(prefix = 'evsys-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTemporalFixture(
  workerEnv: NodeJS.ProcessEnv = {},
  serverArgs: string[] = [],
): Promise<TemporalFixture> {
  const [env, bundle] = await Promise.all([startDevServer({ extraArgs: serverArgs }), testBundle()]);
  const ledger = new SqliteLedger(path.join(tempDir(), 'ledger.sqlite'));
  const taskQueue = `evsys-test-${process.pid}`;
  const worker = await createEvsysWorker({
    connection: env.nativeConnection,
    ...workerOptionsFrom(readSettings(workerEnv)),
    taskQueue,
    ledger,
    workflowBundle: bundle,
    env: workerEnv,
  });
  const workerRun = worker.run();
  return {
    env,
    bundle,
    ledger,
    taskQueue,
    worker,
    workerRun,
    async teardown() {
      worker.shutdown();
      await workerRun;
      await ledger.close();
      await env.teardown();
    },
  };
}

