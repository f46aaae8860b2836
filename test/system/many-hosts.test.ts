import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../src/benchmark/task';
import { startOrAttachEval } from '../../src/client/start-eval';
import { EvaluateBenchmarkInputSchema } from '../../src/workflows/io';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { startFleetOnHosts, type FleetOnHosts } from '../../testkit/fleet-on-hosts';
import { canCreateHosts } from '../../testkit/hosts';
import { activityStarts, expectOracleMetrics, postgresSlotHolders, waitForProgress } from '../helpers/evals';
import { lacks } from '../helpers/requires';
import { tempDir } from '../helpers/temporal';

/**
 * evsys on separate hosts (network namespaces joined by a virtual switch, testkit/hosts.ts):
 * the Temporal server, PostgreSQL (ledger and results store) and the model server on a host
 * each, and three `evsys worker` hosts. One worker host is cut off mid-eval (link down, its
 * processes killed): the eval must finish with the metrics the simulator's oracle predicts,
 * draw again only what that host had in flight, and never put more than n_concurrent requests
 * on the model server.
 */

const N_TASKS = 200;
const NUM_SAMPLES = 2;
const N_CONCURRENT = 8;
const SEED = 17;
const P_CORRECT = 0.55;

// Network namespaces need root, and `ip` (global-setup installs iproute2 where it can).
describe.skipIf(!canCreateHosts().ok || lacks('iproute2'))('evsys on six hosts', () => {
  let dir: string;
  let tasks: Task[];
  let fleet: FleetOnHosts;
  let failed = false;

  beforeAll(async () => {
    dir = tempDir('evsys-hosts-');
    mkdirSync(path.join(dir, 'logs'));
    tasks = await writeArithmeticBenchmark(path.join(dir, 'bench'), N_TASKS);
    fleet = await startFleetOnHosts({
      workerHosts: 3,
      benchmarkDir: path.join(dir, 'bench'),
      latencyMs: 100,
      seed: SEED,
      pCorrect: P_CORRECT,
      taskQueue: 'evsys-hosts',
      logDir: path.join(dir, 'logs'),
    });
    await Promise.all(fleet.workerHosts.map((host) => fleet.startWorker(host)));
  }, 180_000);

  afterAll(async () => {
    await fleet?.close();
    if (failed) console.log(`many-hosts logs kept in ${path.join(dir, 'logs')}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Slots each worker host holds now, from PostgreSQL's lock table. */
  async function slotsByHost(): Promise<Map<string, number>> {
    const hostOf = new Map([...fleet.workers].map(([host, worker]) => [worker.pid, host]));
    return new Map([...(await postgresSlotHolders(fleet.postgresUrl))].map(([pid, n]) => [hostOf.get(pid)!, n]));
  }

  it(
    'a worker host cut off mid-eval: the eval finishes with the fault-free metrics, redraws only its in-flight samples, and holds n_concurrent',
    async () => {
      try {
        const started = Date.now();
        const handle = await startOrAttachEval(
          fleet.client,
          'evsys-hosts',
          EvaluateBenchmarkInputSchema.parse({
            evaluator: {
              name: 'hosts',
              benchmark: { path: path.join(dir, 'bench') },
              num_samples: NUM_SAMPLES,
              n_concurrent: N_CONCURRENT,
              heartbeat_timeout_s: 10,
              sampler: { base_url: fleet.sim.url, model: 'simulator', timeout_s: 20, max_retries: 5 },
              store: fleet.postgresUrl,
              run_id: `hosts-${process.pid}`,
            },
          }),
          `hosts-${process.pid}-${Date.now()}`,
        );
        await waitForProgress(handle, (p) => p.tasks_total > 0 && p.tasks_done >= p.tasks_total * 0.3, 120_000);
        // The worker host holding the most slots right now: its requests die with it.
        let holders: [string, number][] = [];
        while (holders.length === 0) {
          holders = [...(await slotsByHost())].sort((a, b) => b[1] - a[1]);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const [victimName] = holders[0];
        const victim = fleet.network.hosts[victimName];
        await fleet.network.cut(victim);
        const cutAt = Date.now();
        // PostgreSQL has not noticed yet (keepalives take seconds): the dead host's slots as it left them.
        const heldAtCut = (await slotsByHost()).get(victimName) ?? 0;

        const result = await handle.result();
        const stats = await fleet.sim.stats();
        const { perWorker, retried } = await activityStarts(handle);
        const drawnAgain = stats.completed - N_TASKS * NUM_SAMPLES;
        console.log(
          `[many hosts] cut ${victimName} holding ${heldAtCut} of ${N_CONCURRENT} slots at ${((cutAt - started) / 1000).toFixed(1)} s; ` +
            `eval done ${((Date.now() - cutAt) / 1000).toFixed(1)} s later; model server: ${stats.requests} requests, ` +
            `${stats.completed} answered for ${N_TASKS * NUM_SAMPLES} samples (${drawnAgain} drawn again), peak in flight ${stats.maxConcurrency}; ` +
            `tasks retried ${retried}; activities per worker ${[...perWorker.values()].join('/')}`,
        );
        expectOracleMetrics(result, tasks, SEED, P_CORRECT, NUM_SAMPLES);
        expect(result.upload).toMatchObject({ status: 'ok', predictions: N_TASKS * NUM_SAMPLES });
        expect(stats.maxConcurrency).toBe(N_CONCURRENT);
        // Only samples of the tasks the cut host was running (its requests in flight, or answered
        // but not yet in the ledger) are drawn again: never one that was finished.
        expect(retried).toBeGreaterThan(0);
        expect(drawnAgain).toBeGreaterThanOrEqual(0);
        expect(drawnAgain).toBeLessThanOrEqual(retried * NUM_SAMPLES);
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    240_000,
  );
});
