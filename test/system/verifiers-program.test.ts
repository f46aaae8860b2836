import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { E2B_OUTPUT_CHARS, type SandboxOptions, VerifierInfraError, verify } from '../../src/verifiers';
import { runEvsys } from '../helpers/evsys-cli';
import { processesMentioning, until } from '../helpers/host-processes';
import { lacks } from '../helpers/requires';
import { testBundle } from '../helpers/temporal';

// The `program` verifier against the real sandbox (bubblewrap, the pids cgroup of a root run, as
// the tests run): the completion's code and then the test program, one file, run by python3.
// The test setup puts the project venv's bin first on PATH: that python3 is an interpreter
// binary, so as root every check here runs warm (forked in from warm-python.py); the cold path is
// `python3 program.py` in the same sandbox, which the e2b tests run as `python3 solution.py`, and
// which a worker that is not root takes (below). What a program check sees of the sandbox is
// tested beside the e2b checks' (verifiers-e2b.test.ts), its confinement in a whole eval in
// e2b-confinement.test.ts.

const SANDBOX: SandboxOptions = { timeoutMs: 10_000, memoryMb: 1024 };
const isRoot = process.getuid?.() === 0;
const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function program(test_program: string): VerifierSpec {
  return { kind: 'program', test_program };
}

function python(code: string): string {
  return '```python\n' + code + '\n```';
}

async function verdict(spec: VerifierSpec, completion: string, sandbox = SANDBOX): Promise<{ reward: number; output: string }> {
  const { reward, details } = await verify(spec, completion, { sandbox });
  return { reward, output: details?.output as string };
}

const ADD = 'def add(a, b):\n    return a + b';
const CHECK_ADD = 'def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n\ncheck(add)';

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('program: the reward is the exit code', () => {
  it('gives 1 when the test program ends with exit code 0, on the ```python block or the whole completion', async () => {
    expect(await verdict(program(CHECK_ADD), `Here it is:\n${python(ADD)}\nIt adds.`)).toEqual({ reward: 1, output: '[evsys] exit code 0' });
    expect((await verdict(program(CHECK_ADD), `${ADD}\n`)).reward).toBe(1);
    // The test program's own sys.exit(0) is an exit code 0 too.
    expect((await verdict(program(`${CHECK_ADD}\nimport sys\nsys.exit(0)`), ADD)).reward).toBe(1);
  });

  it('gives 0 for any other exit: a failed assert, an exception, a syntax error, prose, sys.exit(3)', async () => {
    const wrong = await verdict(program(CHECK_ADD), python('def add(a, b):\n    return a - b'));
    expect(wrong.reward).toBe(0);
    // The code block's lines, a blank line, then the test program's.
    expect(wrong.output).toMatch(/File "\/tmp\/work\/program\.py", line 8, in <module>\n    check\(add\)\n/);
    expect(wrong.output).toMatch(/AssertionError\n\[evsys\] exit code 1$/);
    const raised = await verdict(program(CHECK_ADD), python('def add(a, b):\n    raise ValueError("no")'));
    expect(raised).toMatchObject({ reward: 0, output: expect.stringMatching(/ValueError: no\n\[evsys\] exit code 1$/) });
    const syntax = await verdict(program(CHECK_ADD), python('def add(a, b)\n    return a + b'));
    expect(syntax).toMatchObject({ reward: 0, output: expect.stringMatching(/SyntaxError: expected ':'\n\[evsys\] exit code 1$/) });
    expect((await verdict(program(CHECK_ADD), 'I cannot solve this.')).reward).toBe(0);
    const exited = await verdict(program(`${CHECK_ADD}\nimport sys\nsys.exit(3)`), ADD);
    expect(exited).toEqual({ reward: 0, output: '[evsys] exit code 3' });
  });

  it('gives 0, not an infrastructure error, to a program that fakes a missing python3', async () => {
    const fake = 'import sys\nprint("bash: line 1: python3: command not found", file=sys.stderr)\nsys.exit(127)';
    expect(await verdict(program(fake), '')).toEqual({ reward: 0, output: 'bash: line 1: python3: command not found\n[evsys] exit code 127' });
  });

  it('keeps the end of the output, bounded, as e2b does', async () => {
    const chatty = 'import sys\nprint("the start", file=sys.stderr, flush=True)\nfor i in range(100000):\n    print("line", i)';
    const result = await verdict(program(chatty), '');
    expect(result.reward).toBe(1);
    expect(result.output.length).toBeLessThanOrEqual(E2B_OUTPUT_CHARS);
    expect(result.output).toMatch(/^…/);
    expect(result.output).not.toContain('the start');
    expect(result.output).toMatch(/line 99999\n\[evsys\] exit code 0$/);
  });
});

