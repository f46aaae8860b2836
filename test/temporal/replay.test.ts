import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runReplayCommand } from '../../src/cli/replay';
import { writeArithmeticBenchmark } from '../../testkit/arithmetic-benchmark';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server';
import { resolveTemporalExecutable } from '../../src/temporal/cli-path';
import { replayHistories, type HistoryToReplay } from '../../src/temporal/replay';
import type { evaluateBenchmark } from '../../src/workflows';
import { EvaluateBenchmarkInputSchema } from '../../src/workflows/io';
import { startTemporalFixture, tempDir, type TemporalFixture } from '../helpers/temporal';

// Recorded by scripts/record-histories.ts from real runs, named by the evsys version that wrote them.
const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'histories');
const VERSION = (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version.replaceAll('.', '_');
const N_TASKS = 60;

let temporal: TemporalFixture;
let sim: RunningSimulator;
let benchmarkDir: string;

function fixture(file: string): HistoryToReplay {
  return { workflowId: path.basename(file, '.json'), label: file, history: JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) };
}

type HistoryJSON = { events: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } }[] };

/**
 * A history made incompatible on purpose, inside the test rather than committed as a near-copy:
 * its first scheduled `scoreTask` is renamed `scoreTaskV0`, as if the workflow that wrote it had
 * called an activity today's code no longer calls. Replay must stop there.
 */
function incompatible(file: string): HistoryToReplay {
  const history = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as HistoryJSON;
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scoreTask');
  scheduled!.activityTaskScheduledEventAttributes!.activityType!.name = 'scoreTaskV0';
  return { workflowId: 'incompatible', label: `${file} with scoreTask renamed`, history };
}

beforeAll(async () => {
  benchmarkDir = tempDir();
  const tasks = await writeArithmeticBenchmark(benchmarkDir, N_TASKS);
  // A server that suggests continue-as-new early, so one workflow id holds several runs.
  [temporal, sim] = await Promise.all([
    startTemporalFixture({}, ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=150']),
    startSimulator({ tasks, seed: 2, pCorrect: 0.5, latencyMs: 0 }),
  ]);
});

afterAll(async () => {
  await sim?.close();
  await temporal?.teardown();
});

describe('the committed histories', () => {
  it('all replay against today\'s workflow code', async () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
    // Those of the release before tasks were scheduled ahead (patched 'schedule-ahead'), and this release's.
    for (const version of ['0_1_0', VERSION]) {
      expect(files).toEqual(expect.arrayContaining([`small_${version}.json`, `failed_${version}.json`, `continue-as-new_${version}_run1.json`, `continue-as-new_${version}_run2.json`]));
    }

    const reports = await replayHistories(files.map(fixture), { workflowBundle: temporal.bundle });
    expect(reports.map(({ label, outcome, message }) => ({ label, outcome, message }))).toEqual(
      files.map((label) => ({ label, outcome: 'ok', message: undefined })),
    );
  });

  it('fail with a non-determinism error when the workflow no longer does what one recorded', async () => {
    const [report] = await replayHistories([incompatible(`small_${VERSION}.json`)], { workflowBundle: temporal.bundle });
    expect(report.outcome).toBe('nondeterministic');
    expect(report.message).toMatch(/Nondeterminism error: Activity type of scheduled event 'scoreTaskV0' does not match .*'scoreTask'/);
  });

  it('read the short enum names older tools write (WorkflowExecutionStarted, Normal)', async () => {
    const pascal = (constant: string, prefix: string) =>
      constant.slice(prefix.length).toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
    const text = readFileSync(path.join(FIXTURES, `small_${VERSION}.json`), 'utf8')
      .replace(/"(EVENT_TYPE_[A-Z_]+)"/g, (_, c: string) => `"${pascal(c, 'EVENT_TYPE_')}"`)
      .replace(/"(TASK_QUEUE_KIND_[A-Z_]+)"/g, (_, c: string) => `"${pascal(c, 'TASK_QUEUE_KIND_')}"`);
    expect(text).toContain('"eventType": "WorkflowExecutionStarted"');
    const [report] = await replayHistories([{ workflowId: 'small', history: JSON.parse(text) }], { workflowBundle: temporal.bundle });
    expect(report).toMatchObject({ outcome: 'ok' });
  });

  it('an unreadable history is reported as an error, not thrown', async () => {
    const reports = await replayHistories([{ workflowId: 'x', label: 'broken', history: { events: 'none' } }]);
    expect(reports).toEqual([{ label: 'broken', workflowId: 'x', outcome: 'error', message: expect.stringMatching(/array of events/) }]);
  });
});

