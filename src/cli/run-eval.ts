import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pinBenchmark } from '../client/pin-benchmark';
import { startOrAttachEval } from '../client/start-eval';
import { SamplerSchema, type EvaluatorFileEntry, type SamplerConfig } from '../config/evaluator';
import { UnreachableError } from '../errors';
import { openLedger } from '../ledger/open-ledger';
import type { SampleLedger } from '../ledger/types';
import { engineNamed } from '../scoring/engine-registry';
import { StoredBenchmarks } from '../scoring/stored-benchmarks';
import { readSettings, type Settings } from '../settings';
import { startSimulator, type RunningSimulator } from '../simulator/server';
import { resolveInStore } from '../store/open-store';
import { withoutPassword } from '../store/store-address';
import { useFolderServer, type FolderServer } from '../temporal/folder-server';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { createEvsysWorker, EAGER_ALL, workerOptionsFrom } from '../worker';
import type { evaluateBenchmark } from '../workflows';
import { progressQuery } from '../workflows/evaluate-benchmark';
import { EvaluateBenchmarkInputSchema, type EvalProgress, type EvaluateBenchmarkResult } from '../workflows/io';
import { EvalFailedError, summarizeFailure, type FailureContext } from './failure-summary';
import { followFile, WORKER_LOG } from './logs';

export interface RunEvalOptions {
  step: number;
  modelPath?: string;
  onProgress?: (name: string, progress: EvalProgress) => void;
  /** Told where the embedded server is (started or attached to), so a person can open its UI. */
  onServer?: (server: FolderServer) => void;
  /** The embedded server's log joins the worker's on stderr (`--verbose`). */
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Where the folder's embedded server, its histories and its log live. */
const EMBEDDED_DIR = '.evsys';

interface PreparedEntry {
  entry: EvaluatorFileEntry;
  sampler: SamplerConfig;
  /** The benchmark's task ids in order, to name failed tasks. */
  taskIds?: string[];
  simulator?: RunningSimulator;
}

/**
 * Reads the entry's benchmark before any server starts, so a malformed line is reported at
 * once, and pins a stored one to the version it names now; starts the bundled simulator when
 * the entry names it (with the stored version's tasks, fetched into this folder's cache), and
 * points the sampler at it.
 */
async function prepareEntry(unpinned: EvaluatorFileEntry, settings: Settings): Promise<PreparedEntry> {
  const entry = await pinBenchmark(unpinned, resolveInStore);
  const local = 'path' in entry.benchmark ? await readTasks(entry, entry.benchmark.path) : undefined;
  if (!('simulator' in entry.sampler)) return { entry, sampler: entry.sampler, taskIds: local?.map((task) => task.task_id) };
  // The simulator must know the tasks: a stored benchmark's come from this folder's copy.
  const tasks = local ?? (await readTasks(entry, await storedFolder(entry, settings)));
  const taskIds = tasks.map((task) => task.task_id);
  const { p_correct, seed, latency_ms } = entry.sampler.simulator;
  const simulator = await startSimulator({ tasks, pCorrect: p_correct, seed, latencyMs: latency_ms });
  return {
    entry,
    // The simulator answers within its latency: a short timeout turns a lost request into a quick retry.
    sampler: SamplerSchema.parse({ base_url: simulator.url, model: entry.sampler.model, timeout_s: 30 }),
    taskIds,
    simulator,
  };
}

/** This process's copy of the pinned stored benchmark (the cache the in-process worker uses too). */
async function storedFolder(entry: EvaluatorFileEntry, settings: Settings): Promise<string> {
  const ref = entry.benchmark as { id: number; content_hash: string };
  return new StoredBenchmarks(settings.EVSYS_BENCHMARK_CACHE).folder({ store: entry.store!, id: ref.id, content_hash: ref.content_hash });
}

/** The tasks as the entry's engine reads them, so a broken line is reported before any server starts. */
async function readTasks(entry: EvaluatorFileEntry, path: string) {
  return (await engineNamed(entry.engine).loadBenchmark(path, entry.limit ?? undefined)).tasks;
}

/**
 * The eval's result; a failed eval becomes an EvalFailedError with the summary of what failed,
 * read from the workflow's history while the connection is open.
 */
export async function followProgress(
  handle: WorkflowHandle<typeof evaluateBenchmark>,
  onProgress: ((p: EvalProgress) => void) | undefined,
  context: FailureContext,
): Promise<EvaluateBenchmarkResult> {
  try {
    return await resultWithProgress(handle, onProgress);
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    throw new EvalFailedError(await summarizeFailure(handle, err, context), { cause: err });
  }
}

async function resultWithProgress(
  handle: WorkflowHandle<typeof evaluateBenchmark>,
  onProgress: ((p: EvalProgress) => void) | undefined,
): Promise<EvaluateBenchmarkResult> {
  if (!onProgress) return handle.result();
  const stop = new AbortController();
  // One query at a time, and none left in flight once the result is in: the connection closes next.
  const poll = async () => {
    while (!stop.signal.aborted) {
      await handle.query(progressQuery).then(onProgress, () => {});
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => {});
    }
  };
  const poller = poll();
  try {
    return await handle.result();
  } finally {
    stop.abort();
    await poller;
  }
}

