import { constants } from 'node:os';
import { DEFAULT_SANDBOX, type SandboxOptions } from './context';
import type { SandboxResult } from './sandbox';
import { codeBlocks } from './text';

/** What the sandboxed code checks (`e2b`, `program`) share: the code they take from a completion, and the output they keep. */

const PYTHON_FENCES = new Set(['', 'python', 'py', 'python3']);
/** The bound on a code check's details.output, so a chatty test cannot bloat the ledger. */
export const E2B_OUTPUT_CHARS = 4_096;

/** The completion's first ```python (or bare ```) code block, or the whole completion when it has none. */
export function solutionCode(completion: string): string {
  const block = codeBlocks(completion).find((b) => PYTHON_FENCES.has(b.lang));
  return block ? block.content : completion;
}

/** The end of the run's output, then how it ended, within E2B_OUTPUT_CHARS. */
export function checkOutput(result: SandboxResult, sandbox: SandboxOptions): string {
  const notes: string[] = [];
  if (result.timedOut) notes.push(`[evsys] timed out after ${sandbox.timeoutMs / 1000} s; the sandbox was killed`);
  else if (result.exitCode === null) notes.push('[evsys] the sandbox was killed by a signal');
  else notes.push(`[evsys] exit code ${result.exitCode}${signalName(result.exitCode)}`);
  if (result.refusedForks > 0) {
    notes.push(`[evsys] ${result.refusedForks} forks refused at the sandbox's cap of ${sandbox.maxProcesses ?? DEFAULT_SANDBOX.maxProcesses} processes`);
  }
  const tail = notes.join('\n');
  const room = E2B_OUTPUT_CHARS - tail.length - 2;
  const text = result.output.length > room ? `…${result.output.slice(-(room - 1))}` : result.output;
  return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${tail}`;
}

/** bwrap and bash report a command killed by signal N as exit code 128 + N. */
function signalName(exitCode: number): string {
  if (exitCode <= 128) return '';
  const name = Object.entries(constants.signals).find(([, n]) => n === exitCode - 128)?.[0];
  return name ? ` (killed by ${name})` : '';
}

/** Exit code 0 passes; any other exit, the timeout, or a crash fails. */
export function checkReward(result: SandboxResult): number {
  return result.exitCode === 0 && !result.timedOut ? 1 : 0;
}
