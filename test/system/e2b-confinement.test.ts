import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteLedger } from '../../src/ledger/sqlite-ledger';
import { startDevServer, type DevServer } from '../../testkit/dev-server';
import { killAllWorkerProcesses, startWorkerProcess } from '../../testkit/processes';
import { runEvsys } from '../helpers/evsys-cli';
import { lacks } from '../helpers/requires';
import { testBundle } from '../helpers/temporal';

/**
 * What a hostile completion's code check (e2b's cold and warm paths, and the program verifier's)
 * reaches, through a whole eval: an `evsys worker`
 * process (root, as the test setup runs) in a project folder of its own, which holds what a
 * worker's folder holds (a .env, the ledger, Temporal's SQLite file, another eval's trial
 * folder), scores a benchmark whose answers try to read those, a file in /root, /etc/shadow and
 * a root-only file in the venv the sandbox shows, and to connect to the worker's Temporal port
 * and to every port on 127.0.0.1. Each file holds a marker; no marker may reach the eval's
 * outputs, the ledger or the uploaded predictions. The project is under /var/tmp, not /tmp: the
 * sandbox's own /tmp would hide it whatever its root.
 */

const isRoot = process.getuid?.() === 0;
const marker = () => `evsys-planted-${randomBytes(16).toString('hex')}`;
/** What each probed file holds; the same probe on the host reads every one of them. */
const markers = { env: marker(), ledger: marker(), trial: marker(), root: marker(), rootOnly: marker() };
/** The venv the sandbox shows (the test setup puts its bin first on PATH). */
const VENV = path.dirname(spawnSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' }).stdout.trim());

let project: string;
let server: DevServer;
let targets: Record<string, string>;
/** A server on the host's loopback that counts the connections it gets. */
let listener: { server: net.Server; port: number; connections: number };
const cleanups: (() => void)[] = [];

/**
 * Probes every target and prints what it got, then fails, so that its output is kept. It dials
 * every port of 127.0.0.1; on the host, where that would touch other programs' servers, only
 * the ports PROBE_PORTS names.
 */
function probe(temporalPort: number, hostAddresses: string[]): string {
  return [
    'import errno, os, re, socket, sys',
    `targets = ${JSON.stringify(targets)}`,
    'for name, path in targets.items():',
    '    try:',
    '        data = open(path, "rb").read()',
    '        print(name, "READ", re.findall(rb"evsys-planted-[0-9a-f]{32}", data), data[:100])',
    '    except OSError as e:',
    '        print(name, "DENIED", type(e).__name__)',
    'def dial(host, port):',
    '    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)',
    '    s.settimeout(2)',
    '    try:',
    '        code = s.connect_ex((host, port))',
    '        # A port that answers as itself is the socket connected to itself (TCP simultaneous open), no server.',
    '        return "self" if code == 0 and s.getsockname()[1] == port and host == "127.0.0.1" else code',
    '    finally:',
    '        s.close()',
    `print("dial", ${temporalPort}, ["connected" if c == 0 else errno.errorcode.get(c, c) for c in (dial(h, ${temporalPort}) for h in ${JSON.stringify(hostAddresses)})])`,
    'ports = [int(p) for p in os.environ["PROBE_PORTS"].split(",")] if "PROBE_PORTS" in os.environ else range(1, 65536)',
    'print("loopback ports open:", [p for p in ports if dial("127.0.0.1", p) == 0])',
    'print("parent outside the sandbox:", os.getppid() == 0)',
    'sys.exit(1)',
  ].join('\n');
}

describe.skipIf(lacks('bubblewrap', 'python'))('e2b and program: a hostile check reaches none of the worker’s host', () => {
  beforeAll(async () => {
    project = mkdtempSync(path.join('/var/tmp', 'evsys-e2b-confined-'));
    cleanups.push(() => rmSync(project, { recursive: true, force: true }));
    // Readable by anyone, as a checkout usually is: only the sandbox's root keeps it out.
    chmodSync(project, 0o755);
    const state = path.join(project, '.evsys');
    mkdirSync(path.join(state, 'trials', 'earlier-eval', 'step_0', 'trial-0'), { recursive: true });
    targets = {
      shadow: '/etc/shadow',
      env: path.join(project, '.env'),
      ledger: path.join(state, 'ledger.sqlite'),
      temporal: path.join(state, 'temporal.sqlite'),
      trial: path.join(state, 'trials', 'earlier-eval', 'step_0', 'trial-0', 'answer.txt'),
      ...(isRoot ? { root: path.join('/root', `evsys-e2b-probe-${process.pid}.txt`), rootOnly: path.join(VENV, `evsys-e2b-probe-${process.pid}.txt`) } : {}),
    };
    writeFileSync(targets.env!, `EVSYS_STORE_TOKEN=${markers.env}\n`);
    writeFileSync(targets.trial!, `${markers.trial}\n`);
    if (isRoot) {
      writeFileSync(targets.root!, `${markers.root}\n`, { mode: 0o644 });
      cleanups.push(() => rmSync(targets.root!, { force: true }));
      // In a folder the sandbox shows: only its user, not its root, keeps this one unread.
      writeFileSync(targets.rootOnly!, `${markers.rootOnly}\n`, { mode: 0o600 });
      cleanups.push(() => rmSync(targets.rootOnly!, { force: true }));
    }
    // An earlier eval's sample in the ledger, as every stored completion is there.
    const ledger = new SqliteLedger(targets.ledger!);
    await ledger.record({
      ledger_key: 'earlier-eval', task_id: 'secret-task', task_index: 0, sample_idx: 0, stamp: 's', completion: `an earlier answer: ${markers.ledger}`,
      reasoning: null, answer: null, reward: 1, prompt_tokens: 1, completion_tokens: 1, latency_s: 0.1, attempts: 1, verifier_version: 'exact_match@1', finish_reason: 'stop', details: null,
    });
    await ledger.close();

    // The worker's Temporal server keeps its histories in the project too.
    server = await startDevServer({ dbFile: targets.temporal! });
    listener = await new Promise((resolve) => {
      const counted = { server: net.createServer((socket) => (counted.connections++, socket.destroy())), port: 0, connections: 0 };
      counted.server.listen(0, '127.0.0.1', () => resolve(Object.assign(counted, { port: (counted.server.address() as net.AddressInfo).port })));
    });
    // The run's workflow bundle, so the worker does not build its own.
    cpSync(path.dirname((await testBundle()).codePath), path.join(state, 'cache'), { recursive: true });
    await startWorkerProcess({
      address: server.address,
      taskQueue: `confined-${process.pid}`,
      ledgerFile: targets.ledger!,
      logFile: path.join(mkdtempSync(path.join(os.tmpdir(), 'evsys-confined-log-')), 'worker.log'),
      cwd: project,
    });
  }, 120_000);

  afterAll(async () => {
    await killAllWorkerProcesses();
    await server?.teardown();
    await new Promise((resolve) => listener?.server.close(resolve));
    for (const cleanup of cleanups.reverse()) cleanup();
  });

  it('cannot read the host’s files nor reach its loopback ports, warm or cold, and no marker reaches the ledger or the predictions', async () => {
    const temporalPort = Number(server.address.split(':').pop());
    // Its loopback first, then its other addresses (link-local ones need an interface to be dialled).
    const others = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => !a.internal && !a.address.startsWith('fe80:')));
    const hostAddresses = ['127.0.0.1', ...others.map((a) => a.address)];
    const code = probe(temporalPort, hostAddresses);

    // The same probe on the host reads every file and reaches both ports: the checks below can fail.
    const onHost = spawnSync('python3', ['-c', code], { encoding: 'utf8', env: { ...process.env, PROBE_PORTS: `${temporalPort},${listener.port}` } }).stdout;
    for (const [name, value] of Object.entries(markers)) if (isRoot || !name.startsWith('root')) expect(onHost).toContain(value);
    expect(onHost).toMatch(/^temporal READ /m);
    expect(onHost).toMatch(new RegExp(`^dial ${temporalPort} \\['connected'`, 'm'));
    expect(onHost).toContain(`loopback ports open: [${temporalPort}, ${listener.port}]`);
    // The event loop sees the connection once spawnSync has returned.
    for (let waited = 0; listener.connections === 0 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(listener.connections).toBe(1);

    const answer = '```python\n' + code + '\n```';
    const tasks = [
      { task_id: 'probe-cold', instruction: 'Probe, cold.', verifier: { kind: 'e2b', test_sh: 'python3 solution.py' }, metadata: { reference_answer: answer } },
      {
        task_id: 'probe-warm',
        instruction: 'Probe, warm.',
        verifier: { kind: 'e2b', test_sh: 'pytest -q --tb=line test_state.py', test_state_py: 'import runpy\n\ndef test_probe():\n    runpy.run_path("solution.py")\n' },
        metadata: { reference_answer: answer },
      },
      // The program verifier's check, forked warm into the sandbox: the probe, then a test program it never reaches.
      { task_id: 'probe-program', instruction: 'Probe, as a program.', verifier: { kind: 'program', test_program: 'pass' }, metadata: { reference_answer: answer } },
    ];
    mkdirSync(path.join(project, 'bench'));
    writeFileSync(path.join(project, 'bench', 'tasks.jsonl'), tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
    writeFileSync(
      path.join(project, 'eval.yaml'),
      ['name: confined', 'benchmark: {path: ./bench}', 'num_samples: 1', 'sampler: {simulator: {p_correct: 1, seed: 0, latency_ms: 5}}', 'run_id: confined', 'store: .evsys/results.sqlite'].join('\n'),
    );
    const run = await runEvsys(['eval', 'eval.yaml', '--json'], project, { TEMPORAL_ADDRESS: server.address, EVSYS_TASK_QUEUE: `confined-${process.pid}` });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ mean_reward: 0, n_tasks: 3, n_errored_samples: 0 });

    const ledger = new Database(targets.ledger!, { readonly: true });
    const rows = ledger.prepare("SELECT task_id, details FROM samples WHERE task_id LIKE 'probe-%' ORDER BY task_id").all() as { task_id: string; details: string }[];
    ledger.close();
    expect(rows.map((r) => r.task_id)).toEqual(['probe-cold', 'probe-program', 'probe-warm']);
    for (const { task_id, details } of rows) {
      const output = JSON.parse(details).output as string;
      const line = (name: string) => output.split('\n').find((l) => l.startsWith(`${name} `));
      expect(line('shadow'), `${task_id}: ${output}`).toBe('shadow DENIED FileNotFoundError');
      for (const name of ['env', 'ledger', 'temporal', 'trial', ...(isRoot ? ['root'] : [])]) expect(line(name), `${task_id}: ${output}`).toBe(`${name} DENIED FileNotFoundError`);
      // Where the sandbox shows the folder, its unprivileged user still cannot read root's file.
      if (isRoot) expect(line('rootOnly'), `${task_id}: ${output}`).toBe('rootOnly DENIED PermissionError');
      // The worker's Temporal port: refused on the sandbox's own loopback, no route to the host's other addresses.
      expect(line('dial'), `${task_id}: ${output}`).toMatch(new RegExp(`^dial ${temporalPort} \\['ECONNREFUSED'(, '(ENETUNREACH|EADDRNOTAVAIL)')*\\]$`));
      expect(output).toContain('loopback ports open: []');
      expect(output).toContain(`parent outside the sandbox: ${task_id === 'probe-cold' ? 'False' : 'True'}`);
    }
    expect(listener.connections).toBe(1);

    // No marker anywhere in what the eval kept, but the ledger's own in its earlier sample.
    const shadowLine = isRoot ? readFileSync('/etc/shadow', 'utf8').split('\n')[0]! : undefined;
    const kept = (file: string) => ['', '-wal'].map((suffix) => (existsSync(file + suffix) ? readFileSync(file + suffix, 'latin1') : '')).join('');
    const ledgerBytes = kept(targets.ledger!);
    const storeBytes = kept(path.join(project, '.evsys', 'results.sqlite'));
    expect(storeBytes).toContain('probe-warm');
    for (const [name, value] of Object.entries(markers)) {
      expect(storeBytes, name).not.toContain(value);
      if (name !== 'ledger') expect(ledgerBytes, name).not.toContain(value);
    }
    for (const { details } of rows) expect(details).not.toContain(markers.ledger);
    if (shadowLine) expect(ledgerBytes + storeBytes).not.toContain(shadowLine);
  }, 180_000);
});
