import { Client, Connection } from '@temporalio/client';
import { UnreachableError } from '../../errors';
import { DEFAULT_TEMPORAL_ADDRESS, readSettings } from '../../settings';
import { folderServerAddress } from '../../temporal/folder-server';
import type { evaluateBenchmark } from '../../workflows';
import { progressQuery } from '../../workflows/evaluate-benchmark';
import { exitWith, type AddCommand } from '../command';
import { EXIT } from '../exit-codes';
import { formatMetrics, formatProgress } from '../progress';

/** TEMPORAL_ADDRESS, else the embedded server an `evsys eval` of this folder runs now, else the default. */
function serverAddress(): string {
  return process.env.TEMPORAL_ADDRESS ?? folderServerAddress('.evsys') ?? DEFAULT_TEMPORAL_ADDRESS;
}

async function statusAction(workflowId: string, opts: { json?: boolean }): Promise<number> {
  const address = serverAddress();
  const connection = await Connection.connect({ address, connectTimeout: 5000 }).catch((err: unknown) => {
    throw new UnreachableError(
      `no Temporal server answers at ${address} (${err instanceof Error ? err.message : String(err)}); ` +
        'run `evsys status` in the folder of a running `evsys eval`, or set TEMPORAL_ADDRESS',
      { cause: err },
    );
  });
  try {
    const client = new Client({ connection, namespace: readSettings(process.env).TEMPORAL_NAMESPACE });
    const handle = client.workflow.getHandle<typeof evaluateBenchmark>(workflowId);
    const { status, startTime } = await handle.describe();
    const state = status.name.toLowerCase();
    if (status.name === 'RUNNING') {
      const progress = await handle.query(progressQuery);
      if (opts.json) process.stdout.write(`${JSON.stringify({ status: state, progress })}\n`);
      else console.log(formatProgress(progress, (Date.now() - startTime.getTime()) / 1000));
    } else if (status.name === 'COMPLETED') {
      const { metrics } = await handle.result();
      if (opts.json) process.stdout.write(`${JSON.stringify({ status: state, metrics })}\n`);
      else console.log(`completed\n${formatMetrics(metrics)}`);
    } else if (opts.json) {
      process.stdout.write(`${JSON.stringify({ status: state })}\n`);
    } else {
      console.log(state);
    }
    return EXIT.ok;
  } finally {
    await connection.close();
  }
}

export const addStatusCommand: AddCommand = (program) => {
  program
    .command('status')
    .description('The progress of a running eval, or a finished one\'s state and metrics.')
    .argument('<workflowId>', 'the eval\'s workflow id (`evsys eval` prints it)')
    .option('--json', 'print the status as JSON on stdout')
    .addHelpText('after', '\nServer: TEMPORAL_ADDRESS, else the embedded server of an `evsys eval` running in this folder, else 127.0.0.1:7233.')
    .action(exitWith(statusAction));
};
