import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import type { Task } from '../../src/benchmark/task';
import { evalWorkflowId } from '../../src/client/start-eval';
import type { EvaluatorInput } from '../../src/config/evaluator';
import { loadEvaluatorFile } from '../../src/config/load';
import { evaluateBenchmark } from '../../src/workflows';
import { EvaluateBenchmarkInputSchema } from '../../src/workflows/io';
import { startWorkerProcess, type WorkerProcess } from '../../testkit/processes';
import { runEvsys } from '../helpers/evsys-cli';
import { LLAMA_MODEL, plainClient as plainClientOf, startLlamaServer, tokenizerFromGguf, type LlamaServer, type PlainReply } from '../../testkit/llama-server';
import { ROOT } from '../helpers/prerequisites';
import { lacks } from '../helpers/requires';
import { startTemporalFixture, tempDir, type TemporalFixture } from '../helpers/temporal';

/**
 * evsys against a real inference server: llama.cpp (PyPI llama-cpp-python[server]) serving
 * SmolLM2-135M-Instruct on CPU, at temperature 0 so every answer is reproducible. A plain
 * OpenAI-style client (the `openai` package, testkit/plain_client.py) is the reference:
 * evsys must get its completion on every task, through `/chat/completions` and through
 * `/completions` with the model's own template (from the GGUF) rendered by evsys; the Python
 * package and the harbor engine's single-turn agent must reach the same server the same way.
 */

const run = promisify(execFile);
const BENCHMARK = path.join(ROOT, 'test', 'fixtures', 'smollm');
const HARBOR_TASKS = path.join(ROOT, 'test', 'fixtures', 'harbor-smollm');
/** Small, so the two open-ended tasks stop at it and the eval stays quick on a CPU. */
const MAX_TOKENS = 24;

const plainClient = (url: string, instructions: string[]) => plainClientOf(url, instructions, MAX_TOKENS);

