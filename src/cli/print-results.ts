import type { EvaluateBenchmarkResult } from '../workflows/io';
import { formatMetrics } from './progress';

function reportUpload(result: EvaluateBenchmarkResult): void {
  const upload = result.upload;
  if (upload.status === 'failed') console.error(`${result.evaluator}: upload failed (the eval did not): ${upload.error}`);
  else if (upload.status === 'ok') console.error(`${result.evaluator}: uploaded eval record ${upload.eval_record_id} with ${upload.predictions} predictions`);
}

/**
 * The evals' metrics on stdout: a table each for people, or with `json` nothing but one JSON
 * line: one entry's metric dict, or several keyed by evaluator name. Uploads are told on stderr.
 */
export function printResults(results: EvaluateBenchmarkResult[], json: boolean): void {
  if (json) {
    const metrics = results.length === 1 ? results[0].metrics : Object.fromEntries(results.map((r) => [r.evaluator, r.metrics]));
    process.stdout.write(`${JSON.stringify(metrics)}\n`);
  }
  for (const result of results) {
    if (!json) {
      const { name, version, id, n_tasks } = result.benchmark;
      console.log(`${result.evaluator} on ${name}${version ? ` version ${version} (id ${id})` : ''} (${n_tasks} tasks), step ${result.step}`);
      console.log(`workflow ${result.eval_id}`);
      console.log(formatMetrics(result.metrics));
    }
    reportUpload(result);
  }
}
