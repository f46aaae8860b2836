import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { VerifierInfraError } from '../verifiers/context';
import { tailExcerpt } from '../verifiers/text';
import type { HarborEnvironment, RunOptions, RunResult } from './environment';
import { DEFAULT_MEMORY_MB, type HarborTask } from './task';

/**
 * A Harbor environment in a Docker container, one per trial, through the `docker` CLI
 * (`harbor.environment: docker`). It needs a reachable Docker daemon. There is none on this
 * project's CI, so the tests check only that it fails clearly without one; everything below
 * the probe is untested here.
 *
 * The image: task.toml's `environment.docker_image`, else `environment/Dockerfile` built with
 * environment/ as its context (once per task directory and worker process; Docker's cache
 * makes the next build cheap), else DEFAULT_IMAGE with environment/ copied to /app.
 * The container: `--network none`, task.toml's `memory` and `cpus`, `sleep infinity` as its
 * main process, /app as its working directory; /logs/verifier and /logs/agent are created, and
 * tests/ is copied to /tests just before the verifier runs. Commands run with `docker exec`; at a timeout the whole
 * container is killed, so nothing the command started keeps running (the trial ends there).
 * `storage` is not enforced.
 */

/** For tasks with neither an image nor a Dockerfile: bash, coreutils and python3 like the local sandbox's host usually has. */
const DEFAULT_IMAGE = 'python:3.12-slim-bookworm';
const SETUP_TIMEOUT_MS = 10 * 60_000;
const OUTPUT_TAIL_CHARS = 8_192;

/** Images built by this worker process, by task directory. */
const builtImages = new Map<string, Promise<string>>();

export class DockerEnvironment implements HarborEnvironment {
  private disposed = false;

  private constructor(
    private readonly docker: string,
    private readonly container: string,
  ) {}

  static async create(task: HarborTask | undefined, dockerPath = 'docker'): Promise<DockerEnvironment> {
    const probe = await runDocker(dockerPath, ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 }).catch((err: Error) => ({ code: null, stdout: '', stderr: err.message, timedOut: false }));
    if (probe.code !== 0) {
      throw new VerifierInfraError(`harbor environment "docker" needs a Docker daemon, and none is reachable (${dockerPath} info: ${probe.stderr.trim().split('\n').pop()})`);
    }
    const image = await imageFor(task, dockerPath);
    const memoryMb = task?.limits.memoryMb ?? DEFAULT_MEMORY_MB;
    const started = await must(dockerPath, ['run', '-d', '--network', 'none', '--memory', `${memoryMb}m`, '--cpus', String(task?.limits.cpus ?? 1), '--workdir', '/app', image, 'sleep', 'infinity'], 'start the trial container');
    const env = new DockerEnvironment(dockerPath, started.stdout.trim());
    try {
      await must(dockerPath, ['exec', env.container, 'mkdir', '-p', '/app', '/tests', '/logs/verifier', '/logs/agent'], 'lay out the trial container');
      if (task?.environmentDir && image === DEFAULT_IMAGE) await must(dockerPath, ['cp', `${task.environmentDir}/.`, `${env.container}:/app`], 'copy environment/ into the container');
      return env;
    } catch (err) {
      await env.dispose();
      throw err;
    }
  }

  async run(cmd: string, opts: RunOptions): Promise<RunResult> {
    this.checkOpen();
    const result = await runDocker(this.docker, ['exec', '-w', opts.cwd ?? '/app', this.container, 'bash', '-c', cmd], { timeoutMs: opts.timeoutMs, signal: opts.signal });
    if (result.timedOut) await runDocker(this.docker, ['kill', this.container], { timeoutMs: 30_000 }).catch(() => undefined);
    return { exitCode: result.timedOut ? null : result.code, stdout: tailExcerpt(result.stdout, OUTPUT_TAIL_CHARS), stderr: tailExcerpt(result.stderr, OUTPUT_TAIL_CHARS), timedOut: result.timedOut };
  }

  async writeFile(path: string, content: string): Promise<void> {
    this.checkOpen();
    await must(this.docker, ['exec', '-i', this.container, 'sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path], `write ${path}`, content);
  }

  async readFile(path: string): Promise<string | undefined> {
    this.checkOpen();
    const result = await runDocker(this.docker, ['exec', this.container, 'sh', '-c', 'test -f "$1" || exit 44; cat "$1"', 'sh', path], { timeoutMs: 60_000 });
    if (result.code === 44) return undefined;
    if (result.code !== 0) throw new VerifierInfraError(`docker: cannot read ${path}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async uploadDir(hostDir: string, path: string): Promise<void> {
    this.checkOpen();
    await must(this.docker, ['exec', this.container, 'sh', '-c', 'rm -rf "$1" && mkdir -p "$1"', 'sh', path], `empty ${path}`);
    await must(this.docker, ['cp', `${hostDir}/.`, `${this.container}:${path}`], `copy ${hostDir} into the container`);
  }

  async downloadDir(path: string, hostDir: string): Promise<void> {
    this.checkOpen();
    await mkdir(hostDir, { recursive: true });
    // docker cp works on a stopped container too: the logs of a timed-out trial are kept.
    await must(this.docker, ['cp', `${this.container}:${path}/.`, hostDir], `copy ${path} out of the container`);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await runDocker(this.docker, ['rm', '-f', this.container], { timeoutMs: 60_000 }).catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error('docker harbor environment already disposed');
  }
}

function imageFor(task: HarborTask | undefined, docker: string): Promise<string> {
  if (task?.config.environment.docker_image) return Promise.resolve(task.config.environment.docker_image);
  if (!task?.environmentDir || !existsSync(join(task.environmentDir, 'Dockerfile'))) return Promise.resolve(DEFAULT_IMAGE);
  const contextDir = task.environmentDir;
  let image = builtImages.get(contextDir);
  if (!image) {
    const tag = `evsys-harbor-${task.id.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}:${createHash('sha256').update(contextDir).digest('hex').slice(0, 12)}`;
    image = must(docker, ['build', '-q', '-t', tag, contextDir], `build ${contextDir}/Dockerfile`).then(() => tag);
    image.catch(() => builtImages.delete(contextDir));
    builtImages.set(contextDir, image);
  }
  return image;
}

interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A docker CLI call that must succeed; its failure is the environment's, never the task's. */
async function must(docker: string, args: string[], what: string, input?: string): Promise<DockerResult> {
  const result = await runDocker(docker, args, { timeoutMs: SETUP_TIMEOUT_MS, input });
  if (result.code !== 0) throw new VerifierInfraError(`docker: cannot ${what}: ${tailExcerpt(result.stderr.trim() || result.stdout.trim(), 500)}`);
  return result;
}

function runDocker(docker: string, args: string[], opts: { timeoutMs: number; signal?: AbortSignal; input?: string }): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    opts.signal?.throwIfAborted();
    const child = spawn(docker, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const onAbort = () => {
      child.kill('SIGKILL');
      reject(opts.signal!.reason);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      done();
      reject(new VerifierInfraError(`cannot run ${docker}: ${err.message}`));
    });
    child.on('close', (code) => {
      done();
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(opts.input ?? '');
  });
}
