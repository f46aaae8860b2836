import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RootView, SandboxUser } from './sandbox-root';
import { tailExcerpt } from './text';

/**
 * The warm path of a code check: instead of starting a Python in every sandbox (15-30 ms, and
 * about 0.2 s more to import pytest, most of a HumanEval check), a warm process per interpreter
 * and mode (warm-python.py, one per worker process) forks a child into each sample's sandbox. The
 * sandbox is the same fresh bubblewrap sandbox as a cold run's, with the same root, limits and
 * caps; only the interpreter comes from outside, and it becomes the sandbox's user and drops every
 * capability before running the check.
 *
 * Taken only when the result cannot differ from the cold run's, and the sandbox's processes are
 * capped by a cgroup (the worker is root: joining a sandbox's namespaces needs it):
 * - `pytest` (the e2b verifier): test_sh is `pytest` and plain arguments (no quoting, globbing or
 *   other shell syntax), and `pytest` on PATH is a script whose `#!` names a Python;
 * - `program` (the program verifier's `python3 <file>`): `python3` on PATH is an interpreter
 *   binary, not a script that could start something else.
 * Anything else, or a warm process that fails, runs cold.
 */
export type WarmRun =
  | {
      mode: 'pytest';
      /** The Python of the `pytest` script, from its `#!` line. */
      interpreter: string;
      /** The `pytest` script, as sys.argv[0]. */
      script: string;
      args: string[];
    }
  | {
      mode: 'program';
      /** `python3` as the sandbox's PATH finds it. */
      interpreter: string;
      /** The file in the working directory, run as `python3 <file>`. */
      file: string;
    };

export interface WarmRequest {
  /** Host pid of the sandbox's init (bubblewrap's child): whose namespaces to join. */
  target: number;
  /** Host pid of bubblewrap, whose stdout and stderr become the check's. */
  stdio: number;
  cgroupProcs: string;
  env: Record<string, string>;
  memoryKb: number;
  workdir: string;
  /** The working directory's files, base64 by name: the sandbox was made before they were known. */
  files: Record<string, string>;
  /** Who the check runs as, as in the cold run. */
  user: SandboxUser;
}

// python/ sits at the package's root, two folders above src/verifiers and dist/verifiers alike.
const SCRIPT = join(__dirname, '..', '..', 'python', 'warm-python.py');
/** Plain words only: anything bash would expand or interpret runs cold, through bash. */
const PLAIN_PYTEST = /^\s*pytest((?:\s+[A-Za-z0-9_.,:=+/@%-]+)*)\s*$/;
const READY_TIMEOUT_MS = 60_000;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Modes and interpreters (`mode\ninterpreter`) whose warm process failed: they run cold from then on, in this process. */
const coldOnly = new Set<string>();
const zygotes = new Map<string, Promise<WarmProcess>>();

/**
 * The warm invocation of test_sh, or undefined when it must run cold. `pytest` is looked up as
 * the cold run's bash would, on the sandbox's PATH, and its Python must be in the sandbox too.
 */
export function warmPytestFor(testSh: string, view: RootView): WarmRun | undefined {
  const match = PLAIN_PYTEST.exec(testSh);
  if (!match) return undefined;
  const script = onPath('pytest', view.path);
  if (!script) return undefined;
  const interpreter = shebangPython(script);
  if (!interpreter || !view.shows(interpreter) || coldOnly.has(`pytest\n${interpreter}`)) return undefined;
  return { mode: 'pytest', interpreter, script, args: match[1]!.trim().split(/\s+/).filter(Boolean) };
}

/** The warm run of `python3 <file>`, or undefined when it must run cold; `python3` is looked up as the cold run's bash would. */
export function warmProgramFor(file: string, view: RootView): WarmRun | undefined {
  const interpreter = onPath('python3', view.path);
  if (!interpreter || !isElf(interpreter) || coldOnly.has(`program\n${interpreter}`)) return undefined;
  return { mode: 'program', interpreter, file };
}

/**
 * The warm process for `warm.interpreter` in `warm.mode`, started and warmed up on first use
 * (before any sandbox, so its start-up never counts against a sample's time limit), with `env`
 * as its environment. Rejects, and sends that interpreter and mode down the cold path from then
 * on, when it cannot start.
 */
