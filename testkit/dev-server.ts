import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startOnFreePorts } from '../src/temporal/embedded-server';
import { freePort } from '../src/temporal/ports';
import { noteLogFile } from './log-files';
import { quietRuntime } from './quiet-runtime';

export interface DevServerOptions {
  /** SQLite file that keeps workflow histories across restarts; omit for a fresh one in a temp folder. */
  dbFile?: string;
  /** Web UI port; omitted = a free one. */
  uiPort?: number;
  /** More `temporal server start-dev` flags, e.g. `--dynamic-config-value` in tests. */
  extraArgs?: string[];
}

/** A real Temporal dev server with a client and a worker connection to it. */
export interface DevServer {
  address: string;
  uiUrl: string;
  client: Client;
  nativeConnection: NativeConnection;
  teardown(): Promise<void>;
}

/**
 * A Temporal dev server (`temporal server start-dev`) for tests, benchmarks and scripts, the
 * way the CLI's embedded mode starts one: its output goes to a log file (shown when a test
 * fails, testkit/log-files.ts), never onto the test run's terminal.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  quietRuntime();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'evsys-dev-server-'));
  const logFile = noteLogFile(path.join(dir, 'temporal.log'));
  // Test files run in parallel: a port found free may be another test's server's by the time ours binds it.
  const server = await startOnFreePorts(async () => ({
    dbFile: opts.dbFile ?? path.join(dir, 'temporal.sqlite'),
    logFile,
    port: await freePort(),
    uiPort: opts.uiPort ?? (await freePort()),
    extraArgs: opts.extraArgs,
  }));
  const [connection, nativeConnection] = await Promise.all([
    Connection.connect({ address: server.address }),
    NativeConnection.connect({ address: server.address }),
  ]);
  return {
    address: server.address,
    uiUrl: server.uiUrl,
    client: new Client({ connection }),
    nativeConnection,
    async teardown() {
      await Promise.all([connection.close(), nativeConnection.close()]);
      await server.stop();
    },
  };
}