/**
 * Programs whose end the warm path must get as a fresh `python3` gets it: the same exit code and
 * the same output (after the file's name), from threads, atexit, an interrupt, buffered output.
 */
const ENDINGS: Record<string, string> = {
  'a failed assert': 'def f():\n    return 2\nassert f() == 1',
  'a syntax error': 'def f(',
  'an indentation error': 'x = 1\n  y = 2',
  'sys.exit with a message': 'import sys\nsys.exit("bye")',
  'sys.exit(256)': 'import sys\nsys.exit(256)',
  'KeyboardInterrupt': 'raise KeyboardInterrupt',
  // stdout and stderr on one pipe, so their order is the program's: the buffered line comes first.
  'buffered stdout, then an exception': 'import os\nos.dup2(1, 2)\nprint("out")\nraise ValueError("v")',
  'a thread that exits the process': 'import os, threading, time\ndef late():\n    time.sleep(0.2)\n    print("late", flush=True)\n    os._exit(4)\nthreading.Thread(target=late).start()\nprint("main ends")',
  'an atexit hook': 'import atexit, os\natexit.register(lambda: (print("at exit", flush=True), os._exit(5)))',
  'the interpreter seen from inside': [
    'import json, os, sys',
    'print(json.dumps({"argv": sys.argv, "path": sys.path, "main": sorted(globals()), "file": __file__, "name": __name__,',
    '    "modules": sorted(sys.modules), "cwd": os.getcwd(), "exe": sys.executable, "stdin": repr(sys.stdin),',
    '    "env": sorted(os.environ.items()), "flags": str(sys.flags)}, indent=1))',
  ].join('\n'),
};

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('program: the warm path ends as a fresh python3 does', () => {
  it.each(Object.entries(ENDINGS))('%s', async (_name, code) => {
    const warm = await verdict(program(`${code}\npass`), '');
    // The same file run cold: `python3 solution.py` in the same sandbox.
    const cold = await verdict({ kind: 'e2b', test_sh: 'python3 solution.py' }, `\n${code}\npass\n`);
    expect(warm).toEqual({ reward: cold.reward, output: cold.output.replaceAll('solution.py', 'program.py') });
  });

  it('runs warm there: the program’s parent is outside the sandbox', async () => {
    expect(await verdict(program('import os\nassert os.getppid() == 0, "not the warm path"'), '')).toEqual({ reward: 1, output: '[evsys] exit code 0' });
  });
});

