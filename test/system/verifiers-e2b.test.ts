import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VerifierSpec } from '../../src/benchmark/task';
import { capProcesses } from '../../src/verifiers/process-cap';
import { BadInputError } from '../../src/errors';
import { DEFAULT_SANDBOX, E2B_OUTPUT_CHARS, type SandboxOptions, VerifierInfraError, verify } from '../../src/verifiers';
import { processesMentioning, until } from '../helpers/host-processes';
import { lacks } from '../helpers/requires';

// These run the real sandbox: they need bubblewrap and pytest on PATH, which the test setup
// installs (the project venv's bin comes first on PATH and the sandbox passes PATH through).
// The tests run concurrently, as the worker runs sandboxes, so use the test context's hooks.

const SANDBOX: SandboxOptions = { timeoutMs: 10_000, memoryMb: 1024 };

// The warm path (warm-python.ts) needs a `pytest` whose #! names a Python, not a pyenv shim:
// the scripts folder of the first python3 (the project venv's bin) comes first, so every
// `pytest` test_sh here runs warm; `python3 solution.py` and `exec pytest ...` run cold.
const PYTHON_SCRIPTS = spawnSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' }).stdout.trim();
process.env.PATH = `${PYTHON_SCRIPTS}:${process.env.PATH}`;
/** That Python's venv, and the interpreter the venv is made from: the sandbox shows both. */
const VENV = dirname(PYTHON_SCRIPTS);
const BASE_PREFIX = spawnSync('python3', ['-c', 'import sys; print(sys.base_prefix)'], { encoding: 'utf8' }).stdout.trim();
/** Who runs the checks: nobody for a root worker (as the tests run), the worker's own user otherwise. */
const SANDBOX_UID = process.getuid?.() === 0 ? 65534 : process.getuid?.();
// Never seen inside a sandbox: its environment is rebuilt from a short list.
process.env.EVSYS_TEST_SECRET = 'host-only';

const ADD_TESTS = [
  'from solution import add',
  '',
  'def test_add():',
  '    assert add(2, 3) == 5',
  '    assert add(-1, 1) == 0',
  '',
].join('\n');

function pytestSpec(test_state_py = ADD_TESTS): Extract<VerifierSpec, { kind: 'e2b' }> {
  return { kind: 'e2b', test_sh: 'pytest -q test_state.py', test_state_py };
}

/** Runs solution.py directly, skipping pytest's start-up, for the checks about limits. */
function scriptSpec(args = ''): VerifierSpec {
  return { kind: 'e2b', test_sh: `python3 solution.py ${args}`.trim() };
}

function python(code: string): string {
  return '```python\n' + code + '\n```';
}

/** The reward alone. */
async function reward(...args: Parameters<typeof verify>): Promise<number> {
  return (await verify(...args)).reward;
}

/** The reward and the end of the test run's output (the e2b verdict's details.output). */
async function verdict(...args: Parameters<typeof verify>): Promise<{ reward: number; output: string }> {
  const { reward: score, details } = await verify(...args);
  return { reward: score, output: details?.output as string };
}

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('e2b: pass and fail from the exit code', () => {
  it('gives 1 when the tests pass on the completion’s ```python block', async () => {
    const completion = `Here is my solution:\n${python('def add(a, b):\n    return a + b')}\nIt adds.`;
    expect(await reward(pytestSpec(), completion, { sandbox: SANDBOX })).toBe(1);
  });

  it('uses the whole completion when it has no code block', async () => {
    expect(await reward(pytestSpec(), 'def add(a, b):\n    return a + b\n', { sandbox: SANDBOX })).toBe(1);
  });

  it('gives 0 when the tests fail, or the code does not even import', async () => {
    expect(await reward(pytestSpec(), python('def add(a, b):\n    return a - b'), { sandbox: SANDBOX })).toBe(0);
    expect(await reward(pytestSpec(), 'I cannot solve this.', { sandbox: SANDBOX })).toBe(0);
  });

  it('gives 0, not an infrastructure error, for a test that fails the way bwrap does', async () => {
    const spec: VerifierSpec = { kind: 'e2b', test_sh: 'echo "bwrap: Creating new namespace failed" >&2; exit 1' };
    expect(await reward(spec, '', { sandbox: SANDBOX })).toBe(0);
    expect(await reward({ kind: 'e2b', test_sh: 'exit 125' }, '', { sandbox: SANDBOX })).toBe(0);
  });
});

