import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { stringify } from 'yaml';
import { preferredOrFreePort } from '../src/temporal/ports';
import { noteLogFile } from './log-files';
import type { PostgresServer } from './postgres';
import { temporalServerBuild, type TemporalServerBuild } from './temporal-server-build';

/**
 * A self-hosted Temporal server as a team runs one: go.temporal.io/server (all services in one
 * process) on PostgreSQL for persistence and SQL visibility, with the production defaults (no
 * eager activity dispatch, 100 buffered events, the namespace cache refreshed by the server's
 * own interval). Optionally TLS on the frontend, with or without client certificates (mTLS),
 * and JWT authorization by the server's default authorizer and claim mapper.
 *
 * The system worker reaches the frontend through an `internal-frontend` service, as Temporal
 * recommends for clusters with an authorizer (its config's PublicClient notes): so the public
 * frontend alone carries TLS and authorization.
 */

export interface TemporalServerOptions {
  /** Each of the server's five services keeps its own pools: up to 75 connections a server. */
  postgres: PostgresServer;
  /** TLS on the public frontend; `clientCaFile` set = client certificates required (mTLS). */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** JWT authorization: the default claim mapper reads `permissions` claims; keys come from this JWKS URL. */
  jwksUrl?: string;
  /** How the harness itself connects (to wait for the server, to create namespaces): a secured server's admin credentials. */
  operator?: Pick<ConnectionOptions, 'tls' | 'apiKey'>;
  /** Dynamic config an operator sets (key -> value, for every namespace); none = the production defaults. */
  dynamicConfig?: Record<string, unknown>;
}

export interface TemporalServer {
  /** The public frontend, `127.0.0.1:<port>`. */
  address: string;
  logFile: string;
  /** A namespace as an operator makes one, ready to serve when this resolves. */
  createNamespace(name: string): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and databases, after kill or stop; nothing when it runs. */
  start(): Promise<void>;
}

const run = promisify(execFile);

/** Every server still running when the test process exits is killed, even if a test forgot it. */
const servers = new Set<ChildProcess>();
process.once('exit', () => {
  for (const server of servers) server.kill('SIGKILL');
});

export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const build = temporalServerBuild();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'evsys-temporal-server-'));
  const [persistence, visibility] = [await opts.postgres.createDatabase(), await opts.postgres.createDatabase()];
  await setupSchema(build, persistence, 'temporal');
  await setupSchema(build, visibility, 'visibility');
  const ports = await freePorts(11);
  const address = `127.0.0.1:${ports[0]}`;
  mkdirSync(path.join(dir, 'config', 'dynamicconfig'), { recursive: true });
  const dynamicConfig = Object.fromEntries(Object.entries(opts.dynamicConfig ?? {}).map(([key, value]) => [key, [{ value }]]));
  writeFileSync(path.join(dir, 'config', 'dynamicconfig', 'dynamic.yaml'), stringify(dynamicConfig));
  writeFileSync(path.join(dir, 'config', 'development.yaml'), stringify(serverConfig(opts, persistence, visibility, ports)));
  const logFile = noteLogFile(path.join(dir, 'temporal-server.log'));
  const operator = { address, ...opts.operator };

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const log = openSync(logFile, 'a');
    const services = ['frontend', 'internal-frontend', 'history', 'matching', 'worker'].flatMap((s) => ['--service', s]);
    child = spawn(build.server, ['--root', dir, '--config', 'config', '--env', 'development', ...(opts.jwksUrl ? [] : ['--allow-no-auth']), 'start', ...services], {
      cwd: dir,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    servers.add(child);
    const current = child;
    exited = new Promise((resolve) => current.once('exit', () => resolve()));
    void exited.then(() => servers.delete(current));
    await waitUntilServing(operator, current, logFile);
  };
  const signal = async (name: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    const timer = name === 'SIGKILL' ? undefined : setTimeout(() => child?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    address,
    logFile,
    createNamespace: (name) => createNamespace(operator, name),
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    start,
  };
}

function serverConfig(opts: TemporalServerOptions, persistence: string, visibility: string, ports: number[]): Record<string, unknown> {
  const datastore = (url: string, maxConns: number) => {
    const { hostname, port, pathname, username } = new URL(url);
    return {
      sql: { pluginName: 'postgres12', databaseName: pathname.slice(1), connectAddr: `${hostname}:${port}`, connectProtocol: 'tcp', user: username, password: '', maxConns, maxIdleConns: maxConns },
    };
  };
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, number> = {}) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra } });
  const global: Record<string, unknown> = { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } };
  if (opts.tls) {
    const { certFile, keyFile, clientCaFile } = opts.tls;
    global.tls = {
      frontend: { server: { certFile, keyFile, requireClientAuth: clientCaFile !== undefined, ...(clientCaFile ? { clientCaFiles: [clientCaFile] } : {}) } },
    };
  }
  if (opts.jwksUrl) {
    global.authorization = {
      jwtKeyProvider: { keySourceURIs: [opts.jwksUrl], refreshInterval: '1m' },
      permissionsClaimName: 'permissions',
      authorizer: 'default',
      claimMapper: 'default',
    };
  }
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: datastore(persistence, 10), visibility: datastore(visibility, 5) },
    },
    global,
    services: {
      frontend: service(ports[0], ports[1], { httpPort: ports[2] }),
      'internal-frontend': service(ports[3], ports[4]),
      history: service(ports[5], ports[6]),
      matching: service(ports[7], ports[8]),
      worker: service(ports[9], ports[10]),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports[0]}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: 'config/dynamicconfig/dynamic.yaml', pollInterval: '10s' },
  };
}

async function setupSchema(build: TemporalServerBuild, url: string, kind: 'temporal' | 'visibility'): Promise<void> {
  const { hostname, port, pathname, username } = new URL(url);
  const base = ['--plugin', 'postgres12', '--ep', hostname, '-p', port, '-u', username, '--db', pathname.slice(1)];
  await run(build.sqlTool, [...base, 'setup-schema', '-v', '0.0']);
  await run(build.sqlTool, [...base, 'update-schema', '-d', path.join(build.schemaDir, kind, 'versioned')]);
}

/**
 * Free ports below 32768: the server records its membership ports in a PostgreSQL smallint, so
 * the kernel's ephemeral ports (32768 and up) would stop it at start.
 */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    // Servers started at once must not pick the same free port before either binds it.
    if (handedOut.has(candidate)) continue;
    if ((await preferredOrFreePort(candidate)) === candidate) {
      ports.add(candidate);
      handedOut.add(candidate);
    }
  }
  return [...ports];
}

/** Ports given to this process's servers, never given twice. */
const handedOut = new Set<number>();

/** Serving: the frontend answers and the system namespace is there (the server made it at its first start). */
async function waitUntilServing(operator: ConnectionOptions, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Temporal server exited with code ${child.exitCode}; log ${logFile}:\n${tail(logFile)}`);
    try {
      const connection = await Connection.connect({ ...operator, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'temporal-system' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the Temporal server at ${operator.address} did not serve within 60 s (${(err as Error).message}); log ${logFile}:\n${tail(logFile)}`);
      await sleep(250);
    }
  }
}

/**
 * Registers the namespace and waits until the frontend's namespace cache has it (a workflow
 * list answers): the state an operator leaves a namespace in before a team uses it.
 */
async function createNamespace(operator: ConnectionOptions, name: string): Promise<void> {
  const connection = await Connection.connect(operator);
  try {
    await connection.workflowService.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace: name, query: '' });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  } finally {
    await connection.close();
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
