import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BadInputError } from '../errors';
import { pushDecision, type BenchmarkStore, type BenchmarkVersion, type NewBenchmarkVersion, type PushResult } from './benchmark-store';

/**
 * Archives are keyed by content hash, so a version whose content an older one (or another
 * name) already has costs no second copy. PostgresBenchmarkStore has the same tables.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS benchmark_archives (
  content_hash TEXT PRIMARY KEY,
  archive BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS benchmarks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL REFERENCES benchmark_archives(content_hash),
  size INTEGER NOT NULL,
  n_tasks INTEGER NOT NULL,
  tags TEXT NOT NULL,
  description TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (name, version)
);
`;

const COLUMNS = 'id, name, version, kind, content_hash, size, n_tasks, tags, description, created_at';

type Row = Omit<BenchmarkVersion, 'tags'> & { tags: string };

const toVersion = (row: Row): BenchmarkVersion => ({ ...row, tags: JSON.parse(row.tags) });

export interface SqliteBenchmarkStoreOptions {
  /** Create the file when it does not exist (a push); otherwise a missing file is an error, not an empty store. */
  create?: boolean;
  /** Read only (the dashboard): nothing is written, not even the tables. */
  readonly?: boolean;
}

/** Benchmarks in the SQLite results store (one file beside the eval records, which the dashboard reads). */
export class SqliteBenchmarkStore implements BenchmarkStore {
  private readonly db: Database.Database;
  readonly address: string;
  /** A store written before benchmarks existed has no tables (yet: a read-only reader looks again): it holds none. */
  private tablesSeen = false;

  constructor(file: string, opts: SqliteBenchmarkStoreOptions = {}) {
    this.address = file;
    if (!opts.create && !existsSync(file)) {
      throw new BadInputError(`no store at ${path.resolve(file)}: \`evsys benchmark push\` creates one (a worker on another machine needs a postgres:// or http(s):// store)`);
    }
    if (opts.create) mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file, { readonly: opts.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.exec(SCHEMA);
    }
  }

  private get hasTables(): boolean {
    this.tablesSeen ||= Boolean(this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'benchmarks'").get());
    return this.tablesSeen;
  }

  async push(benchmark: NewBenchmarkVersion): Promise<PushResult> {
    // IMMEDIATE: two pushes of one name take turns, so each sees the other's version.
    const write = this.db.transaction((): PushResult => {
      const [latest] = this.versionsNow(benchmark.name);
      const decision = pushDecision(latest, benchmark);
      if (decision.outcome === 'unchanged') return { outcome: 'unchanged', version: latest! };
      if (decision.outcome === 'retagged') {
        this.db.prepare('UPDATE benchmarks SET tags = ? WHERE id = ?').run(JSON.stringify(decision.tags), latest!.id);
        return { outcome: 'retagged', version: this.byIdNow(latest!.id)! };
      }
      this.db.prepare('INSERT OR IGNORE INTO benchmark_archives (content_hash, archive) VALUES (?, ?)').run(benchmark.content_hash, benchmark.archive);
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO benchmarks (name, version, kind, content_hash, size, n_tasks, tags, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(benchmark.name, decision.version, benchmark.kind, benchmark.content_hash, benchmark.archive.length, benchmark.n_tasks, JSON.stringify(decision.tags), benchmark.description);
      return { outcome: 'created', version: this.byIdNow(Number(lastInsertRowid))! };
    });
    return write.immediate();
  }

  async list(): Promise<BenchmarkVersion[]> {
    if (!this.hasTables) return [];
    return (this.db.prepare(`SELECT ${COLUMNS} FROM benchmarks ORDER BY name, version DESC`).all() as Row[]).map(toVersion);
  }

  async versionsOf(name: string): Promise<BenchmarkVersion[]> {
    return this.versionsNow(name);
  }

  async byId(id: number): Promise<BenchmarkVersion | undefined> {
    return this.byIdNow(id);
  }

  async archive(id: number): Promise<Buffer | undefined> {
    if (!this.hasTables) return undefined;
    const row = this.db
      .prepare('SELECT a.archive FROM benchmarks b JOIN benchmark_archives a ON a.content_hash = b.content_hash WHERE b.id = ?')
      .get(id) as { archive: Buffer } | undefined;
    return row?.archive;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private versionsNow(name: string): BenchmarkVersion[] {
    if (!this.hasTables) return [];
    return (this.db.prepare(`SELECT ${COLUMNS} FROM benchmarks WHERE name = ? ORDER BY version DESC`).all(name) as Row[]).map(toVersion);
  }

  private byIdNow(id: number): BenchmarkVersion | undefined {
    if (!this.hasTables) return undefined;
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM benchmarks WHERE id = ?`).get(id) as Row | undefined;
    return row && toVersion(row);
  }
}
