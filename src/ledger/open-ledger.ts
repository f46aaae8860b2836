import path from 'node:path';
import { PostgresLedger } from './postgres-ledger';
import { SqliteLedger } from './sqlite-ledger';
import type { SampleLedger } from './types';

/**
 * The worker's `EVSYS_LEDGER`: a `postgres://` or `postgresql://` URL, for one ledger shared by
 * workers on several machines, or the path of a SQLite file, shared by the workers of one
 * machine (relative paths resolve against the working directory; `:memory:` is kept as is).
 */
export function openLedger(spec: string): SampleLedger {
  if (/^postgres(ql)?:\/\//i.test(spec)) return new PostgresLedger(spec);
  return new SqliteLedger(spec === ':memory:' ? spec : path.resolve(spec));
}
