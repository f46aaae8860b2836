import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { BadInputError } from '../errors';
import { type SandboxOptions, DEFAULT_SANDBOX, VerifierInfraError } from './context';
import { capProcesses } from './process-cap';
import { rootArgs, rootView, SANDBOX_HOSTNAME, type SandboxUser } from './sandbox-root';
import { tailExcerpt } from './text';
import { onPath, type WarmProcess, type WarmRun, warmProcess, warmProgramFor, warmPytestFor } from './warm-python';

/**
 * Runs a shell command in a throwaway bubblewrap sandbox: a read-only root of its own with only
 * what a Python check needs (see sandbox-root.ts), a fresh /dev and /proc, a size-limited /tmp
 * (in RAM) that holds the working directory, no network (a new network namespace with only
 * loopback), its own PID, IPC and UTS namespaces, an unprivileged user with no capabilities, a
 * clean environment, an address-space limit, a cap on processes (see process-cap.ts) and a
 * wall-clock limit. There is no unsandboxed fallback: without a working bwrap, or without a way
 * to cap its processes, every run fails with VerifierInfraError.
 *
 * Needs bubblewrap >= 0.8 (Debian 12's `bubblewrap`), and either root with util-linux's
 * setpriv or unprivileged user namespaces (the Debian default).
 */

/** Where the working directory appears inside the sandbox (on the sandbox's own /tmp). */
export const SANDBOX_WORKDIR = '/tmp/work';

/**
 * The working directory's contents: files laid into the sandbox's own size-limited /tmp, so
 * nothing the command writes reaches the host's disk.
 */
export interface SandboxWorkdir {
  files: Record<string, string>;
}

export interface SandboxResult {
  /** The command's exit code; null when it was killed by a signal (the timeout included). */
  exitCode: number | null;
  timedOut: boolean;
  /** The end of the command's stdout and stderr, interleaved, for logs. */
  output: string;
  /** Forks refused at the process cap (0 when the cap cannot tell). */
  refusedForks: number;
}

const OUTPUT_TAIL_CHARS = 8_192;
/** The start marker's private descriptor; closed before the command runs, so the command cannot fake or suppress it. */
const MARKER_FD = 3;
/** The root's made files, then the working directory's, come in on the descriptors after the marker's, read by bwrap before the command starts. */
const FIRST_FILE_FD = MARKER_FD + 1;
/** Variables passed through when the host sets them; PATH and VIRTUAL_ENV as the sandbox's root shows them (sandbox-root.ts). */
const PASSED_ENV = ['LANG', 'LC_ALL'];
/** Who owns nothing on the host: a root worker's checks run as this user. */
const NOBODY: SandboxUser = { uid: 65534, gid: 65534 };
/** As root bwrap keeps every capability unless told otherwise; with them the code could remount / writable. */
const DROP_ALL_CAPS = ['--cap-drop', 'ALL'];
/** Where util-linux's setpriv may be; under /usr either way, so the sandbox has it too. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/**
 * Inside the sandbox, before the command: set the limits, then tell the host the sandbox is up.
 * Anything that ends the run before the marker (bwrap's own errors, a refused limit) is
 * infrastructure; everything after it is the command's doing.
 */
const WRAPPER = [
  'ulimit -v "$1" && ulimit -c 0 && { [ -z "$3" ] || ulimit -u "$3"; } || exit 125',
  `printf started >&${MARKER_FD}`,
  `exec ${MARKER_FD}>&-`,
  'exec /bin/bash -c "$2"',
].join('\n');

/**
 * What runs in the sandbox: a bash command line, or a Python file of the working directory, run
 * as `python3 <file>` runs it (the `python3` on the sandbox's PATH).
 */
export type SandboxCommand = string | { pythonFile: string };

/**
 * A plain `pytest ...` and a Python file take the warm path when they can (see warm-python.ts):
 * the sandbox is made the same way, holds still, and the warm process's child runs the check in it.
 */
