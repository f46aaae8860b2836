import { join } from 'node:path';
import { VerifierInfraError } from '../verifiers/context';
import { codeBlocks, tailExcerpt } from '../verifiers/text';
import { type HarborEnvironment, APP_DIR, TESTS_DIR, VERIFIER_LOGS_DIR } from './environment';
import type { HarborTask } from './task';

/**
 * The verifier half of a Harbor trial, and the agent's deadline (the agents are in agent.ts,
 * the whole trial in run.ts):
 * 1. The single-turn agent's answer: its first Markdown code block, whatever the language, or
 *    the whole text when it has none, is written to /app/answer.txt (runTrial). The shell agent
 *    writes nothing itself: its commands leave the environment as the tests find it.
 * 2. The task's tests/ is copied to /tests (only now: the agent never sees it), and
 *    `bash /tests/test.sh` runs in the environment, from /app, under the task's verifier timeout.
 * 3. The reward comes from /logs/verifier/reward.json (an object of name to number; the metric
 *    reward is its `reward` key, or its only key) or else /logs/verifier/reward.txt (one number,
 *    read as {"reward": x}). test.sh's exit code is reported but does not decide the reward.
 *
 * Failures are never a 0 reward: a verifier that leaves no usable reward file throws
 * HarborVerifierError, one that runs past its timeout throws HarborTimeoutError. Both are
 * VerifierInfraErrors, which is how the rest of evsys already keeps a sample out of the scores
 * (retried a bounded number of times, then counted as an infrastructure error, apart from the
 * rewards). A broken verifier usually stays broken on retry, but a flaky one may not, and a
 * 0 would misreport the model.
 *
 */

export const ANSWER_PATH = `${APP_DIR}/answer.txt`;
export const REWARD_JSON = `${VERIFIER_LOGS_DIR}/reward.json`;
export const REWARD_TXT = `${VERIFIER_LOGS_DIR}/reward.txt`;
const LOG_EXCERPT_CHARS = 4000;

export interface TrialResult {
  /** The metric reward. */
  reward: number;
  /** Every reward the verifier wrote (reward.txt gives `{ reward }`). */
  rewards: Record<string, number>;
  verifierExitCode: number | null;
  /** The end of test.sh's output. */
  logs: string;
}

/** The verifier ran but left no usable reward: missing, empty or unparseable reward file. */
export class HarborVerifierError extends VerifierInfraError {
  override readonly name: string = 'HarborVerifierError';
  constructor(
    message: string,
    readonly logs: string,
  ) {
    super(message);
  }
}

/** The agent or the verifier ran past task.toml's timeout. */
export class HarborTimeoutError extends VerifierInfraError {
  override readonly name: string = 'HarborTimeoutError';
  constructor(
    readonly phase: 'agent' | 'verifier',
    readonly timeoutMs: number,
    readonly logs = '',
  ) {
    super(`harbor ${phase} timed out after ${timeoutMs / 1000} s (task.toml ${phase}.timeout_sec)`);
  }
}

export interface TrialOptions {
  signal?: AbortSignal;
}

/** The single-turn trial's verification: the answer goes to /app/answer.txt, then the verifier runs. */
export async function runTrial(task: HarborTask, agentAnswer: string, env: HarborEnvironment, options: TrialOptions = {}): Promise<TrialResult> {
  await env.writeFile(ANSWER_PATH, answerText(agentAnswer));
  return runVerifier(task, env, options);
}

