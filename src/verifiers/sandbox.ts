import { existsSync, statSync } from 'node:fs';
import { BadInputError } from '../errors';
import { type SandboxOptions, DEFAULT_SANDBOX, VerifierInfraError } from './context';
import { capProcesses, pidsCgroupParent } from './process-cap';
import { type BootedSandbox, bootSandbox, FIRST_FILE_FD, MARKER_FD, type SandboxExit, sandboxInit } from './sandbox-process';
import { rootArgs, rootView, SANDBOX_HOSTNAME, type SandboxUser } from './sandbox-root';
import { type CappedSandbox, heldSandbox } from './spare-sandboxes';
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
const LIMITS_THEN_MARKER = [
  'ulimit -v "$1" && ulimit -c 0 && { [ -z "$3" ] || ulimit -u "$3"; } || exit 125',
  `printf started >&${MARKER_FD}`,
  `exec ${MARKER_FD}>&-`,
];
const WRAPPER = [...LIMITS_THEN_MARKER, 'exec /bin/bash -c "$2"'].join('\n');

/**
 * What runs in the sandbox: a bash command line, or a Python file of the working directory, run
 * as `python3 <file>` runs it (the `python3` on the sandbox's PATH).
 */
export type SandboxCommand = string | { pythonFile: string };

type Limits = Required<Pick<SandboxOptions, 'timeoutMs' | 'memoryMb' | 'maxProcesses' | 'diskMb'>>;

/** What a sandbox's command line is made of, but for what runs in it. */
interface SandboxPlan {
  bwrap: string;
  limits: Limits;
  /** The root's arguments, and the files it makes, piped in from FIRST_FILE_FD on (sandbox-root.ts). */
  root: { args: string[]; files: string[] };
  env: Record<string, string>;
}

/** Who runs what comes in: bwrap's capabilities, and what starts the command (setpriv, or nothing). */
interface RunAs {
  caps: string[];
  launch: string[];
}

/** What a sandbox runs: a cold check's command under the wrapper, or the holder a warm check comes into. */
interface Occupant {
  runAs: RunAs;
  /** The wrapper's script, and the command it runs. */
  wrapper: string;
  command: string;
  /** Whether bwrap starts in the pids cgroup; the holder's few processes stay out, the warm check joins it. */
  inCgroup: boolean;
}

/** The warm path's sandbox only holds still, as a root with no capabilities that runs nothing of the check's. */
const HOLDER: Occupant = {
  runAs: { caps: DROP_ALL_CAPS, launch: [] },
  wrapper: [...LIMITS_THEN_MARKER, 'exec sleep infinity'].join('\n'),
  command: '',
  inCgroup: false,
};

/**
 * A plain `pytest ...` and a Python file take the warm path when they can (see warm-python.ts):
 * a sandbox made the same way holds still, and the warm process's child lays the working
 * directory's files into it and runs the check there. That sandbox is a spare booted before
 * the check when there is one (spare-sandboxes.ts), used by this check only.
 */