export async function runInSandbox(
  workdir: SandboxWorkdir,
  command: SandboxCommand,
  options: SandboxOptions,
  signal?: AbortSignal,
): Promise<SandboxResult> {
  const limits = limitsOf(options);
  signal?.throwIfAborted();
  const bwrap = options.bwrapPath ?? 'bwrap';
  const files = Object.entries(workdir.files);
  files.forEach(([name]) => checkFileName(name));
  const identity = sandboxIdentity();
  const view = rootView(process.env);
  const shell = typeof command === 'string' ? command : pythonCommand(command.pythonFile, view.path);
  if (identity.user === NOBODY) checkOpenToOthers(view.pythonFolders);
  const root = rootArgs(view, identity.user, FIRST_FILE_FD);
  // The root's made files come in first, then the working directory's.
  const piped = [...root.files, ...files.map(([, content]) => content)];
  const firstWorkFd = FIRST_FILE_FD + root.files.length;
  const cap = await capProcesses(limits.maxProcesses);
  // PATH as the root shows it: a folder the sandbox does not have is not on its PATH.
  const hostEnv: Record<string, string> = { PATH: view.path };
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) hostEnv[name] = value;
  }
  const venv = process.env.VIRTUAL_ENV;
  if (venv !== undefined && view.shows(venv)) hostEnv.VIRTUAL_ENV = venv;
  const sandboxEnv = { ...hostEnv, HOME: SANDBOX_WORKDIR, TMPDIR: '/tmp', PYTHONDONTWRITEBYTECODE: '1' };
  const env = Object.entries(sandboxEnv).flatMap(([name, value]) => ['--setenv', name, value]);
  // Joining a sandbox from outside needs its cgroup (and root); under RLIMIT_NPROC, or when the
  // warm process cannot start, the same check runs cold.
  const run = cap.procsFile === undefined ? undefined : typeof command === 'string' ? warmPytestFor(command, view) : warmProgramFor(command.pythonFile, view);
  let warm: { run: WarmRun; process: WarmProcess } | undefined;
  if (run) {
    // A program's interpreter starts as a cold one would in the sandbox (its HOME, say, decides
    // the user site-packages); pytest's warm-up runs on the host, in the host's TMPDIR.
    const env = run.mode === 'program' ? sandboxEnv : { ...hostEnv, PYTHONDONTWRITEBYTECODE: '1' };
    const zygote = await warmProcess(run, env).catch(() => undefined);
    if (zygote) warm = { run, process: zygote };
  }
  if (signal?.aborted) {
    await cap.release();
    throw signal.reason;
  }
  const diskBytes = String(limits.diskMb * 1024 * 1024);
  // The warm path's sandbox only holds still, as a root with no capabilities that runs nothing of
  // the check's: the check comes in from outside and becomes the sandbox's user there (warm-python.py).
  const runAs = warm ? { caps: DROP_ALL_CAPS, launch: [] } : identity;
  const args = [
    ...root.args,
    // tmpfs is RAM that the address-space limit does not count; its size is the disk cap. bwrap's
    // /dev is an unbounded tmpfs: read-only, but for a size-limited /dev/shm (POSIX shared memory).
    // /tmp and /dev/shm are for every user, as on any host; the working directory and its files
    // are the check's to change, whoever owns them.
    '--dev', '/dev',
    '--perms', '1777', '--size', diskBytes, '--tmpfs', '/dev/shm',
    '--remount-ro', '/dev',
    '--proc', '/proc',
    '--perms', '1777', '--size', diskBytes, '--tmpfs', '/tmp',
    '--perms', '0777', '--dir', SANDBOX_WORKDIR,
    ...files.flatMap(([name], i) => ['--perms', '0666', '--file', String(firstWorkFd + i), `${SANDBOX_WORKDIR}/${name}`]),
    // Last, once everything is mounted on it: the root itself (a tmpfs bwrap made) is read-only too.
    '--remount-ro', '/',
    '--chdir', SANDBOX_WORKDIR,
    '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', SANDBOX_HOSTNAME,
    '--die-with-parent', '--new-session',
    ...runAs.caps,
    '--clearenv', ...env,
    // The warm path's sandbox holds still until it is killed; the check comes in from outside.
    '--', ...runAs.launch, '/bin/bash', '-c', WRAPPER, 'evsys-sandbox', String(limits.memoryMb * 1024), warm ? 'exec sleep infinity' : shell, cap.rlimit,
  ];
  const [program, ...programArgs] = [...cap.launcher, bwrap, ...args];

  return new Promise<SandboxResult>((resolve, reject) => {
    // Its own process group, so the timeout kills bwrap and everything it started at once.
    const child = spawn(program!, programArgs, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...piped.map(() => 'pipe' as const)],
    });
    let output = '';
    const collect = (chunk: string) => {
      output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    let started = false;
    /** The warm run's exit code, or why it could not run; settles once the check's process is gone. */
    let warmRun: Promise<{ exit?: number; error?: string }> | undefined;
    (child.stdio[MARKER_FD] as Readable).on('data', () => {
      started = true;
      if (!warm || warmRun) return;
      const { run: check, process: zygote } = warm;
      warmRun = (async () => {
        const request = {
          target: sandboxInit(child.pid!),
          stdio: child.pid!,
          cgroupProcs: cap.procsFile!,
          // What the cold path's bash adds to the environment of the command it runs.
          env: { ...sandboxEnv, PWD: SANDBOX_WORKDIR, SHLVL: '0', _: check.mode === 'pytest' ? check.script : check.interpreter },
          memoryKb: limits.memoryMb * 1024,
          workdir: SANDBOX_WORKDIR,
          user: identity.user,
        };
        return zygote.run(check, request);
      })()
        .then((exit) => ({ exit }), (err: Error) => ({ error: err.message }))
        .finally(kill);
    });
    piped.forEach((content, i) => {
      const pipe = child.stdio[FIRST_FILE_FD + i] as Writable;
      // bwrap may die before reading it; that failure is reported from its exit, not from the write.
      pipe.on('error', () => undefined);
      pipe.end(content);
    });

    let timedOut = false;
    let settled = false;
    const kill = () => {
      if (child.pid === undefined) return;
      // bubblewrap's init leads a session of its own (--new-session), out of the group's reach: it
      // goes with bwrap by its parent-death signal, which it can miss when bwrap is killed just as
      // a check ends; it would live on, holding the output open, and the run would never end. So it
      // is killed by pid too, once its start time shows the pid is still its own.
      let init: { pid: number; start: string } | undefined;
      try {
        init = processStart(sandboxInit(child.pid));
      } catch {
        // bwrap is gone, or has no child yet.
      }
      killIfThere(-child.pid);
      if (init !== undefined && processStart(init.pid)?.start === init.start) killIfThere(init.pid);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, limits.timeoutMs);
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
      void cap.release();
      finish(() => reject(new VerifierInfraError(err.code === 'ENOENT' ? bwrapMissing(bwrap) : `cannot run bubblewrap (${bwrap}): ${err.message}`)));
    });
    child.on('close', async (code, killSignal) => {
      // The warm run's joining process sits in the cgroup until it has reported: release after it.
      const warmResult = await warmRun;
      const refusedForks = await cap.refusedForks();
      await cap.release();
      if (!started) {
        // The launcher's shell exits 127 when it cannot find bwrap to exec.
        if (code === 127 && cap.launcher.length > 0 && /not found|No such file/.test(output)) {
          finish(() => reject(new VerifierInfraError(bwrapMissing(bwrap))));
          return;
        }
        const how = timedOut ? `did not start within ${limits.timeoutMs} ms` : `exited with ${code ?? killSignal} before the test started`;
        finish(() => reject(new VerifierInfraError(`sandbox failed to start: bubblewrap (${bwrap}) ${how}; output: ${JSON.stringify(tailExcerpt(output, 1000))}`)));
        return;
      }
      // Killed at the time limit before the check could start is a timeout like any other.
      if (warmResult?.error !== undefined && !timedOut) {
        finish(() => reject(new VerifierInfraError(`the warm ${warm!.run.mode} could not run the check: ${warmResult.error}; output: ${JSON.stringify(tailExcerpt(output, 1000))}`)));
        return;
      }
      // bwrap itself was killed once the check ended: its exit code is the warm run's.
      const exitCode = warmResult ? (timedOut ? null : (warmResult.exit ?? null)) : code;
      finish(() => resolve({ exitCode, timedOut, output, refusedForks }));
    });
  });
}