describe('evsys replay', () => {
  const saved = { address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE };
  beforeAll(() => {
    process.env.TEMPORAL_ADDRESS = temporal.env.address;
    process.env.TEMPORAL_NAMESPACE = 'default';
  });
  afterAll(() => {
    for (const [key, value] of [['TEMPORAL_ADDRESS', saved.address], ['TEMPORAL_NAMESPACE', saved.namespace]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  function start(workflowId: string, benchmark = benchmarkDir) {
    return temporal.env.client.workflow.start<typeof evaluateBenchmark>('evaluateBenchmark', {
      taskQueue: temporal.taskQueue,
      workflowId,
      args: [
        EvaluateBenchmarkInputSchema.parse({
          evaluator: { name: 'replay', benchmark: { path: benchmark }, n_concurrent: 8, sampler: { base_url: sim.url, model: 'simulator', timeout_s: 5 } },
        }),
      ],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    });
  }

  async function capturingStdout<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
    try {
      return { result: await run(), lines };
    } finally {
      spy.mockRestore();
    }
  }

  it('replays every run of a workflow id fetched from the server at TEMPORAL_ADDRESS', { timeout: 120_000 }, async () => {
    const workflowId = `replay-cli-${Date.now()}`;
    const handle = await start(workflowId);
    await handle.result();

    const { result, lines } = await capturingStdout(() => runReplayCommand([workflowId]));
    expect(result).toBe(0);
    // The eval continued as new: one line per run, oldest first, each replayed.
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toBe(`ok  ${workflowId} run ${handle.firstExecutionRunId}`);
    for (const line of lines) expect(line).toMatch(new RegExp(`^ok  ${workflowId} run [0-9a-f-]+$`));

    // The file the Temporal CLI writes (`temporal workflow show --output json`) replays too.
    const cli = resolveTemporalExecutable();
    if (cli.type === 'existing-path') {
      const { stdout } = await promisify(execFile)(
        cli.path,
        ['workflow', 'show', '--workflow-id', workflowId, '--run-id', handle.firstExecutionRunId, '--output', 'json', '--address', temporal.env.address],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      const file = path.join(tempDir(), 'shown.json');
      writeFileSync(file, stdout);
      const lines: string[] = [];
      expect(await runReplayCommand([file], { workflowBundle: temporal.bundle, write: (l) => lines.push(l) })).toBe(0);
      expect(lines).toEqual([`ok  ${file}`]);
    }
  });

  it('replays only the latest execution under an id, or with --all-runs every earlier one too', async () => {
    const failing = tempDir();
    writeFileSync(
      path.join(failing, 'tasks.jsonl'),
      `${JSON.stringify({ task_id: 'bad', instruction: 'Hi.', verifier: { kind: 'in_process', fn_name: 'no_such_fn', expected: 'hi' } })}\n`,
    );
    const workflowId = `replay-failed-twice-${Date.now()}`;
    // A failed eval started again under its id (as `evsys eval` does) is a second execution.
    for (let i = 0; i < 2; i++) await expect((await start(workflowId, failing)).result()).rejects.toThrow();

    const latest: string[] = [];
    expect(await runReplayCommand([workflowId], { workflowBundle: temporal.bundle, write: (l) => latest.push(l) })).toBe(0);
    expect(latest).toHaveLength(1);
    const all: string[] = [];
    expect(await runReplayCommand([workflowId], { allRuns: true, workflowBundle: temporal.bundle, write: (l) => all.push(l) })).toBe(0);
    expect(all).toHaveLength(2);
    expect(all[1]).toBe(latest[0]);
  });

  it('exits 1 on an incompatible history file, and on an id the server does not know', async () => {
    const file = path.join(tempDir(), 'incompatible.json');
    writeFileSync(file, JSON.stringify(incompatible(`small_${VERSION}.json`).history));
    const { result, lines } = await capturingStdout(() => runReplayCommand([file]));
    expect(result).toBe(1);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^NON-DETERMINISTIC  ${file}: .*scoreTaskV0`))]);

    const unknown: string[] = [];
    expect(await runReplayCommand(['no-such-eval'], { workflowBundle: temporal.bundle, write: (l) => unknown.push(l) })).toBe(1);
    expect(unknown).toEqual([expect.stringMatching(/^ERROR  no-such-eval: could not fetch its history from .*not found/i)]);
  });
});