export async function runInSandbox(
  workdir: SandboxWorkdir,
  command: SandboxCommand,
  options: SandboxOptions,
  signal?: AbortSignal,
): Promise<SandboxResult> {
  const limits = limitsOf(options);
  signal?.throwIfAborted();
  const files = Object.entries(workdir.files);
  files.forEach(([name]) => checkFileName(name));
  const identity = sandboxIdentity();
  const view = rootView(process.env);
  const shell = typeof command === 'string' ? command : pythonCommand(command.pythonFile, view.path);
  if (identity.user === NOBODY) checkOpenToOthers(view.pythonFolders);
  // PATH as the root shows it: a folder the sandbox does not have is not on its PATH.
  const hostEnv: Record<string, string> = { PATH: view.path };
  for (const name of PASSED_ENV) {
    const value = process.env[name];
    if (value !== undefined) hostEnv[name] = value;
  }
  const venv = process.env.VIRTUAL_ENV;
  if (venv !== undefined && view.shows(venv)) hostEnv.VIRTUAL_ENV = venv;
  const env = { ...hostEnv, HOME: SANDBOX_WORKDIR, TMPDIR: '/tmp', PYTHONDONTWRITEBYTECODE: '1' };
  const plan: SandboxPlan = { bwrap: options.bwrapPath ?? 'bwrap', limits, root: rootArgs(view, identity.user, FIRST_FILE_FD), env };
  // Joining a sandbox from outside needs root, and a pids cgroup to put the check in; anywhere
  // else, or when the warm process cannot start, the same check runs cold.
  const warmable = identity.user === NOBODY && pidsCgroupParent() !== undefined;
  const run = !warmable ? undefined : typeof command === 'string' ? warmPytestFor(command, view) : warmProgramFor(command.pythonFile, view);
  // A program's interpreter starts as a cold one would in the sandbox (its HOME, say, decides
  // the user site-packages); pytest's warm-up runs on the host, in the host's TMPDIR.
  const zygote = run && (await warmProcess(run, run.mode === 'program' ? env : { ...hostEnv, PYTHONDONTWRITEBYTECODE: '1' }).catch(() => undefined));
  signal?.throwIfAborted();
  if (run && zygote) return runWarm(plan, identity.user, run, zygote, files, signal);
  return runCold(plan, { runAs: identity, wrapper: WRAPPER, command: shell, inCgroup: true }, files, signal);
}

/** The check's command run by the sandbox's wrapper, its files laid in by bubblewrap. */
async function runCold(plan: SandboxPlan, check: Occupant, files: [string, string][], signal?: AbortSignal): Promise<SandboxResult> {
  const { box, cap } = await launch(plan, check, files);
  const limit = limitRun(box, plan.limits.timeoutMs, signal);
  try {
    const exit = await limit.race(closedOrBwrapError(box, plan));
    const refusedForks = await cap.refusedForks();
    if (!(await box.started)) throw notStarted(plan, cap.launcher.length > 0, exit, limit.timedOut(), box.output());
    return { exitCode: exit.code, timedOut: limit.timedOut(), output: box.output(), refusedForks };
  } finally {
    limit.stop();
    // After an abort bwrap is still going: its cgroup goes once it has.
    void box.closed.catch(() => undefined).then(() => cap.release());
  }
}

/** The check forked in from the warm process, into a sandbox that holds still. */
async function runWarm(plan: SandboxPlan, user: SandboxUser, run: WarmRun, zygote: WarmProcess, files: [string, string][], signal?: AbortSignal): Promise<SandboxResult> {
  // Its kind: all that its command line holds (the time limit is kept here, not there).
  const kind = JSON.stringify([plan.bwrap, plan.root, plan.env, plan.limits.memoryMb, plan.limits.maxProcesses, plan.limits.diskMb]);
  const { box, cap } = await heldSandbox(kind, () => launch(plan, HOLDER, []));
  const limit = limitRun(box, plan.limits.timeoutMs, signal);
  let reply: Promise<{ exit?: number; error?: string }> | undefined;
  try {
    if (!(await limit.race(box.started))) throw notStarted(plan, false, await closedOrBwrapError(box, plan), limit.timedOut(), box.output());
    const request = {
      target: sandboxInit(box.pid),
      stdio: box.pid,
      cgroupProcs: cap.procsFile!,
      // What the cold path's bash adds to the environment of the command it runs.
      env: { ...plan.env, PWD: SANDBOX_WORKDIR, SHLVL: '0', _: run.mode === 'pytest' ? run.script : run.interpreter },
      memoryKb: plan.limits.memoryMb * 1024,
      workdir: SANDBOX_WORKDIR,
      files: Object.fromEntries(files.map(([name, content]) => [name, Buffer.from(content).toString('base64')])),
      user,
    };
    reply = zygote.run(run, request).then((exit) => ({ exit }), (err: Error) => ({ error: err.message }));
    const { exit, error } = await limit.race(reply);
    // bwrap only held the sandbox: its end is the check's.
    box.kill();
    await limit.race(box.closed);
    const refusedForks = await cap.refusedForks();
    // Killed at the time limit before the check could start is a timeout like any other.
    if (error !== undefined && !limit.timedOut()) {
      throw new VerifierInfraError(`the warm ${run.mode} could not run the check: ${error}; output: ${JSON.stringify(tailExcerpt(box.output(), 1000))}`);
    }
    return { exitCode: limit.timedOut() ? null : (exit ?? null), timedOut: limit.timedOut(), output: box.output(), refusedForks };
  } finally {
    limit.stop();
    box.kill();
    // The check's joining process sits in the cgroup until it has reported: the cgroup goes after it.
    void Promise.all([box.closed.catch(() => undefined), reply]).then(() => cap.release());
  }
}

