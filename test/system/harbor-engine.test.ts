import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluatorInput } from '../../src/config/evaluator';
import { loadHarborBenchmark } from '../../src/harbor/dataset';
import { HARBOR_PYTHONPATH, harborVenvDir } from '../../src/harbor/harbor-venv';
import { BWRAP_ENVIRONMENT } from '../../src/harbor/trial-config';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server';
import { evaluateBenchmark } from '../../src/workflows';
import { startTemporalFixture, tempDir, type TemporalFixture } from '../helpers/temporal';
import { lacks } from '../helpers/requires';

/**
 * `engine: harbor` on Harbor itself (PyPI harbor, in the checkout's venv), through the
 * evaluateBenchmark workflow on a real dev server, on our own Harbor-format tasks
 * (test/fixtures/harbor-real), each in evsys's bubblewrap environment:
 *   agent-timeout-scored      the agent overruns its timeout; Harbor still runs the verifier: 1
 *   multi-key-reward          reward.json with three keys, no `reward`: all kept, their mean
 *   no-reward-file            test.sh writes none: no reward, kept (not run again), left out
 *   workdir-and-verifier-env  relies on [environment] workdir and [verifier].env
 *   tmp-file-shared           the agent leaves a file in /tmp that the tests read
 *   plain-pass / plain-fail   1 / 0 with the oracle
 */

const run = promisify(execFile);
const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'harbor-real');

let temporal: TemporalFixture;
let trialsDir: string;
let simulator: RunningSimulator;

beforeAll(async () => {
  trialsDir = tempDir('evsys-harbor-trials-');
  const { tasks } = await loadHarborBenchmark(FIXTURES);
  [temporal, simulator] = await Promise.all([startTemporalFixture({ EVSYS_TRIALS_DIR: trialsDir }), startSimulator({ tasks, seed: 7, pCorrect: 1, latencyMs: 5 })]);
});

afterAll(async () => {
  await simulator?.close();
  await temporal?.teardown();
});

function evaluator(overrides: Partial<EvaluatorInput> = {}): EvaluatorInput {
  return {
    name: 'harbor',
    engine: 'harbor',
    benchmark: { path: FIXTURES },
    num_samples: 1,
    n_concurrent: 4,
    max_error_rate: 1,
    sampler: { base_url: simulator.url, model: 'simulator', timeout_s: 30 },
    ...overrides,
  };
}

let runs = 0;
async function runEval(overrides: Partial<EvaluatorInput>) {
  const workflowId = `harbor-${Date.now()}-${runs++}`;
  const result = await temporal.env.client.workflow.execute(evaluateBenchmark, { taskQueue: temporal.taskQueue, workflowId, args: [{ evaluator: evaluator(overrides) }] });
  return { result, workflowId };
}

interface LedgerRow {
  task_id: string;
  reward: number | null;
  details: { rewards: Record<string, number>; exception?: string; trial_dir: string };
  prompt_tokens: number | null;
}

function ledgerRows(workflowId: string): LedgerRow[] {
  const db = (temporal.ledger as unknown as { db: import('better-sqlite3').Database }).db;
  const rows = db.prepare('SELECT task_id, reward, details, prompt_tokens FROM samples WHERE eval_id = ? ORDER BY task_id').all(workflowId) as (Omit<LedgerRow, 'details'> & { details: string })[];
  return rows.map((row) => ({ ...row, details: JSON.parse(row.details) }));
}

/** What `harbor trials start` itself gives for one task folder with the oracle in the same environment. */
async function harborCli(task: string): Promise<{ rewards: Record<string, number> | null; valid: boolean; exception: string | null }> {
  const dir = tempDir('evsys-harbor-cli-');
  await run(path.join(harborVenvDir(process.env), 'bin', 'harbor'), ['trials', 'start', '-p', path.join(FIXTURES, task), '-a', 'oracle', '--env', BWRAP_ENVIRONMENT, '--trials-dir', dir, '--trial-name', 't'], {
    env: { ...process.env, PYTHONPATH: HARBOR_PYTHONPATH },
  });
  const result = JSON.parse(readFileSync(path.join(dir, 't', 'result.json'), 'utf8'));
  return { rewards: result.verifier_result?.rewards ?? null, valid: result.reward_valid, exception: result.exception_info?.exception_type ?? null };
}

describe.skipIf(lacks('bubblewrap', 'harbor'))('engine: harbor on Harbor itself, through evaluateBenchmark', () => {
  it("the oracle's rewards equal, trial by trial, what `harbor trials start` gives; an agent timeout still scores; a missing reward is kept apart, never a 0 or a retry", async () => {
    const { result, workflowId } = await runEval({ harbor: { agent: 'oracle' } });
    const tasks = (await loadHarborBenchmark(FIXTURES)).tasks.map((t) => t.task_id);
    const harbor = Object.fromEntries(await Promise.all(tasks.map(async (task) => [task, await harborCli(task)] as const)));
    const rows = ledgerRows(workflowId);

    expect(rows.map((r) => r.task_id)).toEqual(tasks);
    for (const row of rows) {
      const own = harbor[row.task_id];
      expect({ task: row.task_id, rewards: own.valid ? row.details.rewards : null }).toEqual({ task: row.task_id, rewards: own.valid ? own.rewards : null });
      expect(row.reward === null).toBe(!own.valid);
      expect(row.details.exception?.split(':')[0] ?? null).toBe(own.exception);
    }
    const byTask = Object.fromEntries(rows.map((r) => [r.task_id, r]));
    expect(byTask['agent-timeout-scored']).toMatchObject({ reward: 1, details: { exception: expect.stringMatching(/^AgentTimeoutError/) } });
    expect(byTask['multi-key-reward'].details.rewards).toEqual({ exists: 1, title: 1, length: 1 });
    expect(byTask['no-reward-file']).toMatchObject({ reward: null, details: { exception: expect.stringMatching(/^RewardFileNotFoundError/) } });
    expect(byTask['workdir-and-verifier-env'].details.rewards).toEqual({ reward: 1, workdir: 1, verifier_env: 1 });
    expect(readFileSync(path.join(byTask['plain-pass'].details.trial_dir, 'verifier', 'reward.txt'), 'utf8').trim()).toBe('1');

    // Six tasks scored (plain-fail's 0 among them), the seventh left out as Harbor leaves it, none errored.
    expect(result.metrics).toMatchObject({ n_tasks: 6, n_unscored_samples: 1, n_errored_samples: 0, mean_reward: 5 / 6 });
    // Not one trial ran twice: Harbor does not retry a missing reward file, nor does evsys.
    const history = await temporal.env.client.workflow.getHandle(workflowId).fetchHistory();
    expect((history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toHaveLength(0);
  }, 180_000);

  it("evsys's single-turn agent asks the sampler once per trial and its answer is what the tests read", async () => {
    simulator.resetStats();
    const { result, workflowId } = await runEval({ benchmark: { path: FIXTURES }, limit: 5, num_samples: 2 });
    // plain-fail's reference answer is the right one: the oracle's script is what fails there.
    expect(result.metrics).toMatchObject({ n_errored_samples: 0 });
    const rows = ledgerRows(workflowId);
    const plain = rows.filter((r) => r.task_id === 'plain-pass' || r.task_id === 'plain-fail');
    expect(plain.map((r) => r.reward)).toEqual([1, 1, 1, 1]);
    expect(plain.every((r) => (r.prompt_tokens ?? 0) > 0)).toBe(true);
    expect(simulator.stats().requests).toBe(5 * 2);
  }, 180_000);
});
