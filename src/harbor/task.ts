import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BadInputError } from '../errors';

/**
 * A Harbor-format task directory (SPEC "Harbor task format"):
 *   task.toml          timeouts, environment limits, metadata (schema below)
 *   instruction.md     what the agent is asked to do
 *   tests/test.sh      the verifier; writes /logs/verifier/reward.json or reward.txt
 *   environment/       optional; its files are copied to /app (a Dockerfile there is only used
 *                      by the docker environment)
 *   solution/solve.sh  optional oracle solution
 * Loading is pure file reading: nothing runs.
 */

export const TASK_FILE = 'task.toml';
export const INSTRUCTION_FILE = 'instruction.md';
export const TEST_SCRIPT = 'tests/test.sh';

/** A task directory that does not load: always names the file, and the key when there is one. */
export class HarborTaskError extends BadInputError {
  override readonly name: string = 'HarborTaskError';
}

const seconds = z.number().positive().finite();
/** Harbor's default agent and verifier timeout; also the agent's of a tasks.jsonl row, which has no task.toml. */
export const DEFAULT_TIMEOUT_SEC = 600;

/** `"2G"`, `"512M"`, `"1024K"` or a bare number of MiB, as Harbor's `memory`/`storage` strings. */
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?)?\s*$/i;
export function parseSizeMb(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  const m = SIZE_RE.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'M').charAt(0).toUpperCase();
  const factor = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[unit]!;
  const mb = Number(m[1]) * factor;
  return mb > 0 ? mb : undefined;
}
const size = z.union([z.string(), z.number()]).refine((v) => parseSizeMb(v) !== undefined, {
  message: 'expected a size such as "2G", "512M" or a number of MiB',
});

/**
 * task.toml. Unknown keys are kept (Harbor adds fields over time); known keys are type-checked.
 * Every section and key is optional; the defaults are Harbor's.
 */
export const TaskTomlSchema = z.looseObject({
  version: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
  agent: z.looseObject({ timeout_sec: seconds.default(DEFAULT_TIMEOUT_SEC) }).prefault({}),
  verifier: z.looseObject({ timeout_sec: seconds.default(DEFAULT_TIMEOUT_SEC) }).prefault({}),
  environment: z
    .looseObject({
      build_timeout_sec: seconds.default(600),
      cpus: z.number().positive().default(1),
      memory: size.optional(),
      memory_mb: z.number().positive().optional(),
      storage: size.optional(),
      storage_mb: z.number().positive().optional(),
      docker_image: z.string().optional(),
    })
    .prefault({}),
});
export type TaskToml = z.infer<typeof TaskTomlSchema>;

export const DEFAULT_MEMORY_MB = 2048;

export interface HarborTask {
  /** The directory's base name. */
  id: string;
  /** Absolute path of the task directory. */
  dir: string;
  instruction: string;
  agentTimeoutMs: number;
  verifierTimeoutMs: number;
  /** Resource limits from [environment]; `memoryMb` is enforced locally, `cpus` only by docker. */
  limits: { memoryMb: number; cpus: number; storageMb?: number };
  metadata: Record<string, unknown>;
  /** Files under tests/, relative to it, sorted; always includes `test.sh`. */
  tests: string[];
  /** Absolute path of environment/, when the task has one. */
  environmentDir?: string;
  /** Absolute path of solution/solve.sh, when the task has one. */
  solutionScript?: string;
  /** The validated task.toml, unknown keys included. */
  config: TaskToml;
}

export async function loadHarborTask(dir: string): Promise<HarborTask> {
  const root = resolve(dir);
  const tomlPath = join(root, TASK_FILE);
  const config = parseTaskToml(await readText(tomlPath, 'the task has no task.toml'), tomlPath);
  const instructionPath = join(root, INSTRUCTION_FILE);
  const instruction = await readText(instructionPath, 'the task has no instruction.md');
  if (instruction.trim() === '') throw new HarborTaskError(`${instructionPath}: empty instruction`);

  const testsDir = join(root, 'tests');
  const tests = await listFiles(testsDir);
  if (!tests.includes('test.sh')) throw new HarborTaskError(`${join(root, TEST_SCRIPT)}: missing (every task needs tests/test.sh)`);

  const env = config.environment;
  const memoryMb = env.memory_mb ?? (env.memory !== undefined ? parseSizeMb(env.memory)! : DEFAULT_MEMORY_MB);
  const storageMb = env.storage_mb ?? (env.storage !== undefined ? parseSizeMb(env.storage) : undefined);
  return {
    id: root.split(/[\\/]/).pop()!,
    dir: root,
    instruction,
    agentTimeoutMs: Math.round(config.agent.timeout_sec * 1000),
    verifierTimeoutMs: Math.round(config.verifier.timeout_sec * 1000),
    limits: { memoryMb: Math.round(memoryMb), cpus: env.cpus, ...(storageMb !== undefined ? { storageMb } : {}) },
    metadata: config.metadata,
    tests,
    ...((await isDir(join(root, 'environment'))) ? { environmentDir: join(root, 'environment') } : {}),
    ...((await isFile(join(root, 'solution', 'solve.sh'))) ? { solutionScript: join(root, 'solution', 'solve.sh') } : {}),
    config,
  };
}

/** Parses and validates task.toml text; errors name `file` and the offending key path. */
export function parseTaskToml(text: string, file: string): TaskToml {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new HarborTaskError(`${file}: not valid TOML: ${(err as Error).message}`);
  }
  const parsed = TaskTomlSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new HarborTaskError(`${file}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Every immediate subdirectory of `dir` that holds a task.toml, loaded, sorted by name. */
export async function loadHarborDataset(dir: string): Promise<HarborTask[]> {
  const root = resolve(dir);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new HarborTaskError(`${root}: cannot read the dataset directory: ${(err as Error).message}`);
  }
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const tasks: HarborTask[] = [];
  for (const name of names) {
    if (await isFile(join(root, name, TASK_FILE))) tasks.push(await loadHarborTask(join(root, name)));
  }
  if (tasks.length === 0) throw new HarborTaskError(`${root}: no task directories (subdirectories with a ${TASK_FILE})`);
  return tasks;
}

async function readText(path: string, missing: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HarborTaskError(code === 'ENOENT' ? `${path}: ${missing}` : `${path}: ${(err as Error).message}`);
  }
}

async function listFiles(dir: string): Promise<string[]> {
  if (!(await isDir(dir))) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}
