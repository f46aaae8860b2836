import type Database from 'better-sqlite3';

/**
 * Lets `column` of `table` hold NULL in a SQLite file an earlier evsys created with it
 * NOT NULL: SQLite cannot drop a constraint in place, so the table is rebuilt under its own
 * definition minus the constraint, rows and indexes kept, in one transaction (other processes
 * wait on the busy timeout). Nothing happens when the column already allows NULL.
 */
export function allowNull(db: Database.Database, table: string, column: string, type: string): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined;
  const notNull = new RegExp(`\\b${column} ${type} NOT NULL\\b`);
  if (!row || !notNull.test(row.sql)) return;
  const indexes = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table) as { sql: string }[];
  db.transaction(() => {
    const rebuilt = `${table}_rebuilt`;
    db.exec(row.sql.replace(new RegExp(`^CREATE TABLE (IF NOT EXISTS )?"?${table}"?`), `CREATE TABLE ${rebuilt}`).replace(notNull, `${column} ${type}`));
    db.exec(`INSERT INTO ${rebuilt} SELECT * FROM ${table}`);
    db.exec(`DROP TABLE ${table}`);
    db.exec(`ALTER TABLE ${rebuilt} RENAME TO ${table}`);
    for (const index of indexes) db.exec(index.sql);
  })();
}

/** Adds the columns `table` lacks (a file an earlier evsys created); each must allow NULL, as old rows have none. */
export function addColumns(db: Database.Database, table: string, columns: Record<string, string>): void {
  const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
  for (const [column, type] of Object.entries(columns)) {
    if (!present.has(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}
