import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { SlotLease, SlotLeases } from '../concurrency/fleet-slots';
import { isAlive } from '../file-lock';

/**
 * An eval's slot n is a row (key, n) naming the process that holds it. SQLite has no session
 * that ends with a process, so a row whose holder is gone is reclaimed by the next process that
 * finds every slot taken: the holder is dead when its pid is (same pid namespace; its start
 * time guards against a reused pid), or when it stopped renewing its rows (another pid
 * namespace: a container sharing the file, whose pids mean nothing here). A process that finds
 * none free writes a want, so the others give back the slots they keep idle.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS slots (
  slot_key TEXT NOT NULL,
  slot INTEGER NOT NULL,
  holder TEXT NOT NULL,
  holder_pid INTEGER NOT NULL,
  holder_started TEXT NOT NULL,
  holder_pid_ns TEXT NOT NULL,
  renewed_at INTEGER NOT NULL,
  PRIMARY KEY (slot_key, slot)
);
CREATE TABLE IF NOT EXISTS slot_wants (
  slot_key TEXT NOT NULL,
  holder TEXT NOT NULL,
  wanted_at INTEGER NOT NULL,
  PRIMARY KEY (slot_key, holder)
);
`;

/** How processes sharing the file watch each other, in milliseconds. */
const MS = {
  /** A waiter looks for another process's release this often: a cheap read of the file's change counter... */
  watch: 2,
  /** ... and asks again at least this often: a dead holder's rows do not change the file. */
  poll: 250,
  /** Holders renew their rows this often... */
  renew: 5_000,
  /** ... and rows not renewed for this long are reclaimed by any process, whatever pid namespace it is in. */
  stale: 30_000,
  /** A waiting process refreshes its want once it is half this old; one older than this has stopped waiting. */
  wantFresh: 2_000,
  /** A holder found alive is not looked up again for this long: waiters ask often, a process table read is not free. */
  aliveCheck: 200,
} as const;

interface Holder {
  id: string;
  pid: number;
  started: string;
  pidNs: string;
}

interface SlotRow {
  slot: number;
  holder: string;
  holder_pid: number;
  holder_started: string;
  holder_pid_ns: string;
  renewed_at: number;
}

/** This process: the pid namespace and start time make its pid unambiguous on this machine. */
function thisProcess(): Holder {
  return { id: randomUUID(), pid: process.pid, started: startTimeOf(process.pid) ?? '', pidNs: pidNamespace() };
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined when it is gone or a zombie. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}