/** The connection to a server someone else runs; one that does not answer is said as such (exit code 3). */
async function connectTo(address: string, what: string): Promise<Connection> {
  try {
    return await Connection.connect({ address, connectTimeout: 5000 });
  } catch (err) {
    throw new UnreachableError(`${what} at ${address} is not reachable (${err instanceof Error ? err.message : String(err)}); start it, or unset TEMPORAL_ADDRESS to run an embedded one`, { cause: err });
  }
}

/**
 * The in-process worker's ledger answers before the eval starts: a PostgreSQL ledger that is
 * down would otherwise fail every task through its retries and end as errored samples.
 */
async function checkLedgerReachable(ledger: SampleLedger, spec: string): Promise<void> {
  try {
    await ledger.samplesOf('', '', '');
  } catch (err) {
    if (!/^postgres/i.test(spec)) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnreachableError(`the ledger EVSYS_LEDGER=${withoutPassword(spec)} cannot be read (${reason}); start it or point EVSYS_LEDGER elsewhere`, { cause: err });
  }
}

/** What `use` gets: a client of a server with evsys workers behind it. */
export interface TemporalSession {
  client: Client;
  taskQueue: string;
  settings: Settings;
  /** Set when this process runs the worker: where its log and its harbor trials go. */
  local?: { workerLog: string; trialsDir: string };
}

/**
 * Gives `use` a client of a Temporal server with evsys workers behind it: the server at
 * TEMPORAL_ADDRESS and its workers, or else the folder's embedded dev server (histories in
 * .evsys/temporal.sqlite, its log in .evsys/logs/temporal.log, UI on 127.0.0.1:8233 when free),
 * started or shared with the other evals of this folder, and an in-process worker.
 */
export async function withTemporal<T>(
  env: NodeJS.ProcessEnv,
  opts: Pick<RunEvalOptions, 'onServer' | 'verbose'>,
  use: (session: TemporalSession) => Promise<T>,
): Promise<T> {
  const settings = readSettings(env);
  const taskQueue = settings.EVSYS_TASK_QUEUE;
  if (settings.TEMPORAL_ADDRESS) {
    const connection = await connectTo(settings.TEMPORAL_ADDRESS, 'the Temporal server of TEMPORAL_ADDRESS');
    const namespace = settings.TEMPORAL_NAMESPACE;
    try {
      await ensureSearchAttributes(connection, namespace);
      return await use({ client: new Client({ connection, namespace }), taskQueue, settings });
    } finally {
      await connection.close();
    }
  }
  const server = await useFolderServer(EMBEDDED_DIR);
  // Ctrl-C leaves the server to the other evals of the folder, or stops it if there are none.
  const leave = () => void server.release().finally(() => process.exit(130));
  process.once('SIGINT', leave);
  process.once('SIGTERM', leave);
  const stopFollowing = opts.verbose ? followFile(server.logFile, (text) => process.stderr.write(text)) : undefined;
  try {
    opts.onServer?.(server);
    const [connection, workerConnection] = await Promise.all([
      connectTo(server.address, 'the embedded Temporal server'),
      NativeConnection.connect({ address: server.address }),
    ]);
    const ledger = openLedger(settings.EVSYS_LEDGER);
    try {
      await checkLedgerReachable(ledger, settings.EVSYS_LEDGER);
      // Alone on the folder's server but for other evals of the folder (each with its own worker): it takes its workflow's activities eagerly.
      const worker = await createEvsysWorker({ connection: workerConnection, ledger, env, ...workerOptionsFrom(settings), eagerActivities: settings.EVSYS_EAGER_ACTIVITIES ?? EAGER_ALL });
      const local = { workerLog: WORKER_LOG, trialsDir: settings.EVSYS_TRIALS_DIR };
      return await worker.runUntil(use({ client: new Client({ connection }), taskQueue, settings, local }));
    } finally {
      await ledger.close();
      await Promise.all([connection.close(), workerConnection.close()]);
    }
  } finally {
    stopFollowing?.();
    process.off('SIGINT', leave);
    process.off('SIGTERM', leave);
    await server.release();
  }
}

async function runOne({ client, taskQueue, local }: TemporalSession, prepared: PreparedEntry, opts: RunEvalOptions): Promise<EvaluateBenchmarkResult> {
  const { entry, sampler, taskIds } = prepared;
  const input = EvaluateBenchmarkInputSchema.parse({
    evaluator: { ...entry, sampler },
    step: opts.step,
    model_path: opts.modelPath,
  });
  const handle = await startOrAttachEval(client, taskQueue, input);
  const onProgress = opts.onProgress && ((p: EvalProgress) => opts.onProgress?.(entry.name, p));
  return followProgress(handle, onProgress, { evaluator: entry.name, taskIdAt: (i) => taskIds?.[i], ...local });
}

/** Runs evaluator entries one after another as evaluateBenchmark workflows. */
export async function runEvals(entries: EvaluatorFileEntry[], opts: RunEvalOptions): Promise<EvaluateBenchmarkResult[]> {
  const prepared: PreparedEntry[] = [];
  const env = opts.env ?? process.env;
  try {
    for (const entry of entries) prepared.push(await prepareEntry(entry, readSettings(env)));
    return await withTemporal(env, opts, async (session) => {
      const results: EvaluateBenchmarkResult[] = [];
      for (const entry of prepared) results.push(await runOne(session, entry, opts));
      return results;
    });
  } finally {
    await Promise.all(prepared.map((p) => p.simulator?.close()));
  }
}
