import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { addColumns, allowNull } from '../sqlite-nullable';
import type { EvalRecord, PredictionRow, ResultsStore } from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS evals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  benchmark_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  split TEXT,
  metrics TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  verifier_version TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  benchmark_hash TEXT,
  stored_benchmark_id INTEGER
);
CREATE TABLE IF NOT EXISTS predictions (
  eval_id INTEGER NOT NULL REFERENCES evals(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  task_id TEXT NOT NULL,
  sample_idx INTEGER NOT NULL,
  step INTEGER NOT NULL,
  instruction TEXT NOT NULL,
  expected TEXT,
  completion TEXT NOT NULL,
  reward REAL,
  metadata TEXT NOT NULL,
  PRIMARY KEY (eval_id, task_id, sample_idx)
);
CREATE UNIQUE INDEX IF NOT EXISTS evals_by_key ON evals (run_id, benchmark_id, step, COALESCE(split, ''));
`;

/** The embedded results store: one SQLite file that the dashboard reads. */
export class SqliteResultsStore implements ResultsStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    // Before Harbor trials without a valid reward were kept, every prediction had one.
    allowNull(this.db, 'predictions', 'reward', 'REAL');
    // Stores written before evals named the content (and the stored version) they scored.
    addColumns(this.db, 'evals', { benchmark_hash: 'TEXT', stored_benchmark_id: 'INTEGER' });
  }

  async recordEval(record: EvalRecord, predictions: PredictionRow[]): Promise<string> {
    const insertEval = this.db.prepare(
      `INSERT INTO evals (run_id, benchmark_id, step, split, metrics, workflow_id, verifier_version, benchmark_hash, stored_benchmark_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertPrediction = this.db.prepare(`
      INSERT INTO predictions (eval_id, kind, task_id, sample_idx, step, instruction, expected, completion, reward, metadata)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // One record per (run, benchmark, step, split): an eval uploaded again (a retry, a
    // rescore) replaces the old record and its predictions.
    const deletePrevious = this.db.prepare(
      "DELETE FROM evals WHERE run_id = ? AND benchmark_id = ? AND step = ? AND COALESCE(split, '') = COALESCE(?, '')",
    );
    // One transaction: a crash leaves either the whole eval or nothing, never orphans.
    const write = this.db.transaction(() => {
      deletePrevious.run(record.run_id, record.benchmark_id, record.step, record.split);
      const { lastInsertRowid } = insertEval.run(
        record.run_id,
        record.benchmark_id,
        record.step,
        record.split,
        JSON.stringify(record.metrics),
        record.workflow_id,
        record.verifier_version,
        record.benchmark_hash ?? null,
        record.stored_benchmark_id ?? null,
      );
      for (const p of predictions) {
        insertPrediction.run(
          lastInsertRowid,
          p.kind,
          p.task_id,
          p.sample_idx,
          p.step,
          p.instruction,
          JSON.stringify(p.expected ?? null),
          p.completion,
          p.reward,
          JSON.stringify(p.metadata),
        );
      }
      return String(lastInsertRowid);
    });
    return write();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