/**
 * Who runs the check: never root, so that a file only root may read stays unreadable even where
 * the sandbox's root shows its folder. A root worker's bubblewrap keeps only the capabilities
 * setpriv needs to become nobody, and setpriv drops them with root before the check starts. A
 * worker that is not root gets bubblewrap's own user namespace, as its own unprivileged user.
 */
function sandboxIdentity(): { user: SandboxUser; caps: string[]; launch: string[] } {
  if (process.getuid?.() !== 0) return { user: { uid: process.getuid!(), gid: process.getgid!() }, caps: DROP_ALL_CAPS, launch: [] };
  const setpriv = SETPRIV.find((path) => existsSync(path));
  if (setpriv === undefined) throw new VerifierInfraError(`the sandbox needs util-linux's setpriv (${SETPRIV.join(' or ')}) to run a root worker's checks as nobody; install util-linux`);
  return {
    user: NOBODY,
    caps: [...DROP_ALL_CAPS, '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP'],
    launch: [
      setpriv, `--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups',
      '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', '--',
    ],
  };
}

/**
 * nobody reads the Python folders as any other user does: a venv made under umask 077 would fail
 * every check, each as a 0. Its folders' own modes are what can be told at a glance.
 */
function checkOpenToOthers(folders: string[]): void {
  for (const folder of folders) {
    const mode = statSync(folder).mode;
    if ((mode & 0o005) !== 0o005) {
      throw new VerifierInfraError(
        `the sandbox runs a root worker's checks as nobody, who cannot read ${folder} (mode ${(mode & 0o777).toString(8)}); ` +
          `make it readable by other users (chmod -R o+rX ${folder})`,
      );
    }
  }
}

