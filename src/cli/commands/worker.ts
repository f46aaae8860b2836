import { UnreachableError } from '../../errors';
import { DEFAULT_TASK_QUEUE, DEFAULT_TEMPORAL_ADDRESS, readSettings } from '../../settings';
import { runWorkerFromEnv } from '../../worker';
import { exitWith, globalOptions, type AddCommand } from '../command';
import { EXIT } from '../exit-codes';
import { logWorkerToStderr } from '../logs';

async function workerAction(_opts: object, command: Parameters<typeof globalOptions>[0]): Promise<number> {
  logWorkerToStderr(globalOptions(command).verbose);
  try {
    await runWorkerFromEnv();
  } catch (err) {
    // The native connection's failure to connect, in the words of its Rust transport.
    if (err instanceof Error && err.name === 'TransportError') {
      const address = readSettings(process.env).TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS;
      throw new UnreachableError(`evsys worker cannot reach the Temporal server at ${address} (${err.message}); start it, or set TEMPORAL_ADDRESS`, { cause: err });
    }
    throw err;
  }
  return EXIT.ok;
}

export const addWorkerCommand: AddCommand = (program) => {
  program
    .command('worker')
    .description('Serve evals from a Temporal server until SIGINT/SIGTERM; its log goes to stderr.')
    .addHelpText(
      'after',
      `\nEnvironment: TEMPORAL_ADDRESS (default ${DEFAULT_TEMPORAL_ADDRESS}), TEMPORAL_NAMESPACE, EVSYS_TASK_QUEUE (default "${DEFAULT_TASK_QUEUE}"),\n` +
        'EVSYS_LEDGER (a SQLite file or postgres:// URL), EVSYS_PLUGINS, EVSYS_MAX_REQUESTS_PER_ENDPOINT, EVSYS_TRIALS_DIR, EVSYS_HARBOR_VENV,\n' +
        'EVSYS_BENCHMARK_CACHE (copies of stored benchmarks, default .evsys/benchmarks),\n' +
        "EVSYS_EAGER_ACTIVITIES (activities taken straight from this worker's workflow tasks; default 0, so a fleet shares them: raise it for a worker alone on its server).",
    )
    .action(exitWith(workerAction));
};
