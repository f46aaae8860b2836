import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/file-lock';
import { startDevServer, type DevServer } from '../../testkit/dev-server';
import { killAllWorkerProcesses, startWorkerProcess } from '../../testkit/processes';
import { tempDir } from '../helpers/temporal';

/** The node flags a process was started with, from its command line. */
function nodeFlags(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg.startsWith('--'));
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  return !isAlive(pid);
}

// bin/evsys.js: `evsys worker` runs under a 512 MB heap cap unless the user gave one, in a child
// (V8 takes the flag only at start) that must never outlive its launcher.
describe('evsys worker heap cap', () => {
  let env: DevServer;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('evsys-heap-cap-');
    env = await startDevServer();
  }, 60_000);

  afterAll(async () => {
    await killAllWorkerProcesses();
    await env?.teardown();
  });

  const start = (name: string, extraEnv: NodeJS.ProcessEnv = {}) =>
    startWorkerProcess({
      address: env.address,
      taskQueue: `heap-cap-${name}`,
      ledgerFile: path.join(dir, `${name}.sqlite`),
      logFile: path.join(dir, `${name}.log`),
      env: { NODE_OPTIONS: '', ...extraEnv },
    });

  it(
    'by default, serves from a child with the cap, which dies with a SIGKILLed launcher',
    async () => {
      const worker = await start('default');
      expect(worker.pid).not.toBe(worker.launcherPid);
      expect(nodeFlags(worker.pid)).toContain('--max-old-space-size=512');
      expect(nodeFlags(worker.launcherPid)).not.toContain('--max-old-space-size=512');
      await worker.kill();
      expect(await gone(worker.pid, 5_000)).toBe(true);
    },
    90_000,
  );

  it(
    'with a cap of the user in NODE_OPTIONS, serves in the one process under it, and stops on SIGTERM',
    async () => {
      const worker = await start('own-cap', { NODE_OPTIONS: '--max-old-space-size=300' });
      expect(worker.pid).toBe(worker.launcherPid);
      await worker.stop();
      expect((await worker.exited).code).toBe(0);
    },
    90_000,
  );

  it(
    'stops gracefully on every signal the SDK stops on, and on SIGTERM sent to both processes at once, as a service manager does',
    async () => {
      const usr2 = await start('sigusr2');
      process.kill(usr2.launcherPid, 'SIGUSR2');
      expect(await usr2.exited).toEqual({ code: 0, signal: null });

      const both = await start('both');
      process.kill(both.pid, 'SIGTERM');
      process.kill(both.launcherPid, 'SIGTERM');
      expect(await both.exited).toEqual({ code: 0, signal: null });
      expect(await gone(both.pid, 5_000)).toBe(true);
    },
    90_000,
  );

  it(
    'relays SIGTERM to the child, which shuts down gracefully, and exits as it does',
    async () => {
      const worker = await start('sigterm');
      await worker.stop();
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(await gone(worker.pid, 5_000)).toBe(true);
    },
    90_000,
  );
});
