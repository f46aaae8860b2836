import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EVSYS_BIN } from '../../testkit/processes';

const run = promisify(execFile);

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** `evsys <args>` as a user runs it, in `cwd`; without TEMPORAL_ADDRESS unless `env` sets it. */
export async function runEvsys(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliOutcome> {
  const fullEnv = { ...process.env, ...env };
  if (!env.TEMPORAL_ADDRESS) delete fullEnv.TEMPORAL_ADDRESS;
  try {
    const { stdout, stderr } = await run(process.execPath, [EVSYS_BIN, ...args], { cwd, env: fullEnv, timeout: 180_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
