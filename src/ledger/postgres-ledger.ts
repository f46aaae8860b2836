import { Pool, type PoolClient } from 'pg';
import { pagedScores, SCORE_COLUMNS, type SampleScore } from './scores';
import { PostgresSlotLeases } from './postgres-slots';
import { fromRow, LATER_COLUMNS, LEDGER_COLUMNS, toRow, type SampleLedger, type SampleRecord } from './types';

// The same table as SqliteLedger's. DOUBLE PRECISION, not REAL (float4 in PostgreSQL), so
// rewards and latencies come back as the numbers that went in.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS samples (
  eval_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  task_index INTEGER NOT NULL,
  sample_idx INTEGER NOT NULL,
  stamp TEXT NOT NULL,
  completion TEXT NOT NULL,
  reasoning TEXT,
  answer TEXT,
  reward DOUBLE PRECISION,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  latency_s DOUBLE PRECISION NOT NULL,
  attempts INTEGER NOT NULL,
  verifier_version TEXT NOT NULL,
  finish_reason TEXT,
  details TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (eval_id, task_id, sample_idx, stamp)
);
CREATE INDEX IF NOT EXISTS samples_by_eval ON samples (eval_id, stamp, task_index, sample_idx);
`;

/**
 * Serialises table creation across every worker on every machine. Two concurrent
 * `CREATE TABLE IF NOT EXISTS` can both pass the existence check and one then fails on a
 * catalog unique index; the lock makes the second wait and find the table.
 */
const SCHEMA_LOCK_KEY = 0x65767379; // "evsy"

const SELECT_LIST = LEDGER_COLUMNS.join(', ');
const SELECT_TASK = `SELECT ${SELECT_LIST} FROM samples
  WHERE eval_id = $1 AND task_id = $2 AND stamp = $3 ORDER BY sample_idx`;
const SELECT_EVAL = `SELECT ${SELECT_LIST} FROM samples
  WHERE eval_id = $1 AND stamp = $2 ORDER BY task_index, sample_idx`;
const SELECT_SCORES = `SELECT ${SCORE_COLUMNS.join(', ')} FROM samples
  WHERE eval_id = $1 AND stamp = $2 AND (task_index, sample_idx) > ($3, $4) ORDER BY task_index, sample_idx LIMIT $5`;
// Same effect as SQLite's INSERT OR REPLACE: a re-recorded sample replaces the row, created_at included.
const UPSERT = `INSERT INTO samples (${SELECT_LIST})
  VALUES (${LEDGER_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (eval_id, task_id, sample_idx, stamp) DO UPDATE SET
  ${LEDGER_COLUMNS.slice(4).map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, created_at = now()`;

/**
 * The shared ledger: one PostgreSQL table that workers on several machines read and write, so
 * a task retried on another machine still finds the samples the first one finished.
 */
export class PostgresLedger implements SampleLedger {
  private readonly pool: Pool;
  readonly slots: PostgresSlotLeases;
  private schema: Promise<void> | undefined;
  private closed = false;
  /** Connections not yet closed: pool.end() resolves before their sockets do. */
  private connections = 0;
  private lastConnectionClosed: (() => void) | undefined;

  /** `url`: a libpq-style connection string, `postgres://user:password@host:5432/db`. */
  constructor(url: string) {
    this.pool = new Pool({ connectionString: url, application_name: 'evsys' });
    this.slots = new PostgresSlotLeases(url);
    // An idle connection that the server drops (restart, failover) emits 'error' on the pool; unheard,
    // it would crash the worker. The pool discards that connection and the next query opens another.
    this.pool.on('error', (err) => console.warn(`evsys ledger: idle PostgreSQL connection lost: ${err.message}`));
    this.pool.on('connect', () => this.connections++);
    this.pool.on('remove', () => {
      if (--this.connections === 0) this.lastConnectionClosed?.();
    });
  }

  async samplesOf(ledgerKey: string, taskId: string, stamp: string): Promise<SampleRecord[]> {
    await this.ensureSchema();
    return (await this.pool.query(SELECT_TASK, [ledgerKey, taskId, stamp])).rows.map(fromRow);
  }

  async record(sample: SampleRecord): Promise<void> {
    await this.ensureSchema();
    const row = toRow(sample);
    await this.pool.query(UPSERT, LEDGER_COLUMNS.map((c) => row[c]));
  }

  async samplesOfEval(ledgerKey: string, stamp: string): Promise<SampleRecord[]> {
    await this.ensureSchema();
    return (await this.pool.query(SELECT_EVAL, [ledgerKey, stamp])).rows.map(fromRow);
  }

  scoresOfEval(ledgerKey: string, stamp: string): AsyncIterable<SampleScore> {
    return pagedScores(async (after, limit) => {
      await this.ensureSchema();
      return (await this.pool.query<SampleScore>(SELECT_SCORES, [ledgerKey, stamp, after.task_index, after.sample_idx, limit])).rows;
    });
  }

  /** Resolves once every connection is closed (or after 5 s for one the network left hanging). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.slots.close();
    const allClosed = new Promise<void>((resolve) => {
      this.lastConnectionClosed = resolve;
      if (this.connections === 0) resolve();
    });
    await this.pool.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allClosed, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
  }

  /**
   * Creates the table on first use (the constructor cannot wait). A failure is not cached: the
   * next call (an activity retry) tries again, e.g. once the database is reachable.
   */
  private ensureSchema(): Promise<void> {
    this.schema ??= this.createSchema().catch((err: unknown) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  private async createSchema(): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // Checked first so a role that may use the table but not create in the schema still works.
      if ((await missingColumns(client)).length === 0 && (await rewardNullable(client))) return;
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
        await client.query(SCHEMA);
        // A table an earlier evsys created lacks newer columns; its samples stay usable.
        for (const column of await missingColumns(client)) await client.query(`ALTER TABLE samples ADD COLUMN ${column} TEXT`);
        // Before Harbor trials without a valid reward were kept, every sample had one.
        await client.query('ALTER TABLE samples ALTER COLUMN reward DROP NOT NULL');
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } finally {
      // A connection that could not roll back is destroyed, not returned to the pool mid-transaction.
      client.release(broken);
    }
  }
}

async function rewardNullable(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ is_nullable: string }>(
    `SELECT is_nullable FROM information_schema.columns WHERE table_name = 'samples' AND column_name = 'reward' AND table_schema = current_schema()`,
  );
  return rows[0]?.is_nullable === 'YES';
}

/** The later columns the table lacks; all of them when there is no table yet. */
async function missingColumns(client: PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'samples' AND table_schema = current_schema()`,
  );
  const present = new Set(rows.map((r) => r.column_name));
  return present.size === 0 ? [...LATER_COLUMNS] : LATER_COLUMNS.filter((c) => !present.has(c));
}
