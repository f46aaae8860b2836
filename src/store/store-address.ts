/** What kind of store an address names: `store` in the config, `--store` of the commands. */
export type StoreKind = 'http' | 'postgres' | 'sqlite';

/** An http(s) URL of a dashboard, a postgres:// URL, or else a SQLite file's path. */
export function storeKind(address: string): StoreKind {
  if (/^https?:\/\//i.test(address)) return 'http';
  if (/^postgres(ql)?:\/\//i.test(address)) return 'postgres';
  return 'sqlite';
}

/** The address as messages print it: a URL's password replaced by `***`. */
export function withoutPassword(address: string): string {
  try {
    const url = new URL(address);
    if (!url.password) return address;
    url.password = '***';
    return url.toString();
  } catch {
    return address;
  }
}
