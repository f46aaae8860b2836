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
 * clock on a busy 2-core machine, 2 ms of CPU): one check at a time, that wait is most of each
 * check. So each warm check boots a spare for the next one of the same kind (the same root,
 * limits and environment), and takes the spare an earlier check booted for it, if any. A spare
 * runs nothing but the holder (`sleep`, as root with no capabilities, in its own namespaces and
 * cgroup) until its one check comes in from the warm process; the files are laid in then. It
 * never serves a second check.
 *
 * Spares do not keep the worker's process alive, die with it (bwrap's --die-with-parent), and go
 * after SPARE_IDLE_MS unused: a worker holds at most about as many as it runs checks at once.
 */
const SPARE_IDLE_MS = 30_000;
/** Per kind: the most checks at once that get their sandbox ready-made. */
const MAX_SPARES = 16;

interface Spare {
  sandbox: Promise<CappedSandbox>;
  idle: NodeJS.Timeout;
}

const spares = new Map<string, Spare[]>();

/**
 * A sandbox of kind `key` that holds still for one check: a spare when one was booted, or one
 * `boot` makes now; and, either way, a spare booted for the next check.
 */
export async function heldSandbox(key: string, boot: () => Promise<CappedSandbox>): Promise<CappedSandbox> {
  const spare = spares.get(key)?.shift();
  bootSpare(key, boot);
  if (spare !== undefined) {
    clearTimeout(spare.idle);
    const sandbox = await spare.sandbox.catch(() => undefined);
    if (sandbox !== undefined && (await sandbox.box.started)) {
      sandbox.box.hold(true);
      return sandbox;
    }
    // A spare that failed to start: this check's own sandbox says why, if it fails too.
    if (sandbox !== undefined) discard(sandbox);
  }
  return boot();
}

function bootSpare(key: string, boot: () => Promise<CappedSandbox>): void {
  const list = spares.get(key) ?? [];
  if (list.length >= MAX_SPARES) return;
  const sandbox = boot().then((booted) => {
    booted.box.hold(false);
    return booted;
  });
  const spare: Spare = {
    sandbox,
    idle: setTimeout(() => {
      remove(key, spare);
      void sandbox.then(discard, () => undefined);
    }, SPARE_IDLE_MS).unref(),
  };
  list.push(spare);
  spares.set(key, list);
  sandbox.catch(() => {
    clearTimeout(spare.idle);
    remove(key, spare);
  });
}

function remove(key: string, spare: Spare): void {
  const list = spares.get(key)?.filter((s) => s !== spare) ?? [];
  if (list.length > 0) spares.set(key, list);
  else spares.delete(key);
}

function discard({ box, cap }: CappedSandbox): void {
  box.kill();
  void box.closed.catch(() => undefined).then(() => cap.release());
}