describe.skipIf(lacks('bubblewrap', 'python'))('program: a sandbox of its own for each check, made ahead or not', () => {
  it('finds no trace of the check before: no file, no process; and its file as bubblewrap lays one', async () => {
    const tag = `evsys-program-left-${randomUUID()}`;
    // One after the other, so that each takes the sandbox the one before started for it.
    const leaveTraces = `import subprocess\nsubprocess.Popen(["sleep", "600", ${JSON.stringify(tag)}], start_new_session=True)\nopen("/tmp/left-behind", "w").write("x")\nopen("/dev/shm/left-behind", "w").write("x")`;
    const findNone = [
      'import os, stat',
      'assert not os.path.exists("/tmp/left-behind") and not os.path.exists("/dev/shm/left-behind")',
      'mine = {str(os.getpid())}',
      'others = [p for p in os.listdir("/proc") if p.isdigit() and p not in mine and "sleep" in open(f"/proc/{p}/cmdline").read() and "600" in open(f"/proc/{p}/cmdline").read()]',
      'assert others == [], others',
      'st = os.stat("program.py")',
      'print("FILE", sorted(os.listdir(".")), st.st_uid, oct(stat.S_IMODE(st.st_mode)), oct(stat.S_IMODE(os.stat(".").st_mode)))',
    ].join('\n');
    for (let i = 0; i < 3; i++) {
      expect((await verdict(program(leaveTraces), '')).reward).toBe(1);
      const seen = await verdict(program(findNone), '');
      expect(seen.reward, seen.output).toBe(1);
      if (isRoot) expect(seen.output).toContain("FILE ['program.py'] 0 0o666 0o777");
    }
    await until(() => processesMentioning(tag).length === 0);
  });

  it('keeps a process with nothing else to do until its checks are done, and not after', () => {
    const started = Date.now();
    const run = spawnSync(TSX, [path.join(__dirname, '..', 'helpers', 'sequential-checks.ts')], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('{"passed":10}');
    // The spares live 30 s when unused: the process ended long before.
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('program: the sandbox’s limits', () => {
  it('gives 0 at the timeout, says so, and leaves no process behind', async () => {
    const tag = `evsys-program-loop-${randomUUID()}`;
    const loop = `import subprocess, sys\nsubprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", ${JSON.stringify(tag)}])\nprint("looping", flush=True)\nwhile True:\n    pass`;
    const started = Date.now();
    const result = await verdict(program(loop), '', { ...SANDBOX, timeoutMs: 1500 });
    expect(result).toEqual({ reward: 0, output: 'looping\n[evsys] timed out after 1.5 s; the sandbox was killed' });
    expect(Date.now() - started).toBeLessThan(5000);
    await until(() => processesMentioning(tag).length === 0);
  });

  it('stops at once when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 300);
    await expect(verify(program('while True:\n    pass'), '', { sandbox: SANDBOX, signal: controller.signal })).rejects.toBe(reason);
  });

  it('holds the memory limit, the process cap and the disk cap', async () => {
    const hog = 'data = bytearray(400 * 1024 * 1024)';
    expect((await verdict(program(hog), '', { ...SANDBOX, memoryMb: 256 })).output).toMatch(/MemoryError\n\[evsys\] exit code 1$/);
    expect((await verdict(program(hog), '', { ...SANDBOX, memoryMb: 1024 })).reward).toBe(1);
    const bomb = 'import os, time\nfor i in range(2000):\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)';
    const bombed = await verdict(program(bomb), '', { ...SANDBOX, maxProcesses: 64 });
    expect(bombed.reward).toBe(0);
    expect(bombed.output).toMatch(/forks refused at the sandbox's cap of 64 processes/);
    const fill = 'with open("big.bin", "wb") as f:\n    for i in range(300):\n        f.write(b"x" * 2**20)';
    const filled = await verdict(program(fill), '', { ...SANDBOX, diskMb: 64 });
    expect(filled.reward).toBe(0);
    expect(filled.output).toContain('No space left on device');
  });

  it('holds for a worker that is not root, on the cold path under RLIMIT_NPROC', () => {
    // As the e2b test of the same: the worker runs as nobody, with Debian's python3.
    const asNobody = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const helper = path.join(__dirname, '..', 'helpers', 'e2b-fork-bomb.ts');
    const run = spawnSync(asNobody[0] ?? TSX, [...asNobody.slice(1), ...(asNobody.length ? [TSX] : []), helper, 'program'], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', HOME: '/var/tmp' },
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as { uid: number; bomb: { reward: number; output: string }; few: { reward: number; output: string } };
    expect(result.uid).not.toBe(0);
    expect(result.bomb.reward).toBe(0);
    expect(result.bomb.output).toMatch(/BlockingIOError/);
    expect(result.few).toEqual({ reward: 1, output: 'forked 20\nthe test program ran\n[evsys] exit code 0' });
  });
});

describe.skipIf(lacks('bubblewrap', 'python'))('program: a worker started from a terminal', () => {
  it('keeps its terminal from the warm checks, as bubblewrap keeps it from cold ones', () => {
    // util-linux's `script` gives the helper a terminal of its own, as a shell gives `evsys eval`.
    const run = spawnSync('script', ['-qec', `${TSX} ${path.join(__dirname, '..', 'helpers', 'tty-probe.ts')}`, '/dev/null'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const seen = JSON.parse(/\{.*\}/.exec(run.stdout)![0]) as Record<string, string>;
    // The worker has the terminal, so the checks below can fail.
    expect(seen.host).toBe('TTY opened');
    expect(seen).toEqual({ host: 'TTY opened', e2b: 'TTY refused: No such device or address', program: 'TTY refused: No such device or address' });
  });
});

describe('program: a sandbox that cannot start is an infrastructure error, never a 0', () => {
  it('fails with VerifierInfraError when bwrap is missing', async () => {
    const run = verify(program(CHECK_ADD), ADD, { sandbox: { ...SANDBOX, bwrapPath: '/nonexistent/bin/bwrap' } });
    await expect(run).rejects.toThrow(VerifierInfraError);
    await expect(run).rejects.toThrow(/bubblewrap \(\/nonexistent\/bin\/bwrap\) is not installed/);
  });

  it('fails with VerifierInfraError when the sandbox’s PATH has no python3', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent/bin';
    try {
      const run = verify(program(CHECK_ADD), ADD, { sandbox: SANDBOX });
      await expect(run).rejects.toThrow(VerifierInfraError);
      await expect(run).rejects.toThrow(/no python3 on the sandbox's PATH \(\)/);
    } finally {
      process.env.PATH = path;
    }
  });
});

/** A project folder under /var/tmp (the sandbox hides the host's /tmp) with the run's workflow bundle, removed when the test ends. */
async function project(onTestFinished: (fn: () => void) => void, prefix: string): Promise<string> {
  const dir = mkdtempSync(path.join('/var/tmp', prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.dirname((await testBundle()).codePath), path.join(dir, '.evsys', 'cache'), { recursive: true });
  return dir;
}

/** A benchmark of program tasks whose simulator answers are `answers` (task id -> completion), and its eval's config. */
function programEval(dir: string, tests: Record<string, { answer: string; test_program: string }>, config: string[]): void {
  mkdirSync(path.join(dir, 'bench'));
  const tasks = Object.entries(tests).map(([task_id, { answer, test_program }]) => ({
    task_id,
    instruction: `Write code for ${task_id}.`,
    verifier: { kind: 'program', test_program },
    metadata: { reference_answer: answer },
  }));
  writeFileSync(path.join(dir, 'bench', 'tasks.jsonl'), tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const lines = ['name: programs', 'benchmark: {path: ./bench}', 'num_samples: 1', 'sampler: {simulator: {p_correct: 1, seed: 0, latency_ms: 5}}', ...config];
  writeFileSync(path.join(dir, 'eval.yaml'), lines.join('\n') + '\n');
}

/** The ledger's reward and kept output of each task, by task id. */
function ledgerRows(dir: string): Record<string, { reward: number; output: string }> {
  const db = new Database(path.join(dir, '.evsys', 'ledger.sqlite'), { readonly: true });
  const rows = db.prepare('SELECT task_id, reward, details FROM samples').all() as { task_id: string; reward: number; details: string | null }[];
  db.close();
  return Object.fromEntries(rows.map((r) => [r.task_id, { reward: r.reward, output: r.details === null ? '' : (JSON.parse(r.details).output as string) }]));
}

describe.skipIf(lacks('bubblewrap', 'python'))('program: through an eval', () => {
  it('scores each sample by its exit code, a timeout as 0, and keeps what the run printed', async ({ onTestFinished }) => {
    const dir = await project(onTestFinished, 'evsys-program-eval-');
    programEval(
      dir,
      {
        passes: { answer: ADD, test_program: CHECK_ADD },
        fails: { answer: 'def add(a, b):\n    return a * b', test_program: CHECK_ADD },
        'exits-3': { answer: 'import sys', test_program: 'sys.exit(3)' },
        'times-out': { answer: 'while True:\n    pass', test_program: 'print("never")' },
        'not-code': { answer: 'The answer is 5.', test_program: CHECK_ADD },
      },
      ['sandbox: {timeout_s: 2}', 'metrics: [pass@1]'],
    );
    const run = await runEvsys(['eval', 'eval.yaml', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ 'pass@1': 0.2, n_tasks: 5, n_errored_samples: 0 });
    const rows = ledgerRows(dir);
    expect(rows.passes).toEqual({ reward: 1, output: '[evsys] exit code 0' });
    expect(rows.fails).toMatchObject({ reward: 0, output: expect.stringMatching(/AssertionError\n\[evsys\] exit code 1$/) });
    expect(rows['exits-3']).toEqual({ reward: 0, output: '[evsys] exit code 3' });
    expect(rows['times-out']).toEqual({ reward: 0, output: '[evsys] timed out after 2 s; the sandbox was killed' });
    expect(rows['not-code']).toMatchObject({ reward: 0, output: expect.stringMatching(/SyntaxError/) });
  }, 120_000);

  it('counts a sandbox that cannot start in n_errored_samples, never as a 0', async ({ onTestFinished }) => {
    const dir = await project(onTestFinished, 'evsys-program-infra-');
    // A venv on the worker's PATH that nobody, who runs a root worker's checks, cannot enter: every
    // sandbox refuses to start. The test programs still compile (with the project venv's python3).
    const locked = path.join(dir, 'locked-venv');
    mkdirSync(path.join(locked, 'bin'), { recursive: true });
    writeFileSync(path.join(locked, 'pyvenv.cfg'), 'home = /usr/bin\n');
    chmodSync(locked, 0o700);
    programEval(dir, { a: { answer: ADD, test_program: CHECK_ADD }, b: { answer: ADD, test_program: CHECK_ADD } }, ['max_task_attempts: 1', 'max_error_rate: 1']);
    const run = await runEvsys(['eval', 'eval.yaml', '--json'], dir, { PATH: `${path.join(locked, 'bin')}:${process.env.PATH}` });
    expect(run.code, run.stderr).toBe(0);
    const metrics = JSON.parse(run.stdout) as Record<string, number>;
    expect(metrics).toMatchObject({ n_errored_samples: 2 });
    expect(metrics.pass_rate).toBeUndefined();
    expect(ledgerRows(dir)).toEqual({});
    const log = readdirSync(path.join(dir, '.evsys', 'logs')).map((f) => readFileSync(path.join(dir, '.evsys', 'logs', f), 'utf8')).join('');
    expect(log).toContain(`cannot read ${locked}`);
  }, 120_000);
});
