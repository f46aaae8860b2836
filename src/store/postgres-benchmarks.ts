import { Pool, type PoolClient } from 'pg';
import { UnreachableError } from '../errors';
import { pushDecision, type BenchmarkStore, type BenchmarkVersion, type NewBenchmarkVersion, type PushResult } from './benchmark-store';
import { withoutPassword } from './store-address';

// SqliteBenchmarkStore's tables, in PostgreSQL types.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS benchmark_archives (
  content_hash TEXT PRIMARY KEY,
  archive BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS benchmarks (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL REFERENCES benchmark_archives(content_hash),
  size BIGINT NOT NULL,
  n_tasks INTEGER NOT NULL,
  tags JSONB NOT NULL,
  description TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (name, version)
);
`;

/** Serialises table creation and pushes across every client: each push sees the version before it. */
const PUSH_LOCK_KEY = 0x65767362; // "evsb"

const COLUMNS = 'id, name, version, kind, content_hash, size, n_tasks, tags, description, created_at';

interface Row {
  id: string;
  name: string;
  version: number;
  kind: BenchmarkVersion['kind'];
  content_hash: string;
  size: string;
  n_tasks: number;
  tags: BenchmarkVersion['tags'];
  description: string | null;
  created_at: Date;
}

// BIGINT comes back as a string, TIMESTAMPTZ as a Date: the shape every store returns.
const toVersion = (row: Row): BenchmarkVersion => ({
  ...row,
  id: Number(row.id),
  size: Number(row.size),
  created_at: row.created_at.toISOString(),
});

/** Node's codes for a server that is not there, and pg's own words for a connection that never came up. */
const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|timeout expired|Connection terminated/;

/** Benchmarks in PostgreSQL, beside PostgresResultsStore's eval records: a store for workers on many machines. */
export class PostgresBenchmarkStore implements BenchmarkStore {
  private readonly pool: Pool;
  readonly address: string;
  private schema: Promise<void> | undefined;

  constructor(url: string) {
    this.address = withoutPassword(url);
    this.pool = new Pool({ connectionString: url, application_name: 'evsys-benchmarks', max: 2, connectionTimeoutMillis: 10_000 });
    this.pool.on('error', (err) => console.warn(`evsys benchmark store: idle connection lost: ${err.message}`));
  }

  async push(benchmark: NewBenchmarkVersion): Promise<PushResult> {
    return this.withClient(async (db) => {
      try {
        await db.query('BEGIN');
        await db.query('SELECT pg_advisory_xact_lock($1)', [PUSH_LOCK_KEY]);
        const [latest] = await this.versionsWith(db, benchmark.name);
        const decision = pushDecision(latest, benchmark);
        let id = latest?.id;
        if (decision.outcome === 'retagged') {
          await db.query('UPDATE benchmarks SET tags = $1 WHERE id = $2', [JSON.stringify(decision.tags), id]);
        } else if (decision.outcome === 'created') {
          await db.query('INSERT INTO benchmark_archives (content_hash, archive) VALUES ($1, $2) ON CONFLICT DO NOTHING', [benchmark.content_hash, benchmark.archive]);
          const { rows } = await db.query<{ id: string }>(
            `INSERT INTO benchmarks (name, version, kind, content_hash, size, n_tasks, tags, description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
            [benchmark.name, decision.version, benchmark.kind, benchmark.content_hash, benchmark.archive.length, benchmark.n_tasks, JSON.stringify(decision.tags), benchmark.description],
          );
          id = Number(rows[0].id);
        }
        await db.query('COMMIT');
        return { outcome: decision.outcome, version: (await this.byIdWith(db, id!))! };
      } catch (err) {
        await db.query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  list(): Promise<BenchmarkVersion[]> {
    return this.withClient(async (db) => (await db.query<Row>(`SELECT ${COLUMNS} FROM benchmarks ORDER BY name, version DESC`)).rows.map(toVersion));
  }

  versionsOf(name: string): Promise<BenchmarkVersion[]> {
    return this.withClient((db) => this.versionsWith(db, name));
  }

  byId(id: number): Promise<BenchmarkVersion | undefined> {
    return this.withClient((db) => this.byIdWith(db, id));
  }

  archive(id: number): Promise<Buffer | undefined> {
    return this.withClient(async (db) => {
      const { rows } = await db.query<{ archive: Buffer }>(
        'SELECT a.archive FROM benchmarks b JOIN benchmark_archives a ON a.content_hash = b.content_hash WHERE b.id = $1',
        [id],
      );
      return rows[0]?.archive;
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async versionsWith(db: PoolClient, name: string): Promise<BenchmarkVersion[]> {
    return (await db.query<Row>(`SELECT ${COLUMNS} FROM benchmarks WHERE name = $1 ORDER BY version DESC`, [name])).rows.map(toVersion);
  }

  private async byIdWith(db: PoolClient, id: number): Promise<BenchmarkVersion | undefined> {
    const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM benchmarks WHERE id = $1`, [id]);
    return rows[0] && toVersion(rows[0]);
  }

  /** A connection with the tables in place; a server that does not answer is UnreachableError naming the store. */
  private async withClient<T>(use: (db: PoolClient) => Promise<T>): Promise<T> {
    let db: PoolClient;
    try {
      db = await this.pool.connect();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const cause = (err as { code?: string }).code ?? '';
      if (UNREACHABLE.test(`${cause} ${reason}`)) throw new UnreachableError(`the benchmark store ${this.address} is not reachable (${reason})`, { cause: err });
      throw err;
    }
    try {
      this.schema ??= this.createTables(db).catch((err) => {
        this.schema = undefined;
        throw err;
      });
      await this.schema;
      return await use(db);
    } finally {
      db.release();
    }
  }

  private async createTables(db: PoolClient): Promise<void> {
    await db.query('BEGIN');
    try {
      await db.query('SELECT pg_advisory_xact_lock($1)', [PUSH_LOCK_KEY]);
      await db.query(SCHEMA);
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
}
