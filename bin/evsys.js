#!/usr/bin/env node
// The installed package runs its compiled code (dist/, built by `npm run build` before packing).
// A checkout of the repository has src/ beside bin/ (the package's `files` leave it out) and runs
// that through tsx instead, so the CLI, and the tests that spawn it, always run the code as it
// is now: there is no build to forget and no stale dist/ to run by mistake.
const { existsSync } = require('node:fs');
const path = require('node:path');

/**
 * `evsys worker` runs with a heap cap of WORKER_HEAP_MB unless one was given (NODE_OPTIONS or a
 * node flag). V8 lets a heap grow between collections by up to 4x its live size when its limit
 * is large (Node's default here: 4 GB) and by 1.3-2x under a limit below 1-2 GB: at 20,000
 * tasks x 4 samples a worker peaked at 540-620 MiB RSS by default and at 377 MiB under 512 MB,
 * at the same throughput (bench/scale.ts). 512 MB is far above what a worker holds (aggregation
 * reads the ledger a page at a time). V8 takes the flag only at start, so the worker runs as a
 * child with it: this process relays signals to it and exits as it does, and the child ends
 * itself when this process dies, however it died (its IPC channel closes).
 */
const WORKER_HEAP_MB = 512;
const HEAP_CAP_FLAG = /^--max[-_]old[-_]space[-_]size(=|$)/;
/** The signals the Temporal SDK shuts a worker down on, and SIGHUP (a closed terminal), which ends it. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2', 'SIGHUP'];

function runCli() {
  const source = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
  if (existsSync(source)) {
    require('tsx/cjs');
    require(source);
  } else {
    require('../dist/cli/main.js');
  }
}

function heapCapGiven() {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) => HEAP_CAP_FLAG.test(flag));
}

function runWorkerWithHeapCap() {
  const { spawn } = require('node:child_process');
  // A process group of its own: a Ctrl-C reaches it once, relayed from here, not twice (the
  // SDK stops listening after the first signal, and a second would kill it mid-shutdown).
  const child = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${WORKER_HEAP_MB}`, __filename, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  // The first stop signal is relayed; a second one forces the stop, as a second Ctrl-C does to a
  // worker in one process.
  let signalled = 0;
  for (const signal of STOP_SIGNALS) process.on(signal, () => child.kill(++signalled === 1 ? signal : 'SIGKILL'));
  child.on('error', (err) => {
    console.error(`evsys worker: cannot start the worker process: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}

/**
 * In the capped worker: a stop signal can reach it twice, relayed by the launcher and sent to it
 * directly (a service manager signals every process of its unit). The SDK shuts down on the
 * first and then stops listening, so a repeat would kill the worker mid-shutdown: it is ignored.
 * A signal the SDK is not listening for (yet, or ever) ends the worker as it would have.
 */
function ignoreRepeatedStopSignals() {
  for (const signal of STOP_SIGNALS) {
    let seen = false;
    const onSignal = () => {
      if (seen) return;
      seen = true;
      if (process.listenerCount(signal) > 1) return; // the SDK's shutdown has it
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

if (process.send && process.env.EVSYS_WORKER_CHILD === '1') {
  // The capped worker: gone with its parent, as a crash of `evsys worker` must take the worker.
  delete process.env.EVSYS_WORKER_CHILD;
  process.channel.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  ignoreRepeatedStopSignals();
  runCli();
} else if (process.argv.slice(2).find((arg) => !arg.startsWith('-')) === 'worker' && !heapCapGiven()) {
  process.env.EVSYS_WORKER_CHILD = '1';
  runWorkerWithHeapCap();
} else {
  runCli();
}
