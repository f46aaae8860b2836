import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/** The start marker's private descriptor; closed before the command runs, so the command cannot fake or suppress it. */
export const MARKER_FD = 3;
/** Files bubblewrap reads before the command starts come in on the descriptors after the marker's. */
export const FIRST_FILE_FD = MARKER_FD + 1;
const OUTPUT_TAIL_CHARS = 8_192;

/** How a sandbox's bubblewrap ended: its exit code, or the signal that killed it. */
export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One bubblewrap sandbox's processes (sandbox.ts builds the command line), from their start to
 * the close of their output: the marker that says the sandbox is up, the tail of its output, and
 * a kill that reaches all of it.
 */
export interface BootedSandbox {
  /** Host pid of bubblewrap, the owner of the sandbox's stdout and stderr. */
  readonly pid: number;
  /** true once the wrapper inside has sent the marker; false when the sandbox ended before. */
  readonly started: Promise<boolean>;
  /** Settles once bwrap and everything holding its output are gone; rejects when bwrap could not be run at all. */
  readonly closed: Promise<SandboxExit>;
  /** The end of its stdout and stderr, interleaved. */
  output(): string;
  kill(): void;
  /** Whether it keeps this process alive: a sandbox booted ahead for a check to come does not. */
  hold(on: boolean): void;
}

/**
 * Starts `argv` (the process-cap launcher, bwrap and its arguments) in a process group of its
 * own, so a kill reaches bwrap and everything it started at once, with `piped` written to the
 * descriptors from FIRST_FILE_FD on.
 */
export function bootSandbox(argv: string[], piped: string[]): BootedSandbox {
  const [program, ...args] = argv;
  const child = spawn(program!, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...piped.map(() => 'pipe' as const)] });
  let output = '';
  const collect = (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const marker = child.stdio[MARKER_FD] as Readable;
  const started = new Promise<boolean>((resolve) => {
    marker.once('data', () => resolve(true));
    child.once('close', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  piped.forEach((content, i) => {
    const pipe = child.stdio[FIRST_FILE_FD + i] as Writable;
    // bwrap may die before reading it; that failure is reported from its exit, not from the write.
    pipe.on('error', () => undefined);
    pipe.end(content);
  });
  // Once bwrap has exited, node reaps it and its pid, the group's id, may be another's.
  let exited = false;
  child.once('exit', () => (exited = true));
  const closed = new Promise<SandboxExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // Only for its two outcomes: a caller that never waits for it must not see an unhandled rejection.
  closed.catch(() => undefined);
  return {
    pid: child.pid ?? -1,
    started,
    closed,
    output: () => output,
    kill() {
      if (child.pid === undefined || exited) return;
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
    },
    hold(on) {
      for (const handle of [child, child.stdout, child.stderr, marker] as unknown as Array<{ ref(): void; unref(): void }>) {
        if (on) handle.ref();
        else handle.unref();
      }
    },
  };
}

/** The host pid of bubblewrap's only child: the sandbox's init, in every namespace of the sandbox. */
export function sandboxInit(bwrapPid: number): number {
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
