import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { EvalRecord } from '../store/types';

/** One row of the store's `evals` table: the uploaded record, its metrics parsed, and its key. */
/** What "failed only" shows: samples that did not pass, those without a valid reward included. */
const FAILED = ' AND (reward < 1 OR reward IS NULL)';

export interface EvalRow extends EvalRecord {
  id: number;
  created_at: string;
}

export interface RunSummary {
  run_id: string;
  n_evals: number;
  last_step: number;
  benchmarks: string;
  last_at: string;
}

export interface PredictionView {
  task_id: string;
  sample_idx: number;
  instruction: string;
  expected: unknown;
  completion: string;
  /** null: the sample ended without a valid reward. */
  reward: number | null;
  metadata: Record<string, unknown>;
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

type RawEval = Omit<EvalRow, 'metrics'> & { metrics: string };

function toEval(row: RawEval): EvalRow {
  return { ...row, metrics: parseJson<Record<string, number>>(row.metrics, {}) };
}

/** The dashboard's read-only view of the SQLite results store that uploads write. */
export class StoreReader {
  private readonly db: Database.Database;

  constructor(file: string) {
    if (!existsSync(file)) throw new Error(`no results store at ${file}`);
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    // The writer holds the WAL lock now and then; wait instead of failing the page.
    this.db.pragma('busy_timeout = 5000');
  }

  runs(): RunSummary[] {
    return this.db
      .prepare(
        `SELECT run_id, COUNT(*) AS n_evals, MAX(step) AS last_step,
                GROUP_CONCAT(DISTINCT benchmark_id) AS benchmarks, MAX(created_at) AS last_at
         FROM evals GROUP BY run_id ORDER BY last_at DESC`,
      )
      .all() as RunSummary[];
  }

  evalsOfRun(runId: string): EvalRow[] {
    const rows = this.db.prepare('SELECT * FROM evals WHERE run_id = ? ORDER BY step, id').all(runId) as RawEval[];
    return rows.map(toEval);
  }

  /** The evals uploaded here that scored this stored benchmark version, newest first. */
  evalsOfStoredBenchmark(storedId: number): EvalRow[] {
    // A store no eval of a stored benchmark was uploaded to may predate the column.
    const columns = this.db.prepare('PRAGMA table_info(evals)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'stored_benchmark_id')) return [];
    return (this.db.prepare('SELECT * FROM evals WHERE stored_benchmark_id = ? ORDER BY id DESC').all(storedId) as RawEval[]).map(toEval);
  }

  evalById(id: number): EvalRow | undefined {
    const row = this.db.prepare('SELECT * FROM evals WHERE id = ?').get(id) as RawEval | undefined;
    return row && toEval(row);
  }

  countPredictions(evalId: number, failedOnly: boolean): number {
    const sql = `SELECT COUNT(*) AS n FROM predictions WHERE eval_id = ?${failedOnly ? FAILED : ''}`;
    return (this.db.prepare(sql).get(evalId) as { n: number }).n;
  }

  predictions(evalId: number, failedOnly: boolean, limit: number, offset: number): PredictionView[] {
    const sql = `SELECT task_id, sample_idx, instruction, expected, completion, reward, metadata FROM predictions
                 WHERE eval_id = ?${failedOnly ? FAILED : ''} ORDER BY task_id, sample_idx LIMIT ? OFFSET ?`;
    const rows = this.db.prepare(sql).all(evalId, limit, offset) as Array<Omit<PredictionView, 'expected' | 'metadata'> & { expected: string | null; metadata: string }>;
    return rows.map((row) => ({
      ...row,
      expected: parseJson<unknown>(row.expected, null),
      metadata: parseJson<Record<string, unknown>>(row.metadata, {}),
    }));
  }

  close(): void {
    this.db.close();
  }
}
