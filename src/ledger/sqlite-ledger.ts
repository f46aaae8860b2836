import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { allowNull } from '../sqlite-nullable';
import { pagedScores, SCORE_COLUMNS, type SampleScore } from './scores';
import { SqliteSlotLeases } from './sqlite-slots';
import { fromRow, LATER_COLUMNS, LEDGER_COLUMNS, toRow, type SampleLedger, type SampleRecord } from './types';

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
  reward REAL,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  latency_s REAL NOT NULL,
  attempts INTEGER NOT NULL,
  verifier_version TEXT NOT NULL,
  finish_reason TEXT,
  details TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (eval_id, task_id, sample_idx, stamp)
);
CREATE INDEX IF NOT EXISTS samples_by_eval ON samples (eval_id, stamp, task_index, sample_idx);
`;

/** The embedded ledger: one SQLite file, shared by the worker processes of one machine. */
export class SqliteLedger implements SampleLedger {
  private readonly db: Database.Database;
  private readonly selectTask: Database.Statement;
  private readonly selectEval: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly selectScores: Database.Statement;
  readonly slots: SqliteSlotLeases;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    // WAL lets a second worker process read and write while this one does.
    this.db.pragma('journal_mode = WAL');
    // Under WAL, NORMAL loses no commit to a process crash (the case the ledger exists for), only
    // possibly the last ones to a power cut, which would just be drawn again; FULL would fsync
    // every sample on the event loop the workflow activations share.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.addColumnsOfLaterVersions();
    // Before Harbor trials without a valid reward were kept, every sample had one.
    allowNull(this.db, 'samples', 'reward', 'REAL');
    this.selectTask = this.db.prepare(
      'SELECT * FROM samples WHERE eval_id = ? AND task_id = ? AND stamp = ? ORDER BY sample_idx',
    );
    this.selectEval = this.db.prepare(
      'SELECT * FROM samples WHERE eval_id = ? AND stamp = ? ORDER BY task_index, sample_idx',
    );
    this.selectScores = this.db.prepare(
      `SELECT ${SCORE_COLUMNS.join(', ')} FROM samples WHERE eval_id = ? AND stamp = ? AND (task_index, sample_idx) > (?, ?) ORDER BY task_index, sample_idx LIMIT ?`,
    );
    this.upsert = this.db.prepare(
      `INSERT OR REPLACE INTO samples (${LEDGER_COLUMNS.join(', ')}) VALUES (${LEDGER_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.slots = new SqliteSlotLeases(this.db);
  }

  /** A ledger written by an earlier evsys lacks newer columns; its samples stay usable. */
  private addColumnsOfLaterVersions(): void {
    const columns = new Set((this.db.pragma('table_info(samples)') as { name: string }[]).map((c) => c.name));
    for (const column of LATER_COLUMNS) {
      if (!columns.has(column)) this.db.exec(`ALTER TABLE samples ADD COLUMN ${column} TEXT`);
    }
  }

  async samplesOf(ledgerKey: string, taskId: string, stamp: string): Promise<SampleRecord[]> {
    return (this.selectTask.all(ledgerKey, taskId, stamp) as Record<string, unknown>[]).map(fromRow);
  }

  async record(sample: SampleRecord): Promise<void> {
    this.upsert.run(toRow(sample));
  }

  async samplesOfEval(ledgerKey: string, stamp: string): Promise<SampleRecord[]> {
    return (this.selectEval.all(ledgerKey, stamp) as Record<string, unknown>[]).map(fromRow);
  }

  scoresOfEval(ledgerKey: string, stamp: string): AsyncIterable<SampleScore> {
    return pagedScores(async (after, limit) => this.selectScores.all(ledgerKey, stamp, after.task_index, after.sample_idx, limit) as SampleScore[]);
  }

  async close(): Promise<void> {
    await this.slots.close();
    this.db.close();
  }
}
