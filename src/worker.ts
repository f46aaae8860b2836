import path from 'node:path';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from './activities';
import { openLedger } from './ledger/open-ledger';
import { workflowBundleFile } from './temporal/workflow-bundle';
import type { SampleLedger } from './ledger/types';

export const DEFAULT_TASK_QUEUE = 'evsys';
export const DEFAULT_LEDGER_FILE = path.join('.evsys', 'ledger.sqlite');

/** Where `evsys worker` and the CLI keep workflow bundles between starts. */
export const DEFAULT_BUNDLE_CACHE = path.join('.evsys', 'cache');

export interface EvsysWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  ledger: SampleLedger;
  env?: NodeJS.ProcessEnv;
  /** A pre-built bundle (tests bundle once per file); omitted = the cached one (workflow-bundle.ts). */
  workflowBundle?: WorkflowBundle | { codePath: string };
}

/** A worker that runs evaluateBenchmark and its activities. */
export async function createEvsysWorker(opts: EvsysWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowBundle: opts.workflowBundle ?? (await workflowBundleFile(DEFAULT_BUNDLE_CACHE)),
    activities: createActivities({ ledger: opts.ledger, env: opts.env ?? process.env }),
    // Activities wait on the sampler, not the CPU: the workflow's n_concurrent is the real cap.
    maxConcurrentActivityTaskExecutions: 1000,
    // Cancellation reaches an activity only with a heartbeat's reply; the SDK's default throttle
    // (0.8 x heartbeatTimeout = 24 s) would keep a cancelled eval sampling that long.
    maxHeartbeatThrottleInterval: '1 second',
  });
}

/** `evsys worker`: serve the queue of the server at TEMPORAL_ADDRESS until SIGINT/SIGTERM. */
export async function runWorkerFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const address = env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const connection = await NativeConnection.connect({ address });
  const ledger = openLedger(env.EVSYS_LEDGER ?? DEFAULT_LEDGER_FILE);
  try {
    const worker = await createEvsysWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.EVSYS_TASK_QUEUE,
      ledger,
      env,
    });
    console.error(`evsys worker on ${address}, task queue ${env.EVSYS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE}`);
    await worker.run();
  } finally {
    await ledger.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorkerFromEnv().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
