import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../src/temporal/ports';
import { killAllWorkerProcesses, RestartableServer, startWorkerProcess, type WorkerProcess } from './processes';

/**
 * Evsys as an operator runs it, on one machine: a dev server child that keeps its histories in
 * SQLite (and can be killed and started again), `evsys worker` children sharing one ledger file,
 * and a client. For benchmarks of failures (bench/crash-cost.ts, bench/outage.ts).
 */
export interface ProcessCluster {
  server: RestartableServer;
  client: Client;
  taskQueue: string;
  ledgerFile: string;
  /** Another `evsys worker` on the cluster's queue, its log in `<dir>/logs/`. */
  startWorker(): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export async function startProcessCluster(dir: string, name: string): Promise<ProcessCluster> {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const [port, uiPort] = [await freePort(), await freePort()];
  const server = new RestartableServer({ dbFile: path.join(dir, 'temporal.sqlite'), logFile: path.join(dir, 'logs', 'temporal.log'), port, uiPort });
  await server.start();
  const connection = await Connection.connect({ address: server.address });
  const taskQueue = `${name}-${process.pid}`;
  const ledgerFile = path.join(dir, 'ledger.sqlite');
  let workers = 0;
  return {
    server,
    client: new Client({ connection }),
    taskQueue,
    ledgerFile,
    startWorker: () => startWorkerProcess({ address: server.address, taskQueue, ledgerFile, logFile: path.join(dir, 'logs', `worker-${++workers}.log`) }),
    async close() {
      await killAllWorkerProcesses();
      await connection.close();
      await server.stop();
    },
  };
}
