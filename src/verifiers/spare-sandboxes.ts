import type { ProcessCap } from './process-cap';
import type { BootedSandbox } from './sandbox-process';

/** A sandbox and the pids cgroup that caps it. */
export interface CappedSandbox {
  box: BootedSandbox;
  cap: ProcessCap;
}

/**
 * Sandboxes for the warm path, booted before the check that uses them. Most of bubblewrap's
 * start-up is waiting on the kernel while it makes the namespaces and mounts (10-30 ms of wall
 * clock on a busy 2-core machine, 2 ms of CPU): one check at a time, that wait was most of each
 * check. So each warm check boots a spare for the next check of the same kind (the same root,
 * limits and environment), and takes the spare the check before booted for it, if any. A spare
 * runs nothing but the holder (`sleep`, as root with no capabilities, in its own namespaces)
 * until its one check comes in from the warm process; the files are laid in then. It never
 * serves a second check.
 *
 * There is one spare of a kind at most. It does not keep the worker's process alive, dies with
 * it (bwrap's --die-with-parent), and goes after SPARE_IDLE_MS unused.
 */
const SPARE_IDLE_MS = 30_000;

interface Spare {
  sandbox: Promise<CappedSandbox>;
  idle: NodeJS.Timeout;
}

const spares = new Map<string, Spare>();

/**
 * A sandbox of kind `key` that holds still for one check: the spare when one was booted, or one
 * `boot` makes now; and, either way, a spare booted for the next check.
 */
export async function heldSandbox(key: string, boot: () => Promise<CappedSandbox>): Promise<CappedSandbox> {
  const spare = spares.get(key);
  if (spare === undefined) {
    // This check's own first: it is wanted now, the spare later.
    const own = boot();
    bootSpare(key, boot);
    return own;
  }
  bootSpare(key, boot);
  clearTimeout(spare.idle);
  const sandbox = await spare.sandbox.catch(() => undefined);
  if (sandbox !== undefined) {
    // This check's from now: the process waits for it, also while it is still starting.
    sandbox.box.hold(true);
    if (await sandbox.box.started) return sandbox;
    // A spare that failed to start: this check's own sandbox says why, if it fails too.
    discard(sandbox);
  }
  return boot();
}

/** Boots the spare of kind `key`, in place of the one there was. */
function bootSpare(key: string, boot: () => Promise<CappedSandbox>): void {
  const sandbox = boot().then((booted) => {
    booted.box.hold(false);
    return booted;
  });
  const spare: Spare = {
    sandbox,
    idle: setTimeout(() => {
      forget(key, spare);
      void sandbox.then(discard, () => undefined);
    }, SPARE_IDLE_MS).unref(),
  };
  spares.set(key, spare);
  sandbox.catch(() => {
    clearTimeout(spare.idle);
    forget(key, spare);
  });
}

function forget(key: string, spare: Spare): void {
  if (spares.get(key) === spare) spares.delete(key);
}

function discard({ box, cap }: CappedSandbox): void {
  box.kill();
  void box.closed.catch(() => undefined).then(() => cap.release());
}