/** Copies tests/ to /tests, runs test.sh in the environment as the agent left it, and reads the reward files. */
export async function runVerifier(task: HarborTask, env: HarborEnvironment, options: TrialOptions = {}): Promise<TrialResult> {
  await env.uploadDir(join(task.dir, 'tests'), TESTS_DIR);
  // A fresh /logs/verifier: a reward file the agent left there must not pass for the verifier's.
  const run = await env.run(`rm -rf ${VERIFIER_LOGS_DIR} && mkdir -p ${VERIFIER_LOGS_DIR} || exit 125\nbash ${TESTS_DIR}/test.sh`, { timeoutMs: task.verifierTimeoutMs, cwd: APP_DIR, signal: options.signal });
  const logs = tailExcerpt(run.stdout + run.stderr, LOG_EXCERPT_CHARS);
  if (run.timedOut) throw new HarborTimeoutError('verifier', task.verifierTimeoutMs, logs);
  const rewards = await readRewards(env, logs, run.exitCode);
  const reward = metricReward(rewards);
  if (reward === undefined) {
    throw new HarborVerifierError(`${REWARD_JSON} has several keys and none is "reward": ${Object.keys(rewards).join(', ')}`, logs);
  }
  return { reward, rewards, verifierExitCode: run.exitCode, logs };
}

/**
 * The agent's turn(s) under task.toml's agent timeout: `act` gets a signal that aborts at the
 * deadline (pass it to the sampler and the environment), and an agent past the deadline is a
 * HarborTimeoutError whether or not `act` honours the signal. A caller's own abort passes
 * through unchanged.
 */
export async function runAgentTurn<T>(task: Pick<HarborTask, 'agentTimeoutMs'>, act: (signal: AbortSignal) => Promise<T>, options: TrialOptions = {}): Promise<T> {
  options.signal?.throwIfAborted();
  const deadline = new AbortController();
  const onAbort = () => deadline.abort(options.signal!.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new HarborTimeoutError('agent', task.agentTimeoutMs);
      deadline.abort(err);
      reject(err);
    }, task.agentTimeoutMs);
  });
  try {
    return await Promise.race([act(deadline.signal), timeout]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** What the single-turn agent writes to /app/answer.txt: the first code block, else the whole answer. */
export function answerText(answer: string): string {
  const [block] = codeBlocks(answer);
  return block ? block.content : answer;
}

/** `reward`, else the only key; undefined when neither. */
export function metricReward(rewards: Record<string, number>): number | undefined {
  if ('reward' in rewards) return rewards.reward;
  const values = Object.values(rewards);
  return values.length === 1 ? values[0] : undefined;
}

async function readRewards(env: HarborEnvironment, logs: string, exitCode: number | null): Promise<Record<string, number>> {
  const fail = (why: string) =>
    new HarborVerifierError(`harbor verifier (test.sh exit ${exitCode ?? 'killed'}) ${why}; output: ${JSON.stringify(tailExcerpt(logs, 500))}`, logs);
  const json = await env.readFile(REWARD_JSON);
  if (json !== undefined) return parseRewardJson(json, fail);
  const txt = await env.readFile(REWARD_TXT);
  if (txt !== undefined) return { reward: parseRewardTxt(txt, fail) };
  throw fail(`wrote neither ${REWARD_JSON} nor ${REWARD_TXT}`);
}

export function parseRewardJson(text: string, fail: (why: string) => Error = (w) => new HarborVerifierError(w, '')): Record<string, number> {
  if (text.trim() === '') throw fail(`wrote an empty ${REWARD_JSON}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail(`wrote ${REWARD_JSON} that is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`wrote ${REWARD_JSON} that is not an object of name to number`);
  const entries = Object.entries(value);
  if (entries.length === 0) throw fail(`wrote an empty object to ${REWARD_JSON}`);
  const rewards: Record<string, number> = {};
  for (const [key, v] of entries) {
    const n = typeof v === 'boolean' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw fail(`wrote ${REWARD_JSON} whose "${key}" is not a finite number: ${JSON.stringify(v)}`);
    rewards[key] = n;
  }
  return rewards;
}

export function parseRewardTxt(text: string, fail: (why: string) => Error = (w) => new HarborVerifierError(w, '')): number {
  const trimmed = text.trim();
  if (trimmed === '') throw fail(`wrote an empty ${REWARD_TXT}`);
  const n = Number(trimmed);
  if (!Number.isFinite(n)) throw fail(`wrote ${REWARD_TXT} that is not one number: ${JSON.stringify(trimmed.slice(0, 200))}`);
  return n;
}
