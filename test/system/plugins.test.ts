import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DevServer } from '../../testkit/dev-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../testkit/dev-server';
import { killAllWorkerProcesses, startWorkerProcess } from '../../testkit/processes';
import { runEvsys as evsys } from '../helpers/evsys-cli';
import { tempDir } from '../helpers/temporal';

/**
 * A team's own scoring, as a plugin in a folder of its own: a verifier that wants answers to
 * end with "!", and a metric, the share of tasks whose every sample passed. It exports
 * register(evsys), so it needs no import of evsys.
 */
const PLUGIN = `
type Task = { rewards: number[] };
export function register(evsys: any) {
  evsys.registerVerifier('ends_with_bang', (completion: string) => (completion.trim().endsWith('!') ? 1 : 0), { version: 2 });
  evsys.registerMetric('share_all_passed', (tasks: Task[]) =>
    tasks.filter((t) => t.rewards.length > 0 && t.rewards.every((r) => r >= 1)).length / tasks.length);
}
`;

/** Ten tasks the simulator answers with their reference answer (p_correct 1): four end with "!". */
function writeProject(root: string): string {
  mkdirSync(path.join(root, 'bench'), { recursive: true });
  writeFileSync(path.join(root, 'my-scoring.ts'), PLUGIN);
  const rows = Array.from({ length: 10 }, (_, i) => ({
    task_id: `t${i}`,
    instruction: `Say something, number ${i}.`,
    verifier: { kind: 'in_process', fn_name: 'ends_with_bang', expected: '' },
    metadata: { reference_answer: i < 4 ? `Hello ${i}!` : `Hello ${i}.` },
  }));
  writeFileSync(path.join(root, 'bench', 'tasks.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const config = path.join(root, 'eval.yaml');
  writeFileSync(
    config,
    [
      'name: plugged',
      'benchmark: {path: ./bench}',
      'plugins: [./my-scoring.ts]',
      'metrics: [mean_reward, share_all_passed]',
      'num_samples: 2',
      'sampler: {simulator: {p_correct: 1, seed: 0, latency_ms: 5}}',
    ].join('\n'),
  );
  return config;
}

/** `evsys eval` of the project against a separate `evsys worker` started in a folder of its own with `workerEnv(project)`. */
async function evalOnWorkerProcess(workerEnv: (root: string) => NodeJS.ProcessEnv) {
  const root = tempDir();
  const config = writeProject(root);
  const workerHome = tempDir();
  const taskQueue = `plugins-${Date.now()}`;
  const worker = await startWorkerProcess({
    address: server.address,
    taskQueue,
    ledgerFile: path.join(workerHome, 'ledger.sqlite'),
    logFile: path.join(workerHome, 'worker.log'),
    cwd: workerHome,
    env: workerEnv(root),
  });
  try {
    return { root, ...(await evsys(['eval', config, '--json'], root, { TEMPORAL_ADDRESS: server.address, EVSYS_TASK_QUEUE: taskQueue })) };
  } finally {
    await worker.stop();
  }
}

const EXPECTED = { mean_reward: 0.4, share_all_passed: 0.4, n_tasks: 10, n_errored_samples: 0 };

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await killAllWorkerProcesses();
  await server?.teardown();
});

describe('plugins: a verifier and a metric from a module outside evsys', () => {
  it('score an eval run by `evsys eval` with its embedded worker', async () => {
    const root = tempDir();
    const config = writeProject(root);
    const { code, stdout, stderr } = await evsys(['eval', config, '--json'], root);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject(EXPECTED);
  });

  it('score an eval on a separate `evsys worker` that loads them from EVSYS_PLUGINS, in another folder', async () => {
    const { code, stdout, stderr } = await evalOnWorkerProcess((root) => ({ EVSYS_PLUGINS: path.join(root, 'my-scoring.ts') }));
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject(EXPECTED);
  });

  it('stop before any sampling on a worker that did not load them, saying how to start it', async () => {
    const { code, stderr, root } = await evalOnWorkerProcess(() => ({}));
    // The worker's BadInputError fails the workflow: bad input, exit code 2.
    expect(code).toBe(2);
    expect(stderr).toContain(`has not loaded plugin(s) ${path.join(root, 'my-scoring.ts')}`);
    expect(stderr).toContain('EVSYS_PLUGINS=');
  });
});
