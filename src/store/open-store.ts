import { HttpResultsStore } from './http-store';
import { SqliteResultsStore } from './sqlite-store';
import type { ResultsStore } from './types';

/** `store` in the config: an http(s) URL of a dashboard, or the path of a SQLite file. */
export function openResultsStore(store: string): ResultsStore {
  return /^https?:\/\//.test(store) ? new HttpResultsStore(store) : new SqliteResultsStore(store);
}