describe.skipIf(lacks('bubblewrap')).concurrent('e2b: the sandbox', () => {
  it('kills an infinite loop at the timeout, with every process it started, and gives 0', async () => {
    const tag = `evsys-loop-${randomUUID()}`;
    const started = Date.now();
    const score = await reward(scriptSpec(tag), python('import os\nos.fork()\nwhile True:\n    pass'), {
      sandbox: { ...SANDBOX, timeoutMs: 1500 },
    });
    expect(score).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(processesMentioning(tag)).toEqual([]);
  });

  it('gives 0 to code that needs more memory than the limit, which passes with more', async () => {
    const hog = python('data = bytearray(400 * 1024 * 1024)\nprint(len(data))');
    expect(await reward(scriptSpec(), hog, { sandbox: { ...SANDBOX, memoryMb: 256 } })).toBe(0);
    expect(await reward(scriptSpec(), hog, { sandbox: { ...SANDBOX, memoryMb: 1024 } })).toBe(1);
  });

  it('has no network: a server on the host’s loopback sees no connection', async ({ onTestFinished }) => {
    const { port, connections } = await loopbackServer(onTestFinished);
    const dial = `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=2).close()\nprint("connected")`;

    // The same code outside the sandbox does connect, so the check below can fail.
    const unsandboxed = spawnSync('python3', ['-c', dial], { encoding: 'utf8' });
    expect(unsandboxed.stdout).toContain('connected');
    await until(() => connections() === 1);

    expect(await reward(scriptSpec(), python(dial), { sandbox: SANDBOX })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections()).toBe(1);
  });

  it('has none of the host’s other folders, keeps the ones it shows read-only, and its /tmp private', async ({ onTestFinished }) => {
    const hostDir = mkdtempSync(join('/var/tmp', 'evsys-e2b-test-'));
    onTestFinished(() => rmSync(hostDir, { recursive: true, force: true }));
    const target = join(hostDir, 'escaped.txt');
    const write = await verdict(scriptSpec(), python(`open(${JSON.stringify(target)}, "w").write("out")`), { sandbox: SANDBOX });
    expect(write.reward).toBe(0);
    expect(write.output).toContain('No such file or directory');
    expect(existsSync(target)).toBe(false);
    // The venv it runs is there, read-only.
    const name = `evsys-escaped-${randomUUID()}`;
    const intoVenv = await verdict(scriptSpec(), python(`import sys\nopen(sys.prefix + "/${name}", "w")`), { sandbox: SANDBOX });
    expect(intoVenv.output).toContain('Read-only file system');
    expect(existsSync(join(VENV, name))).toBe(false);
    // The working folder and the sandbox's own /tmp are writable, and the host's /tmp is not there.
    const hostTmp = mkdtempSync(join(tmpdir(), 'evsys-e2b-test-'));
    onTestFinished(() => rmSync(hostTmp, { recursive: true, force: true }));
    const local = python(`import os\nopen("here.txt", "w").write("ok")\nopen("/tmp/scratch", "w").write("ok")\nassert not os.path.exists(${JSON.stringify(hostTmp)})`);
    expect(await reward(scriptSpec(), local, { sandbox: SANDBOX })).toBe(1);
  });

  it('stops at once when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 300);
    const tag = `evsys-aborted-${randomUUID()}`;
    const started = Date.now();
    await expect(
      verify(scriptSpec(tag), python('while True:\n    pass'), { sandbox: SANDBOX, signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(3000);
    await until(() => processesMentioning(tag).length === 0);
  });
});

/** What a check sees of the sandbox, printed as one JSON line by the same code on the cold path and the warm one. */
const LOOK = [
  'import json',
  'status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)',
  'print("LOOK " + json.dumps({',
  '    "top": sorted(os.listdir("/")), "etc": sorted(os.listdir("/etc")), "root": sorted(os.listdir("/root")), "home": os.listdir("/home"),',
  '    "uid": status["Uid"].split(), "gid": status["Gid"].split(), "groups": status["Groups"].split(),',
  '    "caps": [int(status[f], 16) for f in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],',
  '    "users": [l.split(":")[0] + ":" + l.split(":")[2] for l in open("/etc/passwd").read().splitlines()],',
  '    "hostname": os.uname().nodename, "missing_on_path": [p for p in os.environ["PATH"].split(":") if not os.path.isdir(p)]}))',
].join('\n');

interface Look {
  top: string[];
  etc: string[];
  root: string[];
  home: string[];
  uid: string[];
  gid: string[];
  groups: string[];
  caps: number[];
  users: string[];
  hostname: string;
  missing_on_path: string[];
}

/**
 * The check's view on the cold path (`python3 solution.py`), the warm one (`pytest -s`, uncaptured,
 * forked from the warm process), or the program verifier's (a warm `python3 program.py` that
 * first checks it runs warm: its parent is outside the sandbox).
 */
async function look(path: 'cold' | 'warm' | 'program'): Promise<Look> {
  const specs: Record<typeof path, [VerifierSpec, string]> = {
    cold: [scriptSpec(), python(`import os\n${LOOK}`)],
    warm: [{ ...warmSpec(LOOK), test_sh: 'pytest -q -s test_state.py' }, ''],
    program: [{ kind: 'program', test_program: `assert os.getppid() == 0, "not the warm path"\n${LOOK}` }, 'import os'],
  };
  const { reward: score, output } = await verdict(...specs[path], { sandbox: SANDBOX });
  expect(score, output).toBe(1);
  return JSON.parse(/^(?:test_state\.py )?LOOK (.*)$/m.exec(output)![1]!) as Look;
}

/** First folder of an absolute path: `/work` of `/work/x/.venv`. */
const topFolder = (path: string) => path.split('/')[1]!;

describe.skipIf(lacks('bubblewrap', 'python')).concurrent.each(['cold', 'warm', 'program'] as const)('e2b and program: what a check sees, %s', (path) => {
  it('a root made for it: the system folders, its Python, a few files of /etc, an empty /root and /home', async () => {
    const seen = await look(path);
    const system = ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];
    const python3 = [topFolder(VENV), topFolder(BASE_PREFIX)];
    expect(seen.top).toEqual(expect.arrayContaining(['usr', 'etc', 'root', 'home', 'tmp', 'dev', 'proc']));
    for (const name of seen.top) expect([...system, 'etc', 'root', 'home', 'tmp', 'dev', 'proc', ...python3]).toContain(name);
    const etc = ['alternatives', 'group', 'hosts', 'ld.so.cache', 'localtime', 'nsswitch.conf', 'passwd'];
    for (const name of seen.etc) expect(etc.includes(name) || /^python3(\.\d+)?$/.test(name), `/etc/${name}`).toBe(true);
    // Of /root, only the way to the interpreter when it lives there (a pyenv Python).
    expect(seen.root).toEqual(BASE_PREFIX.startsWith('/root/') ? [BASE_PREFIX.split('/')[2]] : []);
    expect(seen.home).toEqual([]);
    expect(seen.hostname).toBe('sandbox');
    // PATH lists only what is there: pyenv's shims, say, are not.
    expect(seen.missing_on_path).toEqual([]);
  });

  it('an unprivileged user with no capabilities', async () => {
    const seen = await look(path);
    expect(seen.uid).toEqual(Array(4).fill(String(SANDBOX_UID)));
    expect(seen.gid).toEqual(Array(4).fill(String(process.getuid?.() === 0 ? 65534 : process.getgid?.())));
    if (process.getuid?.() === 0) expect(seen.groups).toEqual([]);
    expect(seen.caps).toEqual([0, 0, 0, 0, 0]);
    expect(seen.users).toEqual(['root:0', `sandbox:${SANDBOX_UID}`]);
  });
});

/** Forks `n` children that sleep, then exits 0: it passes only when every fork succeeds. */
function forkBomb(n: number): string {
  return python(
    ['import os, time', `for i in range(${n}):`, '    if os.fork() == 0:', '        time.sleep(60)', '        os._exit(0)', `print("forked ${n}")`].join('\n'),
  );
}

describe.skipIf(lacks('bubblewrap'))('e2b: the process cap', () => {
  it('gives 0 to a fork bomb, which never has more than max_processes processes on the host', async () => {
    const tag = `evsys-forkbomb-${randomUUID()}`;
    const peak = watchPeak(() => processesMentioning(tag).length);
    const started = Date.now();
    const result = await verdict(scriptSpec(tag), forkBomb(2000), { sandbox: { ...SANDBOX, maxProcesses: 64 } });
    const seconds = (Date.now() - started) / 1000;
    const most = peak.stop();
    expect(result.reward).toBe(0);
    expect(result.output).toMatch(/BlockingIOError|Resource temporarily unavailable/);
    expect(result.output).toMatch(/forks refused at the sandbox's cap of 64 processes/);
    expect(most).toBeLessThanOrEqual(64);
    await until(() => processesMentioning(tag).length === 0);
    console.log(`fork bomb of 2000 at max_processes 64: reward ${result.reward}, peak ${most} processes on the host, ${seconds.toFixed(2)} s`);
  });

  it('cannot be lifted from inside: the cgroup files are not in the sandbox', async () => {
    const escape = [
      'own=/sys/fs/cgroup/pids$(grep -E "^[0-9]+:([^:]*,)?pids(,[^:]*)?:" /proc/self/cgroup | cut -d: -f3)',
      'echo 100000 > "$own/pids.max"; echo $$ > /sys/fs/cgroup/pids/cgroup.procs',
      'python3 solution.py',
    ].join('\n');
    const result = await verdict({ kind: 'e2b', test_sh: escape }, forkBomb(2000), { sandbox: { ...SANDBOX, maxProcesses: 64 } });
    expect(result.output).toMatch(/pids.max: No such file or directory/);
    expect(result.reward).toBe(0);
  });

  it('holds for a worker that is not root, through RLIMIT_NPROC in the sandbox’s own user namespace', () => {
    // The test runs as root (as CI does): the worker here runs as nobody, with Debian's python3.
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const tsx = join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const helper = join(__dirname, '..', 'helpers', 'e2b-fork-bomb.ts');
    if (asNobody.length) {
      const readable = spawnSync(asNobody[0], [...asNobody.slice(1), 'test', '-r', helper]).status === 0;
      expect(readable, `nobody (uid 65534) cannot read ${helper}: clone the checkout where other users can read it (not under /root)`).toBe(true);
    }
    const run = spawnSync(asNobody[0] ?? tsx, [...asNobody.slice(1), ...(asNobody.length ? [tsx] : []), helper], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', HOME: tmpdir() },
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as { uid: number; bomb: { reward: number; output: string }; few: { reward: number } };
    expect(result.uid).not.toBe(0);
    expect(result.bomb.reward).toBe(0);
    expect(result.bomb.output).toMatch(/BlockingIOError/);
    expect(result.few.reward).toBe(1);
  });

  it('refuses to run uncapped: root without a writable pids cgroup is an infrastructure error', async () => {
    // RLIMIT_NPROC does not bind root, so for root only a cgroup can cap the sandbox.
    if (process.getuid?.() !== 0) return expect(capProcesses(64, null)).resolves.toMatchObject({ rlimit: '64' });
    await expect(capProcesses(64, null)).rejects.toThrow(VerifierInfraError);
    await expect(capProcesses(64, null)).rejects.toThrow(/no writable pids cgroup was found .* RLIMIT_NPROC does not bind root/);
    await expect(capProcesses(64, '/nonexistent/cgroup')).rejects.toThrow(/cannot make a pids cgroup in \/nonexistent\/cgroup/);
  });

  it('passes the same code with fewer forks than the cap', async () => {
    expect(await reward(scriptSpec(), forkBomb(20), { sandbox: { ...SANDBOX, maxProcesses: 64 } })).toBe(1);
  });

  it('holds for 8 fork bombs at once under the default cap, and the host keeps forking', async () => {
    const tag = `evsys-forkbombs-${randomUUID()}`;
    const peak = watchPeak(() => processesMentioning(tag).length);
    const started = Date.now();
    const rewards = await Promise.all(Array.from({ length: 8 }, () => reward(scriptSpec(tag), forkBomb(2000), { sandbox: SANDBOX })));
    // The host forks fine right after (and during: watchPeak's reads run between them).
    expect(spawnSync('true').status).toBe(0);
    const most = peak.stop();
    expect(rewards).toEqual(Array(8).fill(0));
    expect(most).toBeLessThanOrEqual(8 * DEFAULT_SANDBOX.maxProcesses);
    await until(() => processesMentioning(tag).length === 0);
    console.log(`8 fork bombs of 2000 at the default cap: rewards ${rewards.join(',')}, peak ${most} processes on the host, ${((Date.now() - started) / 1000).toFixed(2)} s`);
  });
});

describe.skipIf(lacks('bubblewrap')).concurrent('e2b: the disk cap', () => {
  /** Writes `mb` MiB in the working folder, 1 MiB at a time. */
  const filler = (mb: number) => python(`with open("big.bin", "wb") as f:\n    for i in range(${mb}):\n        f.write(b"x" * 2**20)\n        f.flush()\nprint("wrote ${mb} MiB")`);

  it('gives 0 to code that writes more than disk_mb, which passes with more room', async () => {
    const full = await verdict(scriptSpec(), filler(300), { sandbox: { ...SANDBOX, diskMb: 64 } });
    expect(full.reward).toBe(0);
    expect(full.output).toContain('No space left on device');
    expect(await reward(scriptSpec(), filler(40), { sandbox: { ...SANDBOX, diskMb: 64 } })).toBe(1);
  });

  it('keeps the working folder off the host disk: a size-limited tmpfs, with no host folder behind it', async () => {
    const tag = `evsys-disk-${randomUUID()}`;
    // The working folder's file system, as the sandbox sees it, must be tmpfs of disk_mb.
    const where = python(
      [
        'import os',
        'st = os.statvfs(".")',
        'mounts = [l.split() for l in open("/proc/self/mountinfo")]',
        'fs = [m[m.index("-") + 1] for m in mounts if m[4] in ("/tmp", "/tmp/work")]',
        `open(${JSON.stringify(tag)}, "w").write("here")`,
        'assert fs and set(fs) == {"tmpfs"}, fs',
        'assert st.f_blocks * st.f_frsize <= 32 * 2**20, st',
      ].join('\n'),
    );
    const result = await verdict(scriptSpec(), where, { sandbox: { ...SANDBOX, diskMb: 32 } });
    expect(result.output).toContain('[evsys] exit code 0');
    expect(result.reward).toBe(1);
    expect(spawnSync('find', [tmpdir(), '-maxdepth', '3', '-name', tag], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('caps /dev/shm too and keeps the rest of /dev read-only, where /dev/null and shared-memory locks still work', async () => {
    const shm = python(`with open("/dev/shm/big", "wb") as f:\n    for i in range(300):\n        f.write(b"x" * 2**20)`);
    const full = await verdict(scriptSpec(), shm, { sandbox: { ...SANDBOX, diskMb: 64 } });
    expect(full.reward).toBe(0);
    expect(full.output).toContain('No space left on device');
    const dev = python('open("/dev/evsys-file", "w")');
    expect((await verdict(scriptSpec(), dev, { sandbox: SANDBOX })).output).toContain('Read-only file system');
    const ok = python('import multiprocessing\nmultiprocessing.Lock()\nopen("/dev/null", "w").write("x")');
    expect(await reward(scriptSpec(), ok, { sandbox: SANDBOX })).toBe(1);
  });
});

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('e2b: the verdict keeps the end of the output', () => {
  it('shows the failed assertion', async () => {
    const result = await verdict(pytestSpec(), python('def add(a, b):\n    return a - b'), { sandbox: SANDBOX });
    expect(result.reward).toBe(0);
    expect(result.output).toMatch(/assert -1 == 5/);
    expect(result.output).toMatch(/1 failed/);
    expect(result.output).toMatch(/\[evsys\] exit code 1$/);
  });

  it('shows the syntax error', async () => {
    const result = await verdict(pytestSpec(), python('def add(a, b)\n    return a + b'), { sandbox: SANDBOX });
    expect(result.reward).toBe(0);
    expect(result.output).toContain('SyntaxError');
  });

  it('says it timed out', async () => {
    const result = await verdict(scriptSpec(), python('print("looping", flush=True)\nwhile True:\n    pass'), {
      sandbox: { ...SANDBOX, timeoutMs: 1500 },
    });
    expect(result.reward).toBe(0);
    expect(result.output).toMatch(/^looping\n\[evsys\] timed out after 1.5 s; the sandbox was killed$/);
  });

  it('keeps it for a pass too, and bounds it, keeping the end', async () => {
    const chatty = python('import sys\nprint("the start", file=sys.stderr, flush=True)\nfor i in range(100000):\n    print("line", i)');
    const result = await verdict(scriptSpec(), chatty, { sandbox: SANDBOX });
    expect(result.reward).toBe(1);
    expect(result.output!.length).toBeLessThanOrEqual(E2B_OUTPUT_CHARS);
    expect(result.output).toMatch(/^…/);
    expect(result.output).not.toContain('the start');
    expect(result.output).toMatch(/line 99999\n\[evsys\] exit code 0$/);
  });

  it('gives none for the other kinds', async () => {
    expect(await verify({ kind: 'in_process', fn_name: 'exact_match', expected: 'a', params: {} }, 'a')).toEqual({ reward: 1 });
  });
});

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('e2b: a broken check is an error, never a 0', () => {
  it('fails with BadInputError, saying what to fix, when pytest collects no test', async () => {
    // The usual mistake when porting HumanEval: its check(candidate) is not a test pytest collects.
    const humanEvalStyle = 'from solution import add\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n';
    const run = verify(pytestSpec(humanEvalStyle), python('def add(a, b):\n    return a + b'), { sandbox: SANDBOX });
    await expect(run).rejects.toThrow(BadInputError);
    await expect(run).rejects.toThrow(/pytest collected no tests \(exit code 5\).*test_\*.*def test_check\(\): check\(<entry_point>\)/);
  });

  it('fails with VerifierInfraError when test_sh’s command is not in the sandbox, naming the hidden /tmp', async () => {
    const run = verify({ kind: 'e2b', test_sh: 'evsys-no-such-pytest -q test_state.py', test_state_py: ADD_TESTS }, '', { sandbox: SANDBOX });
    await expect(run).rejects.toThrow(VerifierInfraError);
    await expect(run).rejects.toThrow(/not found in the sandbox \(exit code 127\).*hides a venv under the host's \/tmp/);
  });
});

/** A pytest test that first checks it runs on the warm path: its parent is outside the sandbox (pid 0 there). */
function warmSpec(body: string): Extract<VerifierSpec, { kind: 'e2b' }> {
  const indented = body.split('\n').map((line) => `    ${line}`).join('\n');
  return pytestSpec(`import os, subprocess, sys\n\ndef test_it():\n    assert os.getppid() == 0, "not the warm path"\n${indented}\n`);
}

describe.skipIf(lacks('bubblewrap', 'python')).concurrent('e2b: the warm pytest path keeps every guarantee of the cold one', () => {
  it('gives the cold path’s rewards, and runs warm', async () => {
    const good = python('def add(a, b):\n    return a + b');
    const bad = python('def add(a, b):\n    return a - b');
    const cold: VerifierSpec = { kind: 'e2b', test_sh: 'exec pytest -q test_state.py', test_state_py: ADD_TESTS };
    expect(await reward(pytestSpec(), good, { sandbox: SANDBOX })).toBe(1);
    expect(await reward(cold, good, { sandbox: SANDBOX })).toBe(1);
    expect(await reward(pytestSpec(), bad, { sandbox: SANDBOX })).toBe(0);
    expect(await reward(cold, bad, { sandbox: SANDBOX })).toBe(0);
    expect(await reward(warmSpec('pass'), '', { sandbox: SANDBOX })).toBe(1);
    expect((await verdict(warmSpec('pass'), '', { sandbox: SANDBOX })).output).toMatch(/1 passed/);
    const coldProbe: VerifierSpec = { ...warmSpec('pass'), test_sh: 'exec pytest -q test_state.py' };
    expect((await verdict(coldProbe, '', { sandbox: SANDBOX })).output).toContain('not the warm path');
  });

  it('has no capabilities, no way to regain them, and only the sandbox’s environment', async () => {
    const check = [
      'status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)',
      'assert [int(status[f], 16) for f in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")] == [0] * 5, status',
      'assert status["NoNewPrivs"].strip() == "1"',
      'assert "EVSYS_TEST_SECRET" not in os.environ and os.environ["HOME"] == "/tmp/work", dict(os.environ)',
      'assert os.getcwd() == "/tmp/work" and sorted(os.listdir(".")) == ["solution.py", "test_state.py"], os.listdir(".")',
      'assert subprocess.run(["mount", "-o", "remount,rw", "/"]).returncode != 0',
      'assert sys.__stdin__.read() == ""  # not the warm process\'s requests',
    ].join('\n');
    const result = await verdict(warmSpec(check), '', { sandbox: SANDBOX });
    expect(result.output).toMatch(/1 passed/);
    expect(result.reward).toBe(1);
  });

  it('has none of the host’s other folders, keeps the ones it shows read-only, its /tmp private, and has no network', async ({ onTestFinished }) => {
    const hostDir = mkdtempSync(join('/var/tmp', 'evsys-e2b-warm-'));
    onTestFinished(() => rmSync(hostDir, { recursive: true, force: true }));
    const { port, connections } = await loopbackServer(onTestFinished);
    const target = join(hostDir, 'escaped.txt');
    const write = `open(${JSON.stringify(target)}, "w").write("out")`;
    expect((await verdict(warmSpec(write), '', { sandbox: SANDBOX })).output).toContain('No such file or directory');
    expect(existsSync(target)).toBe(false);
    const name = `evsys-escaped-${randomUUID()}`;
    expect((await verdict(warmSpec(`open(sys.prefix + "/${name}", "w")`), '', { sandbox: SANDBOX })).output).toContain('Read-only file system');
    expect(existsSync(join(VENV, name))).toBe(false);
    const hostTmp = mkdtempSync(join(tmpdir(), 'evsys-e2b-warm-'));
    onTestFinished(() => rmSync(hostTmp, { recursive: true, force: true }));
    expect(await reward(warmSpec(`open("/tmp/scratch", "w").write("ok")\nassert not os.path.exists(${JSON.stringify(hostTmp)})`), '', { sandbox: SANDBOX })).toBe(1);
    const dial = `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=2).close()`;
    expect(await reward(warmSpec(dial), '', { sandbox: SANDBOX })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections()).toBe(0);
  });

  it('kills the tests and everything they started at the timeout, and says so', async () => {
    const tag = `evsys-warm-loop-${randomUUID()}`;
    const loop = `subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", ${JSON.stringify(tag)}])\nprint("looping", flush=True)\nwhile True:\n    pass`;
    const started = Date.now();
    const result = await verdict(warmSpec(loop), '', { sandbox: { ...SANDBOX, timeoutMs: 1500 } });
    expect(result.reward).toBe(0);
    expect(result.output).toMatch(/\[evsys\] timed out after 1.5 s; the sandbox was killed$/);
    expect(Date.now() - started).toBeLessThan(5000);
    await until(() => processesMentioning(tag).length === 0);
  });

  it('stops at once when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 500);
    const tag = `evsys-warm-aborted-${randomUUID()}`;
    const spec = warmSpec(`subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", ${JSON.stringify(tag)}])\nwhile True:\n    pass`);
    await expect(verify(spec, '', { sandbox: SANDBOX, signal: controller.signal })).rejects.toBe(reason);
    await until(() => processesMentioning(tag).length === 0, 3000);
  });

  it('holds the memory limit, the process cap and the disk cap', async () => {
    const hog = 'data = bytearray(400 * 1024 * 1024)';
    expect((await verdict(warmSpec(hog), '', { sandbox: { ...SANDBOX, memoryMb: 256 } })).output).toContain('MemoryError');
    expect(await reward(warmSpec(hog), '', { sandbox: { ...SANDBOX, memoryMb: 1024 } })).toBe(1);
    const bomb = 'import time\nfor i in range(2000):\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)';
    const bombed = await verdict(warmSpec(bomb), '', { sandbox: { ...SANDBOX, maxProcesses: 64 } });
    expect(bombed.reward).toBe(0);
    expect(bombed.output).toMatch(/forks refused at the sandbox's cap of 64 processes/);
    const fill = 'with open("big.bin", "wb") as f:\n    for i in range(300):\n        f.write(b"x" * 2**20)';
    const filled = await verdict(warmSpec(fill), '', { sandbox: { ...SANDBOX, diskMb: 64 } });
    expect(filled.reward).toBe(0);
    expect(filled.output).toContain('No space left on device');
  });
});

describe.concurrent('e2b: a sandbox that cannot start is an infrastructure error, never a 0', () => {
  it('fails with VerifierInfraError when bwrap is missing', async () => {
    const sandbox = { ...SANDBOX, bwrapPath: '/nonexistent/bin/bwrap' };
    const run = verify(pytestSpec(), python('def add(a, b):\n    return a + b'), { sandbox });
    await expect(run).rejects.toThrow(VerifierInfraError);
    await expect(verify(scriptSpec(), '', { sandbox })).rejects.toThrow(/bubblewrap \(\/nonexistent\/bin\/bwrap\) is not installed/);
  });

  it('fails with VerifierInfraError, quoting bwrap, when bwrap exits before the test starts', async ({ onTestFinished }) => {
    const dir = mkdtempSync(join(tmpdir(), 'evsys-fake-bwrap-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const fake = join(dir, 'bwrap');
    writeFileSync(fake, '#!/bin/sh\necho "bwrap: Creating new namespace failed: Operation not permitted" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const run = verify(scriptSpec(), '', { sandbox: { ...SANDBOX, bwrapPath: fake } });
    await expect(run).rejects.toThrow(VerifierInfraError);
    await expect(verify(scriptSpec(), '', { sandbox: { ...SANDBOX, bwrapPath: fake } })).rejects.toThrow(
      /sandbox failed to start: .* exited with 1 before the test started; output: .*Creating new namespace failed/,
    );
  });
});


/** A TCP server on the host's loopback that counts the connections it gets; closed when the test finishes. */
async function loopbackServer(onTestFinished: (fn: () => Promise<void>) => void): Promise<{ port: number; connections(): number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

/** Polls `count` every 20 ms until stopped; stop() gives the highest count seen. */
function watchPeak(count: () => number): { stop(): number } {
  let most = count();
  const timer = setInterval(() => (most = Math.max(most, count())), 20);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(most, count());
    },
  };
}
