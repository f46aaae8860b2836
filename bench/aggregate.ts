// Times metric aggregation over 100,000 tasks x 16 samples with 3 breakdown keys: the default
// metrics, then pass@k / pass^k with standard errors on.
// Target (issues 3 and 7): under 1 s each. Run: npx tsx bench/aggregate.ts [tasks] [samples]
import { aggregateMetrics, type AggregateOptions, type TaskScores } from '../src/metrics';

const nTasks = Number(process.argv[2] ?? 100_000);
const nSamples = Number(process.argv[3] ?? 16);
const tasks: TaskScores[] = Array.from({ length: nTasks }, (_, i) => ({
  taskId: `t${i}`,
  rewards: Array.from({ length: nSamples }, (_, s) => ((i * 31 + s * 7) % 5 === 0 ? 1 : 0)),
  erroredSamples: 0,
  metadata: { difficulty: ['easy', 'medium', 'hard'][i % 3], source: { name: `s${i % 11}` }, lang: i % 2 ? 'en' : 'fr' },
}));
const breakdownKeys = ['difficulty', 'source.name', 'lang'];
const scenarios: Array<[string, AggregateOptions]> = [
  ['default metrics', { metrics: ['mean_reward', 'pass_rate'], breakdownKeys }],
  ['pass@k, stderr on', { metrics: ['mean_reward', 'pass_rate', 'pass@1', 'pass@8', 'pass^8'], breakdownKeys, stderr: true }],
];

console.log(`command: npx tsx bench/aggregate.ts ${nTasks} ${nSamples}`);
for (const [label, options] of scenarios) {
  aggregateMetrics(tasks, options); // warm-up: JIT, not the data
  const runs = 5;
  const timesMs: number[] = [];
  const cpuMs: number[] = [];
  let metricCount = 0;
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    metricCount = Object.keys(aggregateMetrics(tasks, options)).length;
    const cpu = process.cpuUsage(cpuStarted);
    timesMs.push(performance.now() - started);
    cpuMs.push((cpu.user + cpu.system) / 1000);
  }
  timesMs.sort((a, b) => a - b);
  cpuMs.sort((a, b) => a - b);
  console.log(
    `${label}: ${nTasks} tasks x ${nSamples} samples, 3 breakdown keys -> ${metricCount} metrics; ` +
      `wall median ${timesMs[Math.floor(runs / 2)].toFixed(1)} ms, min ${timesMs[0].toFixed(1)} ms, ` +
      `max ${timesMs[runs - 1].toFixed(1)} ms (target < 1000 ms); ` +
      // On a shared machine wall time includes waiting for a core; CPU time is the work itself.
      `cpu median ${cpuMs[Math.floor(runs / 2)].toFixed(1)} ms`,
  );
}