/** Fleet slots as rows of the ledger's SQLite file, for the worker processes of one machine. */
export class SqliteSlotLeases implements SlotLeases {
  private readonly me = thisProcess();
  private readonly held = new Set<SlotLease>();
  private readonly waiters = new Set<{ key: string; wake(): void }>();
  private readonly wantListeners = new Map<string, Set<() => void>>();
  private readonly lostListeners: ((leases: SlotLease[], reason: Error) => void)[] = [];
  private readonly statements: ReturnType<typeof prepare>;
  private watch: NodeJS.Timeout | undefined;
  private seenVersion = 0;
  private readonly renew: NodeJS.Timeout;
  private closed = false;
  /** When each other holder was last found alive. */
  private readonly seenAlive = new Map<string, number>();

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.statements = prepare(db);
    this.renew = setInterval(() => this.renewRows(), MS.renew).unref();
  }

  async take(key: string, limit: number, wanted: number): Promise<SlotLease[]> {
    const s = this.statements;
    // Read first, write only when a slot may be had (or a want is due): waiting processes look often.
    if ((s.count.get(key) as { n: number }).n >= limit && !this.hasStale(key) && this.wantIsFresh(key)) return [];
    const slots = this.db
      .transaction(() => {
        const now = Date.now();
        const taken = new Set<number>();
        for (const row of s.rowsOf.all(key) as SlotRow[]) {
          if (this.isStale(row, now)) s.remove.run(key, row.slot);
          else taken.add(row.slot);
        }
        const free = Array.from({ length: limit }, (_, slot) => slot).filter((slot) => !taken.has(slot)).slice(0, wanted);
        for (const slot of free) s.insert.run(key, slot, this.me.id, this.me.pid, this.me.started, this.me.pidNs, now);
        // Short of slots, this process waits: holders that keep idle ones give them back.
        if (free.length < wanted) s.want.run(key, this.me.id, now);
        else s.unwant.run(key, this.me.id);
        return free;
      })
      .immediate();
    const leases = slots.map((slot) => ({ key, slot }));
    for (const lease of leases) this.held.add(lease);
    return leases;
  }

  async give(lease: SlotLease): Promise<void> {
    if (!this.held.delete(lease)) return;
    this.statements.release.run(lease.key, lease.slot, this.me.id);
    // Another process sees the change on the file; one waiting here is told directly.
    for (const waiter of [...this.waiters]) if (waiter.key === lease.key) waiter.wake();
  }

  nextRelease(key: string): { settled: Promise<void>; cancel(): void } {
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => waiter.wake(), MS.poll);
    const waiter = {
      key,
      wake: () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        this.stopWatchingIfUnheard();
        resolve();
      },
    };
    this.waiters.add(waiter);
    this.startWatching();
    return { settled, cancel: waiter.wake };
  }

  sharedLately(key: string): boolean {
    return this.statements.othersHold.get(key, this.me.id) !== undefined || this.wantedElsewhere(key);
  }

  onWanted(key: string, listener: () => void): () => void {
    let listeners = this.wantListeners.get(key);
    if (!listeners) this.wantListeners.set(key, (listeners = new Set()));
    listeners.add(listener);
    this.startWatching();
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.wantListeners.get(key) === listeners) this.wantListeners.delete(key);
      this.stopWatchingIfUnheard();
    };
  }

  onLost(listener: (leases: SlotLease[], reason: Error) => void): void {
    this.lostListeners.push(listener);
  }

  /** Gives back every slot still held (the process is shutting down); the database stays open for the ledger to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renew);
    this.stopWatching();
    for (const lease of [...this.held]) await this.give(lease);
    this.statements.unwantAll.run(this.me.id);
  }

  /** Any commit by another process may be a release or a want: SQLite's data_version changes with each. */
  private startWatching(): void {
    if (this.watch) return;
    this.seenVersion = this.dataVersion();
    this.watch = setInterval(() => {
      const version = this.dataVersion();
      if (version === this.seenVersion) return;
      this.seenVersion = version;
      for (const waiter of [...this.waiters]) waiter.wake();
      for (const [key, listeners] of [...this.wantListeners]) {
        if (this.wantedElsewhere(key)) for (const listener of [...listeners]) listener();
      }
    }, MS.watch);
    this.watch.unref();
  }

  private stopWatchingIfUnheard(): void {
    if (this.waiters.size > 0 || this.wantListeners.size > 0) return;
    this.stopWatching();
  }

  private stopWatching(): void {
    clearInterval(this.watch);
    this.watch = undefined;
  }

  private wantedElsewhere(key: string): boolean {
    return this.statements.othersWant.get(key, this.me.id, Date.now() - MS.wantFresh) !== undefined;
  }

  /** This process's want of `key` is recent enough for the holders to have seen it. */
  private wantIsFresh(key: string): boolean {
    const row = this.statements.myWant.get(key, this.me.id) as { wanted_at: number } | undefined;
    return row !== undefined && Date.now() - row.wanted_at < MS.wantFresh / 2;
  }

  private dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  private hasStale(key: string): boolean {
    const now = Date.now();
    return (this.statements.rowsOf.all(key) as SlotRow[]).some((row) => this.isStale(row, now));
  }

  private isStale(row: SlotRow, now: number): boolean {
    if (row.holder === this.me.id) return false;
    if (now - row.renewed_at > MS.stale) return true;
    if (row.holder_pid_ns !== this.me.pidNs || this.me.pidNs === '') return false;
    if (now - (this.seenAlive.get(row.holder) ?? -Infinity) < MS.aliveCheck) return false;
    if (!isAlive(row.holder_pid) || startTimeOf(row.holder_pid) !== row.holder_started) {
      this.seenAlive.delete(row.holder);
      return true;
    }
    this.seenAlive.set(row.holder, now);
    return false;
  }

  /** Keeps this process's rows fresh, and finds any that another process reclaimed: those slots are lost. */
  private renewRows(): void {
    const now = Date.now();
    for (const [holder, seen] of this.seenAlive) if (now - seen > MS.stale) this.seenAlive.delete(holder);
    if (this.held.size === 0) return;
    this.statements.renew.run(now, this.me.id);
    const present = new Set((this.statements.mine.all(this.me.id) as { slot_key: string; slot: number }[]).map((row) => `${row.slot}@${row.slot_key}`));
    const lost = [...this.held].filter((lease) => !present.has(`${lease.slot}@${lease.key}`));
    if (lost.length === 0) return;
    for (const lease of lost) this.held.delete(lease);
    const reason = new Error('the fleet slot was lost: another worker process reclaimed it (this one stopped renewing it in time)');
    for (const listener of this.lostListeners) listener(lost, reason);
  }
}

function prepare(db: Database.Database) {
  return {
    count: db.prepare('SELECT count(*) AS n FROM slots WHERE slot_key = ?'),
    rowsOf: db.prepare('SELECT slot, holder, holder_pid, holder_started, holder_pid_ns, renewed_at FROM slots WHERE slot_key = ?'),
    remove: db.prepare('DELETE FROM slots WHERE slot_key = ? AND slot = ?'),
    insert: db.prepare(
      'INSERT INTO slots (slot_key, slot, holder, holder_pid, holder_started, holder_pid_ns, renewed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    release: db.prepare('DELETE FROM slots WHERE slot_key = ? AND slot = ? AND holder = ?'),
    renew: db.prepare('UPDATE slots SET renewed_at = ? WHERE holder = ?'),
    mine: db.prepare('SELECT slot_key, slot FROM slots WHERE holder = ?'),
    want: db.prepare('INSERT OR REPLACE INTO slot_wants (slot_key, holder, wanted_at) VALUES (?, ?, ?)'),
    unwant: db.prepare('DELETE FROM slot_wants WHERE slot_key = ? AND holder = ?'),
    unwantAll: db.prepare('DELETE FROM slot_wants WHERE holder = ?'),
    myWant: db.prepare('SELECT wanted_at FROM slot_wants WHERE slot_key = ? AND holder = ?'),
    othersHold: db.prepare('SELECT 1 FROM slots WHERE slot_key = ? AND holder <> ? LIMIT 1'),
    othersWant: db.prepare('SELECT 1 FROM slot_wants WHERE slot_key = ? AND holder <> ? AND wanted_at > ? LIMIT 1'),
  };
}
