import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBenchmark, METADATA_FILE, TASKS_FILE, type Benchmark } from '../benchmark/load';
import type { TaskInfo } from '../benchmark/task';
import { BadInputError } from '../errors';
import { loadHarborBenchmark, taskFolderFiles } from '../harbor/dataset';
import { hashFiles } from '../hash-files';
import type { ArchiveFile } from '../store/benchmark-archive';
import type { BenchmarkKind } from '../store/benchmark-store';

/**
 * A benchmark folder as the store keeps it: exactly the files its content hash covers (an
 * evsys benchmark's tasks.jsonl and metadata.yaml; every file of a Harbor dataset's task
 * folders), so unpacking them anywhere gives a folder with the same hash.
 */
export interface BenchmarkContent {
  kind: BenchmarkKind;
  /** metadata.yaml's name, else the folder's base name. */
  name: string;
  description: string | null;
  n_tasks: number;
  content_hash: string;
  files: ArchiveFile[];
}

/** A folder with tasks.jsonl is an evsys benchmark; any other is read as a Harbor dataset. */
async function kindOf(dir: string): Promise<BenchmarkKind> {
  return (await stat(join(dir, TASKS_FILE)).then((s) => s.isFile(), () => false)) ? 'tasks' : 'harbor';
}

function loadAs(kind: BenchmarkKind, dir: string) {
  return kind === 'tasks' ? loadBenchmark(dir) : loadHarborBenchmark(dir);
}

/** The folder's content hash as the engine that scores its kind computes it; every task is read and checked on the way. */
export async function contentHashOfFolder(dir: string): Promise<string> {
  return (await loadAs(await kindOf(dir), dir)).contentHash;
}

/** The folder read and checked as its kind, and the files its content hash covers. */
async function sourcesOf(kind: BenchmarkKind, dir: string): Promise<{ benchmark: Benchmark<TaskInfo>; sources: Array<{ name: string; file: string }> }> {
  if (kind === 'tasks') return { benchmark: await loadBenchmark(dir), sources: [TASKS_FILE, METADATA_FILE].map((name) => ({ name, file: join(dir, name) })) };
  const benchmark = await loadHarborBenchmark(dir);
  return { benchmark, sources: await taskFolderFiles(benchmark.tasks.map((task) => task.harbor)) };
}

/** Reads and checks a benchmark folder for `evsys benchmark push`: bad input names its file and line, as an eval would. */
export async function readBenchmarkContent(dir: string): Promise<BenchmarkContent> {
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new BadInputError(`${dir}: no such folder`);
  const kind = await kindOf(dir);
  const { benchmark, sources } = await sourcesOf(kind, dir);
  const files: ArchiveFile[] = [];
  for (const { name, file } of sources) {
    const info = await stat(file).catch(() => undefined);
    if (!info) continue; // metadata.yaml is optional
    files.push({ path: name, bytes: await readFile(file), executable: (info.mode & 0o111) !== 0 });
  }
  // The same bytes the loader hashed, unless the folder changed in between.
  if (hashFiles(files.map((f) => [f.path, f.bytes])) !== benchmark.contentHash) {
    throw new BadInputError(`${dir} changed while it was read; push it again`);
  }
  return {
    kind,
    name: benchmark.name,
    description: benchmark.metadata.description ?? null,
    n_tasks: benchmark.totalTasks,
    content_hash: benchmark.contentHash,
    files,
  };
}
