// Times metric aggregation over 100,000 tasks x 16 samples with 3 breakdown keys.
// Target (issues 3 and 7): under 1 s. Run: npx tsx bench/aggregate.ts [tasks] [samples]
import { aggregateMetrics, type TaskScores } from '../src/metrics';

const nTasks = Number(process.argv[2] ?? 100_000);
const nSamples = Number(process.argv[3] ?? 16);
const tasks: TaskScores[] = Array.from({ length: nTasks }, (_, i) => ({
  taskId: `t${i}`,
  rewards: Array.from({ length: nSamples }, (_, s) => ((i * 31 + s * 7) % 5 === 0 ? 1 : 0)),
  erroredSamples: 0,
  metadata: { difficulty: ['easy', 'medium', 'hard'][i % 3], source: { name: `s${i % 11}` }, lang: i % 2 ? 'en' : 'fr' },
}));
const options = { metrics: ['mean_reward', 'pass_rate'], breakdownKeys: ['difficulty', 'source.name', 'lang'] };

aggregateMetrics(tasks, options); // warm-up: JIT, not the data
const runs = 5;
const timesMs: number[] = [];
let metricCount = 0;
for (let r = 0; r < runs; r++) {
  const started = performance.now();
  metricCount = Object.keys(aggregateMetrics(tasks, options)).length;
  timesMs.push(performance.now() - started);
}
timesMs.sort((a, b) => a - b);
console.log(`command: npx tsx bench/aggregate.ts ${nTasks} ${nSamples}`);
console.log(`aggregate ${nTasks} tasks x ${nSamples} samples, 3 breakdown keys -> ${metricCount} metrics`);
console.log(`median ${timesMs[Math.floor(runs / 2)].toFixed(1)} ms, min ${timesMs[0].toFixed(1)} ms, max ${timesMs[runs - 1].toFixed(1)} ms (target < 1000 ms)`);