describe.skipIf(lacks('llama'))('a real model server: llama.cpp serving SmolLM2-135M-Instruct', () => {
  let temporal: TemporalFixture;
  let llama: LlamaServer;
  let tasks: Task[];
  let plain: PlainReply[];
  let trialsDir: string;

  beforeAll(async () => {
    trialsDir = tempDir('evsys-smollm-trials-');
    [temporal, llama, { tasks }] = await Promise.all([startTemporalFixture({ EVSYS_TRIALS_DIR: trialsDir }), startLlamaServer(), loadBenchmark(BENCHMARK)]);
    plain = await plainClient(llama.url, tasks.map((task) => task.instruction));
  }, 600_000);

  afterAll(async () => {
    await llama?.close();
    await temporal?.teardown();
  });

  function entry(overrides: Partial<EvaluatorInput> = {}): EvaluatorInput {
    return {
      name: 'smollm',
      benchmark: { path: BENCHMARK },
      sampler: { base_url: llama.url, model: LLAMA_MODEL },
      max_tokens: MAX_TOKENS,
      temperature: 0,
      n_concurrent: 2,
      ...overrides,
    };
  }

  async function runEval(evaluator: EvaluatorInput) {
    const workflowId = `smollm-${evaluator.sampler?.api ?? 'chat'}-${Date.now()}`;
    const result = await temporal.env.client.workflow.execute(evaluateBenchmark, { taskQueue: temporal.taskQueue, workflowId, args: [{ evaluator }] });
    const db = (temporal.ledger as unknown as { db: import('better-sqlite3').Database }).db;
    const rows = db
      .prepare('SELECT task_id, completion, prompt_tokens, completion_tokens, finish_reason, reward FROM samples WHERE eval_id = ? ORDER BY task_index')
      .all(workflowId) as { task_id: string; completion: string; prompt_tokens: number; completion_tokens: number; finish_reason: string; reward: number }[];
    return { result, rows };
  }

  /** What the verifiers must give the plain client's answers: each task's `contains`, case folded. */
  function plainMeanReward(): number {
    const expected = (task: (typeof tasks)[number]) => String(task.verifier.kind === 'in_process' ? task.verifier.expected : undefined);
    const rewards = tasks.map((task, i) => Number(plain[i].text.toLowerCase().includes(expected(task).toLowerCase())));
    return rewards.reduce((a, b) => a + b, 0) / rewards.length;
  }

  it('chat: the plain client\'s completion on every task, max_tokens reached counted, the server\'s token usage recorded', async () => {
    const { result, rows } = await runEval(entry());
    expect(rows.map((r) => r.task_id)).toEqual(tasks.map((t) => t.task_id));
    expect(rows.map((r) => r.completion)).toEqual(plain.map((p) => p.text));
    expect(rows.map((r) => [r.prompt_tokens, r.completion_tokens])).toEqual(plain.map((p) => [p.prompt_tokens, p.completion_tokens]));
    expect(rows.map((r) => r.finish_reason)).toEqual(plain.map((p) => p.finish_reason));

    const truncated = plain.filter((p) => p.finish_reason === 'length').length;
    expect(truncated).toBeGreaterThanOrEqual(2); // the story and the list run into max_tokens
    expect(result.metrics.n_truncated_samples).toBe(truncated);
    expect(result.metrics.mean_reward).toBeCloseTo(plainMeanReward(), 12);
    expect(result.metrics.n_errored_samples).toBe(0);
  }, 600_000);

  it('completions, with the chat template from the GGUF rendered by evsys: the same completions as through chat', async () => {
    const tokenizer = await tokenizerFromGguf(llama.gguf);
    const { result, rows } = await runEval(entry({ sampler: { base_url: llama.url, model: LLAMA_MODEL, api: 'completions' }, tokenizer }));
    expect(rows.map((r) => r.completion)).toEqual(plain.map((p) => p.text));
    // The server tokenized the prompt evsys rendered into as many tokens as the one it rendered itself.
    expect(rows.map((r) => r.prompt_tokens)).toEqual(plain.map((p) => p.prompt_tokens));
    expect(result.metrics.n_truncated_samples).toBe(plain.filter((p) => p.finish_reason === 'length').length);
    expect(result.metrics.mean_reward).toBeCloseTo(plainMeanReward(), 12);
  }, 600_000);

  describe.skipIf(lacks('python'))('the Python package (python/client)', () => {
    let worker: WorkerProcess | undefined;
    afterAll(async () => worker?.stop());

    it('in a fresh venv, a ten-line loop scores three steps through an evsys worker process, as `evsys eval` scores them', async () => {
      const dir = tempDir('evsys-py-loop-');
      const venv = path.join(dir, 'venv');
      await run('python3', ['-m', 'venv', venv]);
      // From a copy: a build leaves build/ and *.egg-info beside the sources it builds.
      const sources = path.join(dir, 'client');
      cpSync(path.join(ROOT, 'python', 'client'), sources, { recursive: true, filter: (from) => !/(^|\/)(build|tests|[^/]*\.egg-info|__pycache__)$/.test(from) });
      await run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', sources], { timeout: 300_000 });

      const runId = `py-loop-${process.pid}`;
      const config = path.join(dir, 'eval.yaml');
      writeFileSync(config, [
        'name: smollm',
        `benchmark: {path: ${BENCHMARK}}`,
        `sampler: {base_url: "${llama.url}", model: ${LLAMA_MODEL}}`,
        `max_tokens: ${MAX_TOKENS}`,
        'limit: 4',
        'n_concurrent: 2',
        `run_id: ${runId}`,
        '',
      ].join('\n'));
      const loop = path.join(dir, 'loop.py');
      writeFileSync(loop, [
        'import asyncio, json, sys',
        'from evsys import BenchmarkEvaluator',
        '',
        'async def main():',
        '    evaluator = BenchmarkEvaluator.from_yaml(sys.argv[1])',
        '    for step in (1, 2, 3):',
        '        print(json.dumps({"step": step, "metrics": await evaluator.evaluate(step)}), flush=True)',
        '    print(json.dumps({"step": 1, "metrics": evaluator.evaluate_sync(1)}), flush=True)  # started again: attaches',
        '',
        'asyncio.run(main())',
        '',
      ].join('\n'));

      const taskQueue = `py-loop-${process.pid}`;
      worker = await startWorkerProcess({ address: temporal.env.address, taskQueue, ledgerFile: path.join(dir, 'ledger.sqlite'), logFile: path.join(dir, 'worker.log') });
      const { stdout } = await run(path.join(venv, 'bin', 'python'), [loop, config], {
        cwd: dir, // not the checkout: the installed package, not its sources
        env: { ...process.env, TEMPORAL_ADDRESS: temporal.env.address, EVSYS_TASK_QUEUE: taskQueue, PYTHONPATH: '' },
        timeout: 300_000,
      });
      const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { step: number; metrics: Record<string, number> });
      expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 1]);

      // The same config and step through the CLI, on its own embedded server, worker and ledger.
      const cli = await runEvsys(['eval', config, '--step', '2', '--json'], tempDir('evsys-py-loop-cli-'));
      expect(cli.code, cli.stderr).toBe(0);
      const printed = JSON.parse(cli.stdout) as Record<string, number>;
      for (const line of lines) expect(line.metrics).toEqual(printed);
      expect(printed.n_tasks).toBe(4);

      // Under the id TypeScript gives the entry: one execution per step, the second start attached.
      const [fromFile] = loadEvaluatorFile(config);
      for (const step of [1, 2, 3]) {
        const workflowId = evalWorkflowId(EvaluateBenchmarkInputSchema.parse({ evaluator: fromFile, step }));
        const runs = [];
        for await (const execution of temporal.env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(execution.status.name);
        expect(runs).toEqual(['COMPLETED']);
      }
    }, 900_000);
  });

  describe.skipIf(lacks('bubblewrap', 'harbor'))('the harbor engine', () => {
    it('its single_turn agent asks the server once and writes the plain client\'s answer, which Harbor\'s verifier scores', async () => {
      const { result, rows } = await runEval(entry({ engine: 'harbor', benchmark: { path: HARBOR_TASKS }, num_samples: 1, n_concurrent: 1 }));
      expect(rows).toHaveLength(1);
      const db = (temporal.ledger as unknown as { db: import('better-sqlite3').Database }).db;
      const { details } = db.prepare('SELECT details FROM samples WHERE task_id = ? ORDER BY created_at DESC LIMIT 1').get('capital') as { details: string };
      const trial = JSON.parse(details) as { trial_dir: string };
      const log = JSON.parse(readFileSync(path.join(trial.trial_dir, 'agent', 'single-turn.json'), 'utf8')) as {
        request: { messages: { role: string; content: string }[]; temperature: number; max_tokens: number };
        reply: string;
      };
      expect(log.request).toMatchObject({ temperature: 0, max_tokens: MAX_TOKENS });
      expect(log.request.messages.map((m) => m.role)).toEqual(['user']);
      const [reference] = await plainClient(llama.url, [log.request.messages[0].content]);
      expect(log.reply).toBe(reference.text);
      expect(result.metrics.mean_reward).toBe(Number(/paris/i.test(reference.text)));
    }, 600_000);
  });
});