/** A fresh pids cgroup, and bwrap started with `plan`'s root running `occupant`. */
async function launch(plan: SandboxPlan, occupant: Occupant, files: [string, string][]): Promise<CappedSandbox> {
  const { runAs, wrapper, command } = occupant;
  const cap = await capProcesses(plan.limits.maxProcesses);
  const firstWorkFd = FIRST_FILE_FD + plan.root.files.length;
  const diskBytes = String(plan.limits.diskMb * 1024 * 1024);
  const env = Object.entries(plan.env).flatMap(([name, value]) => ['--setenv', name, value]);
  const args = [
    ...plan.root.args,
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
    '--', ...runAs.launch, '/bin/bash', '-c', wrapper, 'evsys-sandbox', String(plan.limits.memoryMb * 1024), command, cap.rlimit,
  ];
  const launcher = occupant.inCgroup ? cap.launcher : [];
  // The root's made files come in first, then the working directory's.
  return { box: bootSandbox([...launcher, plan.bwrap, ...args], [...plan.root.files, ...files.map(([, content]) => content)]), cap };
}

/**
 * The time limit and the activity's cancellation, either of which kills the sandbox: `race(p)`
 * rejects with the signal's reason once it aborts.
 */
function limitRun(box: BootedSandbox, timeoutMs: number, signal?: AbortSignal) {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    box.kill();
  }, timeoutMs);
  let onAbort = () => undefined as void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      box.kill();
      reject(signal!.reason);
    };
  });
  aborted.catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  return {
    timedOut: () => timedOut,
    race: <T>(work: Promise<T>): Promise<T> => Promise.race([work, aborted]),
    stop() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** How bwrap ended; an infrastructure error when it could not be run at all. */
function closedOrBwrapError(box: BootedSandbox, plan: SandboxPlan): Promise<SandboxExit> {
  return box.closed.catch((err: NodeJS.ErrnoException) => {
    throw new VerifierInfraError(err.code === 'ENOENT' ? bwrapMissing(plan.bwrap) : `cannot run bubblewrap (${plan.bwrap}): ${err.message}`);
  });
}

/** Why a sandbox ended before the marker: never the check's doing. `viaLauncher`: bwrap was started by the cgroup's launcher shell. */
function notStarted(plan: SandboxPlan, viaLauncher: boolean, exit: SandboxExit, timedOut: boolean, output: string): VerifierInfraError {
  // The launcher's shell exits 127 when it cannot find bwrap to exec.
  if (exit.code === 127 && viaLauncher && /not found|No such file/.test(output)) return new VerifierInfraError(bwrapMissing(plan.bwrap));
  const how = timedOut ? `did not start within ${plan.limits.timeoutMs} ms` : `exited with ${exit.code ?? exit.signal} before the test started`;
  return new VerifierInfraError(`sandbox failed to start: bubblewrap (${plan.bwrap}) ${how}; output: ${JSON.stringify(tailExcerpt(output, 1000))}`);
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
function limitsOf(options: SandboxOptions): Limits {
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
