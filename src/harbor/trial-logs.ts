import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatMessage } from '../sampler/client';
import type { HarborEnvironment } from './environment';
import { AGENT_LOGS_DIR, VERIFIER_LOGS_DIR } from './environment';

/**
 * Every trial keeps its logs in a folder of its own on the worker that ran it, as Harbor keeps
 * its trial directories:
 *   <root>/<eval id>/<stamp>/<task id>/sample-<i>/
 *     result.json          TrialSummary: rewards, verifier exit code, agent turns, duration, error
 *     agent/               the environment's /logs/agent, plus transcript.json (the conversation
 *                          and each raw reply, reasoning included)
 *     verifier/            the environment's /logs/verifier (reward files and whatever test.sh
 *                          wrote there), plus test-output.txt (the end of test.sh's output)
 * A failed trial (timeout, verifier error) keeps its logs too; a trial run again (an activity
 * retry) replaces them. Uploaded predictions name the folder (upload.ts).
 */

/** Relative to the worker's working directory, beside the default ledger; EVSYS_TRIALS_DIR overrides it. */
export const DEFAULT_TRIALS_DIR = join('.evsys', 'trials');

export interface TrialSummary {
  task_id: string;
  sample_idx: number;
  reward?: number;
  rewards?: Record<string, number>;
  verifier_exit_code?: number | null;
  agent: { kind: string; replies: number; commands: number };
  duration_s: number;
  /** Why the trial has no reward: `agent_timeout`, `verifier_timeout`, `verifier_error` or `error`. */
  error?: { kind: string; message: string };
}

export interface TrialLogs {
  summary: TrialSummary;
  transcript: { messages: ChatMessage[]; replies: string[] };
  /** The end of test.sh's output, when the verifier ran. */
  verifierOutput?: string;
  env?: HarborEnvironment;
}

export function trialDir(root: string, evalId: string, stamp: string, taskId: string, sampleIdx: number): string {
  // Eval and task ids may hold '/' (a run id, a task id of tasks.jsonl): one path segment each.
  return join(root, encodeURIComponent(evalId), stamp, encodeURIComponent(taskId), `sample-${sampleIdx}`);
}

export async function writeTrialLogs(dir: string, logs: TrialLogs): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'agent'), { recursive: true });
  await mkdir(join(dir, 'verifier'), { recursive: true });
  if (logs.env) {
    await logs.env.downloadDir(AGENT_LOGS_DIR, join(dir, 'agent'));
    await logs.env.downloadDir(VERIFIER_LOGS_DIR, join(dir, 'verifier'));
  }
  await writeFile(join(dir, 'agent', 'transcript.json'), `${JSON.stringify(logs.transcript, null, 2)}\n`);
  if (logs.verifierOutput !== undefined) await writeFile(join(dir, 'verifier', 'test-output.txt'), logs.verifierOutput);
  await writeFile(join(dir, 'result.json'), `${JSON.stringify(logs.summary, null, 2)}\n`);
}

/** The trial's result.json, or undefined when this worker has none (the trial ran elsewhere). */
export async function readTrialSummary(dir: string): Promise<TrialSummary | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as TrialSummary;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