/** The host pid of bubblewrap's only child: the sandbox's init, in every namespace of the sandbox. */
function sandboxInit(bwrapPid: number): number {
  return Number(readFileSync(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8').trim().split(' ')[0]);
}

/** SIGKILL to a process (or, negative, a process group) that may be gone already. */
function killIfThere(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A process's pid and start time (which a later process with its pid would not share); undefined when it is gone. */
function processStart(pid: number): { pid: number; start: string } | undefined {
  try {
    // The fields after the command's name, whose parentheses may hold anything: the start time is the 20th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { pid, start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! };
  } catch {
    return undefined;
  }
}

/** `python3 <file>` for bash, once `python3` is known to be on the sandbox's PATH (sandboxPython3). */
function pythonCommand(file: string, sandboxPath: string): string {
  checkFileName(file);
  sandboxPython3(sandboxPath);
  return `python3 ${file}`;
}

/**
 * The `python3` the sandbox's PATH finds (by default the PATH a sandbox started now would have). A
 * missing one is this machine's lack, a VerifierInfraError told apart here, on the host: never
 * from what a program in the sandbox prints, which it could fake.
 */
export function sandboxPython3(sandboxPath = rootView(process.env).path): string {
  const python3 = onPath('python3', sandboxPath);
  if (python3 === undefined) {
    throw new VerifierInfraError(
      `no python3 on the sandbox's PATH (${sandboxPath}): the sandbox shows only /usr and the Python venvs and ` +
        "interpreters on the worker's PATH (not a pyenv shim, nor anything under the host's /tmp); put one there",
    );
  }
  return python3;
}

function bwrapMissing(bwrap: string): string {
  return `bubblewrap (${bwrap}) is not installed or not on PATH; install the Debian package "bubblewrap" (e2b verifiers never run unsandboxed)`;
}

function checkFileName(name: string): string {
  // The working directory is flat: a name with a slash would need folders bwrap does not make here.
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new BadInputError(`sandbox file name must be a plain name, got ${JSON.stringify(name)}`);
  return name;
}

/** The options with their defaults, each checked: a zero or NaN limit would make every run fail in a way that looks like the code's. */
function limitsOf(options: SandboxOptions): Required<Pick<SandboxOptions, 'timeoutMs' | 'memoryMb' | 'maxProcesses' | 'diskMb'>> {
  const limits = {
    timeoutMs: options.timeoutMs,
    memoryMb: options.memoryMb,
    maxProcesses: options.maxProcesses ?? DEFAULT_SANDBOX.maxProcesses,
    diskMb: options.diskMb ?? DEFAULT_SANDBOX.diskMb,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new BadInputError(`sandbox ${name} must be a positive number, got ${value}`);
  }
  return limits;
}
