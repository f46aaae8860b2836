import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { BadInputError } from '../errors';
import { type SandboxOptions, VerifierInfraError } from './context';
import { tailExcerpt } from './text';

/**
 * Runs a shell command in a throwaway bubblewrap sandbox: the host's root file system read-only,
 * a fresh /dev, /proc and size-limited /tmp, the given folder writable as the working directory,
 * no network (a new network namespace with only loopback), its own PID, IPC and UTS namespaces,
 * no capabilities, a clean environment, an address-space limit and a wall-clock limit. There is
 * no unsandboxed fallback: without a working bwrap every run fails with VerifierInfraError.
 *
 * Needs bubblewrap >= 0.8 (Debian 12's `bubblewrap`) and either root or unprivileged user
 * namespaces (the Debian default).
 */

/** Where the writable folder appears inside the sandbox (on the sandbox's own /tmp). */
export const SANDBOX_WORKDIR = '/tmp/work';

export interface SandboxResult {
  /** The command's exit code; null when it was killed by a signal (the timeout included). */
  exitCode: number | null;
  timedOut: boolean;
  /** The end of the command's stdout and stderr, interleaved, for logs. */
  output: string;
}

const OUTPUT_TAIL_CHARS = 8_192;
/** Bytes on the sandbox's /tmp, which is RAM the address-space limit does not count. */
const TMP_SIZE_BYTES = 256 * 1024 * 1024;
/** The start marker's private descriptor; closed before the command runs, so the command cannot fake or suppress it. */
const MARKER_FD = 3;
/** Variables passed through when the host sets them, so the host's Python (pyenv, a venv) is found the same way. */
const PASSED_ENV = ['PATH', 'LANG', 'LC_ALL', 'PYENV_ROOT', 'PYENV_VERSION', 'VIRTUAL_ENV'];

/**
 * Inside the sandbox, before the command: set the limits, then tell the host the sandbox is up.
 * Anything that ends the run before the marker (bwrap's own errors, a refused limit) is
 * infrastructure; everything after it is the command's doing.
 */
const WRAPPER = [
  'ulimit -v "$1" && ulimit -c 0 || exit 125',
  `printf started >&${MARKER_FD}`,
  `exec ${MARKER_FD}>&-`,
  'exec /bin/bash -c "$2"',
].join('\n');

export async function runInSandbox(
  dir: string,
  command: string,
  options: SandboxOptions,
  signal?: AbortSignal,
): Promise<SandboxResult> {
  checkOptions(options);
  signal?.throwIfAborted();
  const bwrap = options.bwrapPath ?? 'bwrap';
  const env: string[] = [];
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env.push('--setenv', name, value);
  }
  env.push('--setenv', 'HOME', SANDBOX_WORKDIR, '--setenv', 'TMPDIR', '/tmp', '--setenv', 'PYTHONDONTWRITEBYTECODE', '1');
  const args = [
    ...(options.root ?? ['--ro-bind', '/', '/']),
    '--dev', '/dev',
    '--proc', '/proc',
    '--size', String(TMP_SIZE_BYTES), '--tmpfs', '/tmp',
    '--bind', dir, SANDBOX_WORKDIR,
    '--chdir', SANDBOX_WORKDIR,
    '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts',
    '--die-with-parent', '--new-session',
    // As root bwrap keeps every capability unless told otherwise; with them the code could remount / writable.
    '--cap-drop', 'ALL',
    '--clearenv', ...env,
    '--', '/bin/bash', '-c', WRAPPER, 'evsys-sandbox', String(options.memoryMb * 1024), command,
  ];

  return new Promise<SandboxResult>((resolve, reject) => {
    // Its own process group, so the timeout kills bwrap and everything it started at once.
    const child = spawn(bwrap, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let started = false;
    (child.stdio[MARKER_FD] as Readable).on('data', () => (started = true));

    let timedOut = false;
    let settled = false;
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    const onAbort = () => {
      kill();
      finish(() => reject(signal!.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT'
          ? `bubblewrap (${bwrap}) is not installed or not on PATH; install the Debian package "bubblewrap" (e2b verifiers never run unsandboxed)`
          : `cannot run bubblewrap (${bwrap}): ${err.message}`;
      finish(() => reject(new VerifierInfraError(why)));
    });
    child.on('close', (code, killSignal) => {
      if (!started) {
        const how = timedOut ? `did not start within ${options.timeoutMs} ms` : `exited with ${code ?? killSignal} before the test started`;
        finish(() => reject(new VerifierInfraError(`sandbox failed to start: bubblewrap (${bwrap}) ${how}; output: ${JSON.stringify(tailExcerpt(output, 1000))}`)));
        return;
      }
      finish(() => resolve({ exitCode: code, timedOut, output }));
    });
  });
}

function checkOptions(options: SandboxOptions): void {
  for (const name of ['timeoutMs', 'memoryMb'] as const) {
    const value = options[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new BadInputError(`sandbox ${name} must be a positive number, got ${value}`);
    }
  }
}