export function warmProcess(warm: WarmRun, env: Record<string, string>): Promise<WarmProcess> {
  const interpreter = `${warm.mode}\n${warm.interpreter}`;
  const key = `${interpreter}\n${JSON.stringify(env)}`;
  let zygote = zygotes.get(key);
  if (!zygote) {
    // A warm process that dies (killed, out of memory) is started again by the next run.
    zygote = Zygote.start(warm, env, () => zygotes.delete(key));
    zygotes.set(key, zygote);
    zygote.catch(() => {
      zygotes.delete(key);
      coldOnly.add(interpreter);
    });
  }
  return zygote;
}

export interface WarmProcess {
  /** Runs the check in the sandbox; resolves with its exit code, rejects with why it could not start. */
  run(warm: WarmRun, request: WarmRequest): Promise<number>;
}

interface Reply {
  id: number;
  exit?: number;
  error?: string;
}

class Zygote implements WarmProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(reply: Reply): void; reject(err: Error): void }>();
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {}

  static start(warm: WarmRun, env: Record<string, string>, onExit: () => void): Promise<WarmProcess> {
    const { interpreter, mode } = warm;
    // pytest's warm-up run writes its test file to a private folder on the host's TMPDIR.
    const childEnv = mode === 'pytest' ? { ...env, TMPDIR: tmpdir() } : env;
    const child = spawn(interpreter, [SCRIPT, mode], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const zygote = new Zygote(child);
    // Held while starting; then only while it has work, so an idle one never keeps the worker's process alive.
    zygote.hold(true);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    child.stdin!.on('error', () => undefined);
    return new Promise<WarmProcess>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`warm ${mode} (${interpreter}) not ready within ${READY_TIMEOUT_MS} ms; stderr: ${tailExcerpt(stderr, 500)}`));
      }, READY_TIMEOUT_MS);
      timer.unref();
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const message = JSON.parse(line) as Reply & { ready?: boolean };
        if (message.ready) {
          clearTimeout(timer);
          zygote.hold(false);
          resolve(zygote);
          return;
        }
        const waiter = zygote.pending.get(message.id);
        zygote.pending.delete(message.id);
        if (zygote.pending.size === 0) zygote.hold(false);
        waiter?.resolve(message);
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        onExit();
        zygote.exited = new Error(`warm ${mode} (${interpreter}) exited with ${code ?? signal}; stderr: ${tailExcerpt(stderr, 500)}`);
        reject(zygote.exited);
        for (const waiter of zygote.pending.values()) waiter.reject(zygote.exited);
        zygote.pending.clear();
      });
    });
  }

  private hold(on: boolean): void {
    for (const handle of [this.child, this.child.stdout, this.child.stderr] as unknown as Array<{ ref(): void; unref(): void }>) {
      if (on) handle.ref();
      else handle.unref();
    }
  }

  async run(warm: WarmRun, request: WarmRequest): Promise<number> {
    if (this.exited) throw this.exited;
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      if (this.pending.size === 0) this.hold(true);
      this.pending.set(id, { resolve, reject });
      const { cgroupProcs, memoryKb, user, ...rest } = request;
      const check = warm.mode === 'pytest' ? { args: warm.args, argv0: warm.script } : { program: warm.file };
      const line = { id, ...rest, ...check, cgroup_procs: cgroupProcs, memory_kb: memoryKb, uid: user.uid, gid: user.gid };
      this.child.stdin!.write(`${JSON.stringify(line)}\n`);
    });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.exit!;
  }
}

/** Where bash would find `command` on `path` (a PATH value), or undefined. */
export function onPath(command: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** `#!/abs/path/python...` with no arguments; anything else (a shell shim, `env python`) runs cold. */
function shebangPython(script: string): string | undefined {
  const head = Buffer.alloc(256);
  let fd: number | undefined;
  try {
    fd = openSync(script, 'r');
    const line = head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString('utf8').split('\n')[0]!;
    return /^#!(\/\S*\/python[0-9.]*)\s*$/.exec(line)?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** An executable binary, not a script whose `#!` line could start something else than Python. */
function isElf(file: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(ELF_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
