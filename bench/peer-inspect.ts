// evsys against a peer, Inspect AI, in the same run: N tasks x S samples on one simulator (fixed
// latency) at one n_concurrent. evsys runs first (embedded dev server, in-process worker), then
// bench/peer-inspect.py (Inspect's openai-api provider pointed at the simulator's /v1, fake key,
// max_connections = n_concurrent, epochs = samples, an exact-match scorer). Prints both walls
// (Inspect's is eval() alone, without Python's start-up and imports) and evsys / inspect.
// Target: evsys no slower (ratio <= 1.00). Needs `pip install inspect-ai openai`.
// Run: npx tsx bench/peer-inspect.ts [tasks=2000] [samples=4] [latencyMs=200] [concurrency=64]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { loadLine } from './common';
import { runEvsys, startRig } from './efficiency';

export interface PeerOptions {
  tasks: number;
  samples: number;
  latencyMs: number;
  concurrency: number;
  python?: string;
}

export interface PeerResult {
  limitS: number;
  evsysWallS: number;
  inspectWallS: number;
  inspectProcessS: number;
  inspectStatus: string;
  inspectAccuracy: number | null;
  evsysPassRate: number;
  ratio: number;
}

function runPython(python: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code }));
  });
}

export async function runPeerInspect(opts: PeerOptions): Promise<PeerResult> {
  const rig = await startRig({ tasks: opts.tasks, latencyMs: opts.latencyMs });
  try {
    const evsys = await runEvsys(rig, opts.samples, opts.concurrency, opts.latencyMs);
    await rig.sim.resetStats();
    const started = performance.now();
    const py = await runPython(opts.python ?? 'python3', [
      path.join(__dirname, 'peer-inspect.py'),
      path.join(rig.dir, 'tasks.jsonl'),
      rig.sim.url,
      String(opts.samples),
      String(opts.concurrency),
      path.join(rig.dir, 'inspect-logs'),
    ]);
    const inspectProcessS = (performance.now() - started) / 1000;
    const line = py.stdout.trim().split('\n').pop() ?? '';
    if (py.code !== 0 || !line.startsWith('{')) throw new Error(`peer-inspect.py failed (exit ${py.code}):\n${py.stderr.slice(-3000)}`);
    const inspect = JSON.parse(line) as { status: string; wall_s: number; accuracy: number | null };
    return {
      limitS: (opts.tasks * opts.samples * opts.latencyMs) / 1000 / opts.concurrency,
      evsysWallS: evsys.wallS,
      inspectWallS: inspect.wall_s,
      inspectProcessS,
      inspectStatus: inspect.status,
      inspectAccuracy: inspect.accuracy,
      evsysPassRate: evsys.result.metrics.pass_rate,
      ratio: evsys.wallS / inspect.wall_s,
    };
  } finally {
    await rig.close();
  }
}

if (require.main === module) {
  const [tasks, samples, latencyMs, concurrency] = [2000, 4, 200, 64].map((d, i) => Number(process.argv[2 + i] ?? d));
  runPeerInspect({ tasks, samples, latencyMs, concurrency })
    .then((r) => {
      console.log(`command: npx tsx bench/peer-inspect.ts ${tasks} ${samples} ${latencyMs} ${concurrency}`);
      console.log(
        `${tasks} tasks x ${samples} samples, latency ${latencyMs} ms, n_concurrent ${concurrency} (limit ${r.limitS.toFixed(1)} s): ` +
          `evsys wall ${r.evsysWallS.toFixed(1)} s (efficiency ${(r.limitS / r.evsysWallS).toFixed(2)}, pass_rate ${r.evsysPassRate.toFixed(3)}); ` +
          `inspect eval() wall ${r.inspectWallS.toFixed(1)} s (efficiency ${(r.limitS / r.inspectWallS).toFixed(2)}, accuracy ${r.inspectAccuracy}, ` +
          `status ${r.inspectStatus}; whole python process ${r.inspectProcessS.toFixed(1)} s); evsys / inspect ${r.ratio.toFixed(2)} (target <= 1.00)`,
      );
      console.log(loadLine());
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
