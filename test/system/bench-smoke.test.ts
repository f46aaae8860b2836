import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCrashCost } from '../../bench/crash-cost';
import { runEfficiency } from '../../bench/efficiency';
import { runHarborTrials } from '../../bench/harbor-trials';
import { runPeerInspect } from '../../bench/peer-inspect';
import { runScale } from '../../bench/scale';
import { canCreateHosts } from '../../testkit/hosts';
import { HARBOR_NETWORKED } from '../helpers/prerequisites';
import { lacks } from '../helpers/requires';

/**
 * Tiny versions of the benchmark scripts, through the functions their CLIs call: they must run
 * to the end and return sane numbers. Nothing here is timed against a target (see BENCHMARKS.md).
 * The Inspect AI peer runs in the project venv, which the test setup fills from bench/requirements.txt.
 */

const sane = (x: number) => Number.isFinite(x) && x > 0;

/** A bench script as its user runs it; a script that does not exit fails the test at its timeout. */
function runBenchCli(script: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [path.join('node_modules', 'tsx', 'dist', 'cli.mjs'), path.join('bench', script), ...args], {
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, ...env },
  });
}

describe('benchmark scripts, tiny', () => {
  it('efficiency and durability overhead: 20 tasks x 2 samples, 5 ms, n_concurrent 8', async () => {
    const [r] = await runEfficiency({ tasks: 20, samples: 2, latencyMs: 5, concurrencies: [8], plain: true });
    expect(r.nTasks).toBe(20);
    expect(r.errored).toBe(0);
    expect(r.maxSimConcurrency).toBeLessThanOrEqual(8);
    expect(sane(r.wallS) && sane(r.limitS) && sane(r.efficiency)).toBe(true);
    expect(r.efficiency).toBeLessThanOrEqual(1.05);
    expect(r.evsys.meanInFlight).toBeGreaterThan(0);
    expect(r.evsys.meanInFlight).toBeLessThanOrEqual(8);
    expect(sane(r.plain!.wallS) && sane(r.plain!.overhead)).toBe(true);
  }, 120_000);

  it.skipIf(lacks('python'))('peer: Inspect AI scores 10 tasks x 2 samples on the same simulator, 5 ms, n_concurrent 4', async () => {
    const r = await runPeerInspect({ tasks: 10, samples: 2, latencyMs: 5, concurrency: 4 });
    expect(r.inspectStatus).toBe('success');
    expect(r.inspectAccuracy).toBeGreaterThanOrEqual(0);
    expect(sane(r.evsysWallS) && sane(r.inspectWallS) && sane(r.ratio)).toBe(true);
  }, 180_000);

  it('scale: 20 tasks x 2 samples, 5 ms, n_concurrent 8', async () => {
    const r = await runScale({ tasks: 20, samples: 2, latencyMs: 5, concurrency: 8 });
    expect(r.nTasks).toBe(20);
    expect(r.errored).toBe(0);
    expect(r.simRequests).toBe(40);
    expect(r.runs.length).toBeGreaterThanOrEqual(1);
    expect(sane(r.wallS) && sane(r.workerPeakRssMiB)).toBe(true);
  }, 120_000);

  it.skipIf(lacks('llama'))('real model: 3 tasks on llama.cpp, once at n_concurrent 1, through its CLI', () => {
    const out = runBenchCli('real-model.ts', ['1', '1', '1', '3']);
    expect(out).toMatch(/^command: npx tsx bench\/real-model.ts 1 1 1 3$/m);
    expect(out).toMatch(/^n_concurrent 1 median: overhead -?\d+ ms\/request \(idle plain [\d.]+ s, evsys [\d.]+ s\)/m);
  }, 150_000);

  it('aggregate: 1,000 tasks x 4 samples through its CLI', () => {
    const out = runBenchCli('aggregate.ts', ['1000', '4']);
    expect(out).toMatch(/^command: npx tsx bench\/aggregate.ts 1000 4$/m);
    expect(out.match(/wall median [\d.]+ ms/g)).toHaveLength(2);
  }, 60_000);

  it('compare: calibration over 50 simulated pairs, and a comparison of two 1,000-task evals, through their CLIs', () => {
    const calibration = runBenchCli('compare-calibration.ts', ['50', '100']);
    expect(calibration).toMatch(/^command: npx tsx bench\/compare-calibration.ts 50 100$/m);
    expect(calibration.match(/interval excludes 0 in \d+ \([\d.]+%\)/g)).toHaveLength(3);
    const speed = runBenchCli('compare-speed.ts', ['1000', '2']);
    expect(speed.match(/1000 tasks x 2 samples, 12 metrics, \d+ resamples: wall [\d.]+ s, CPU [\d.]+ s/g)).toHaveLength(2);
  }, 120_000);

  it('fleet slots: 200 requests through each gate, on SQLite and PostgreSQL, through its CLI', () => {
    const out = runBenchCli('fleet-slots.ts', ['200']);
    expect(out).toMatch(/^per-process gate \(KeyedSlots\), busy: [\d.]+ us a request$/m);
    for (const ledger of ['sqlite', 'postgres']) {
      expect(out).toMatch(new RegExp(`^fleet slots on ${ledger}: busy [\\d.]+ us a request .* one slot between two processes: \\d+ us from a release to the other's grant \\(median of \\d+\\)$`, 'm'));
    }
  }, 120_000);

  // The production path: evsys worker processes, the CLI as client, a server evsys did not tune
  // but for the dynamic config given (here the one that BENCHMARKS.md's figures vary).
  for (const server of ['dev', 'self-hosted'] as const) {
    it.skipIf(server === 'self-hosted' && lacks('temporal-server'))(`fleet: 20 tasks, one evsys worker, a ${server} server with an operator's dynamic config, through its CLI`, () => {
      const out = runBenchCli('fleet.ts', ['20', '1', '5', '4', '1', '1', '--server', server], { EVSYS_BENCH_SERVER_CONFIG: 'history.transferProcessorMaxPollRPS=200' });
      expect(out).toMatch(/^command: EVSYS_BENCH_SERVER_CONFIG='history.transferProcessorMaxPollRPS=200' npx tsx bench\/fleet.ts 20 1 5 4 1 1 --server /m);
      expect(out).toMatch(/with the dynamic config given/);
      expect(out).toMatch(/^eval 1 \(cold workers\): [\d.]+ efficiency \(eval [\d.]+ s from its history.*n_tasks 20, errored 0;/m);
      expect(out).toMatch(/^plain keep-alive pool: [\d.]+ efficiency/m);
    }, 180_000);
  }

  it.skipIf(!canCreateHosts().ok || lacks('iproute2'))('hosts: 60 tasks on 1 and 2 worker hosts of network namespaces, through its CLI, which exits', () => {
    const out = runBenchCli('hosts.ts', ['60', '1', '5', '8', '1,2']);
    for (const hosts of [1, 2]) {
      expect(out).toMatch(new RegExp(`^${hosts} worker host\\(s\\): wall [\\d.]+ s, [\\d.]+ tasks/s, efficiency [\\d.]+, peak in flight [1-8], errored 0;`, 'm'));
    }
  }, 180_000);

  it('crash cost: 20 tasks x 2 samples, worker SIGKILLed half way, metrics as uninterrupted', async () => {
    const r = await runCrashCost({ tasks: 20, samples: 2, latencyMs: 20, concurrency: 4 });
    expect(r.metricsEqual).toBe(true);
    expect(r.tasksDoneAtKill).toBeGreaterThanOrEqual(10);
    expect(r.samplesDrawnTwice).toBeGreaterThanOrEqual(0);
    expect(r.samplesDrawnTwice).toBeLessThanOrEqual(4 * 2);
    expect(sane(r.uninterruptedS) && sane(r.crashedS)).toBe(true);
  }, 180_000);

  it.skipIf(lacks(...HARBOR_NETWORKED))('harbor trials: the 3 example tasks x 1 sample, n_concurrent 2, single-turn agent', async () => {
    const [r] = await runHarborTrials({ samples: 1, latencyMs: 5, concurrencies: [2], agents: ['single_turn'], plain: false });
    expect(r).toMatchObject({ trials: 3, errored: 0 });
    expect(sane(r.trialsPerS)).toBe(true);
  }, 60_000);
});
