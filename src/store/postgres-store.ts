import { Pool } from 'pg';
import type { EvalRecord, PredictionRow, ResultsStore } from './types';

// The tables of SqliteResultsStore, in PostgreSQL types.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS evals (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  benchmark_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  split TEXT,
  metrics JSONB NOT NULL,
  workflow_id TEXT NOT NULL,
  verifier_version TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  benchmark_hash TEXT,
  stored_benchmark_id BIGINT
);
CREATE UNIQUE INDEX IF NOT EXISTS evals_by_key ON evals (run_id, benchmark_id, step, COALESCE(split, ''));
CREATE TABLE IF NOT EXISTS predictions (
  eval_id BIGINT NOT NULL REFERENCES evals(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  task_id TEXT NOT NULL,
  sample_idx INTEGER NOT NULL,
  step INTEGER NOT NULL,
  instruction TEXT NOT NULL,
  expected JSONB,
  completion TEXT NOT NULL,
  reward DOUBLE PRECISION,
  metadata JSONB NOT NULL,
  PRIMARY KEY (eval_id, task_id, sample_idx)
);
`;

/** Serialises the first upload's table creation across every worker (see PostgresLedger). */
const SCHEMA_LOCK_KEY = 0x65767372; // "evsr"
/** Rows per INSERT: PostgreSQL allows 65,535 parameters a statement, 10 a row here. */
const ROWS_PER_INSERT = 1000;

/** A results store that dashboards on other machines can read: SQLite's tables in PostgreSQL. */
export class PostgresResultsStore implements ResultsStore {
  private readonly pool: Pool;

  constructor(url: string) {
    this.pool = new Pool({ connectionString: url, application_name: 'evsys-store', max: 2 });
    this.pool.on('error', (err) => console.warn(`evsys results store: idle connection lost: ${err.message}`));
  }

  async recordEval(record: EvalRecord, predictions: PredictionRow[]): Promise<string> {
    const db = await this.pool.connect();
    try {
      // One transaction: the whole eval or nothing, never orphans; an upload of the same
      // (run, benchmark, step, split) replaces the previous record and its predictions.
      await db.query('BEGIN');
      await db.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await db.query(SCHEMA);
      // Before Harbor trials without a valid reward were kept, every prediction had one.
      await db.query('ALTER TABLE predictions ALTER COLUMN reward DROP NOT NULL');
      // Stores written before evals named the content (and the stored version) they scored.
      await db.query('ALTER TABLE evals ADD COLUMN IF NOT EXISTS benchmark_hash TEXT, ADD COLUMN IF NOT EXISTS stored_benchmark_id BIGINT');
      await db.query(
        "DELETE FROM evals WHERE run_id = $1 AND benchmark_id = $2 AND step = $3 AND COALESCE(split, '') = COALESCE($4, '')",
        [record.run_id, record.benchmark_id, record.step, record.split],
      );
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO evals (run_id, benchmark_id, step, split, metrics, workflow_id, verifier_version, benchmark_hash, stored_benchmark_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          record.run_id, record.benchmark_id, record.step, record.split, JSON.stringify(record.metrics), record.workflow_id,
          record.verifier_version, record.benchmark_hash ?? null, record.stored_benchmark_id ?? null,
        ],
      );
      const evalId = rows[0].id;
      for (let start = 0; start < predictions.length; start += ROWS_PER_INSERT) {
        const chunk = predictions.slice(start, start + ROWS_PER_INSERT);
        const values = chunk.map((_, row) => `(${Array.from({ length: 10 }, (__, col) => `$${row * 10 + col + 1}`).join(', ')})`);
        await db.query(
          `INSERT INTO predictions (eval_id, kind, task_id, sample_idx, step, instruction, expected, completion, reward, metadata)
           VALUES ${values.join(', ')}`,
          chunk.flatMap((p) => [
            evalId, p.kind, p.task_id, p.sample_idx, p.step, p.instruction,
            JSON.stringify(p.expected ?? null), p.completion, p.reward, JSON.stringify(p.metadata),
          ]),
        );
      }
      await db.query('COMMIT');
      return evalId;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      db.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
