import { HttpResultsStore } from './http-store';
import { PostgresResultsStore } from './postgres-store';
import { SqliteResultsStore } from './sqlite-store';
import type { ResultsStore } from './types';

/** `store` in the config: an http(s) URL of a dashboard, a postgres:// URL, or a SQLite file's path. */
export function openResultsStore(store: string): ResultsStore {
  if (/^https?:\/\//.test(store)) return new HttpResultsStore(store);
  if (/^postgres(ql)?:\/\//.test(store)) return new PostgresResultsStore(store);
  return new SqliteResultsStore(store);
}
