import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Client } from 'pg';
import type { SlotLease, SlotLeases } from '../concurrency/fleet-slots';

/**
 * An eval's slot n is the session-level advisory lock (hash of its key, n), held on one
 * connection per worker process. PostgreSQL frees a session's locks when the session ends, so
 * a worker that is killed, or whose machine vanishes, cannot keep its slots; releases are
 * announced on a channel so waiting workers try again at once.
 */
const CHANNEL = 'evsys_slots';

/**
 * A waiter asks again this often without an announcement: a dead worker's session ends without
 * one, and so do the slots it held.
 */
const POLL_MS = 250;

/**
 * How fast the server notices that this worker's machine is gone (no FIN ever comes): keepalive
 * probes after 5 s of silence, every 2 s, 3 unanswered = dead, so about 11 s. Each is the
 * session's own setting (the server's default waits two hours). Names missing from an older
 * server are skipped. idle_session_timeout 0: an idle session holding slots must not be cut.
 */
const SESSION_SETTINGS: [string, string][] = [
  ['tcp_keepalives_idle', '5'],
  ['tcp_keepalives_interval', '2'],
  ['tcp_keepalives_count', '3'],
  ['tcp_user_timeout', '11000'],
  ['idle_session_timeout', '0'],
];

/**
 * While it holds slots, the worker checks its session this often and gives up on it after
 * PING_DEADLINE_MS without an answer, well before the server frees the locks (above): the
 * requests it runs under them are stopped first, so the fleet never counts a slot twice.
 */
const PING_MS = 1_000;
const PING_DEADLINE_MS = 3_000;

/**
 * Another worker announced a release or a want of an eval's slots within this: it shares them
 * (a waiting one announces at least every POLL_MS; a busy one with each slot it gives back).
 */
const SHARED_WITHIN_MS = 2_000;

/** Takes up to $3 of the candidate slots $2; short of them, tells the other workers that this one waits. */
const TAKE = `WITH taken AS (SELECT s FROM unnest($2::int[]) AS s WHERE pg_try_advisory_lock($1, s) LIMIT $3)
  SELECT coalesce(array_agg(s), '{}') AS slots, CASE WHEN count(*) < $3 THEN pg_notify('${CHANNEL}', 'want ' || $1) END AS wanted
  FROM taken`;
const GIVE = `SELECT pg_advisory_unlock($1, $2), pg_notify('${CHANNEL}', $1::text)`;

/** The lock's first key: 32 bits of the eval's key (the second is the slot number). */
function lockKey(key: string): number {
  return createHash('sha256').update(`evsys-slots:${key}`).digest().readInt32BE(0);
}

/** Fleet slots as PostgreSQL advisory locks, for workers on many machines sharing a `postgres://` ledger. */
export class PostgresSlotLeases implements SlotLeases {
  private session: Promise<Client> | undefined;
  private readonly held = new Set<SlotLease>();
  private readonly waiters = new Map<number, Set<() => void>>();
  private readonly wantListeners = new Map<number, Set<() => void>>();
  /** When another worker last announced a release or a want, by lock. */
  private readonly lastHeard = new Map<number, number>();
  private readonly lostListeners: ((leases: SlotLease[], reason: Error) => void)[] = [];
  private ping: NodeJS.Timeout | undefined;
  private closed = false;
  /** The session's queries, one after another (a pg client must not be asked twice at once). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly url: string) {}

  async take(key: string, limit: number, wanted: number): Promise<SlotLease[]> {
    const client = await this.client();
    // Session locks are re-entrant: a slot this session holds would be "taken" again.
    const mine = new Set([...this.held].filter((lease) => lease.key === key).map((lease) => lease.slot));
    const candidates = Array.from({ length: limit }, (_, slot) => slot).filter((slot) => !mine.has(slot));
    if (candidates.length === 0 || wanted <= 0) return [];
    const { rows } = await this.inTurn(() => client.query<{ slots: number[] }>(TAKE, [lockKey(key), candidates, wanted]));
    const leases = rows[0].slots.map((slot) => ({ key, slot }));
    for (const lease of leases) this.held.add(lease);
    return leases;
  }

  async give(lease: SlotLease): Promise<void> {
    // Dropped before the unlock is sent: the connection runs queries in order, so a take
    // issued after this one already finds the slot free.
    if (!this.held.delete(lease) || !this.session) return;
    const client = await this.session;
    await this.inTurn(() => client.query(GIVE, [lockKey(lease.key), lease.slot]));
  }

  nextRelease(key: string): { settled: Promise<void>; cancel(): void } {
    const lock = lockKey(key);
    let waiters = this.waiters.get(lock);
    if (!waiters) this.waiters.set(lock, (waiters = new Set()));
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => done(), POLL_MS);
    const done = () => {
      clearTimeout(timer);
      waiters.delete(done);
      if (waiters.size === 0 && this.waiters.get(lock) === waiters) this.waiters.delete(lock);
      resolve();
    };
    waiters.add(done);
    return { settled, cancel: done };
  }

  sharedLately(key: string): boolean {
    const at = this.lastHeard.get(lockKey(key));
    return at !== undefined && Date.now() - at < SHARED_WITHIN_MS;
  }

  onWanted(key: string, listener: () => void): () => void {
    const lock = lockKey(key);
    let listeners = this.wantListeners.get(lock);
    if (!listeners) this.wantListeners.set(lock, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.wantListeners.get(lock) === listeners) this.wantListeners.delete(lock);
    };
  }

  onLost(listener: (leases: SlotLease[], reason: Error) => void): void {
    this.lostListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.ping);
    const session = this.session;
    this.session = undefined;
    const client = await session?.catch(() => undefined);
    // Releases already asked for go out first.
    await this.queue;
    // The server frees every lock of the session as it ends; a connection the network left
    // hanging is not waited for.
    if (client) await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    if (client) client.connection.stream.destroy();
  }

  private client(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error('the ledger is closed'));
    this.session ??= this.connect().catch((err: unknown) => {
      this.session = undefined;
      throw err;
    });
    return this.session;
  }

  private async connect(): Promise<Client> {
    // Named after the worker (as Temporal names it), so pg_stat_activity shows who holds which slots.
    const name = `evsys slots ${process.pid}@${hostname()}`.slice(0, 63);
    const client = new Client({ connectionString: this.url, application_name: name, connectionTimeoutMillis: 10_000 });
    client.on('error', (err) => this.sessionEnded(client, err));
    client.on('end', () => this.sessionEnded(client, new Error('the connection closed')));
    let backendPid = 0;
    client.on('notification', (message) => this.announced(message.processId === backendPid, message.payload ?? ''));
    await client.connect();
    await client.query(
      `SELECT set_config(name, value, false) FROM (VALUES ${SESSION_SETTINGS.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}) AS s(name, value)
       WHERE name IN (SELECT name FROM pg_settings)`,
      SESSION_SETTINGS.flat(),
    );
    backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await client.query(`LISTEN ${CHANNEL}`);
    this.ping = setInterval(() => void this.checkSession(client), PING_MS).unref();
    return client;
  }

  /** While slots are held: a session that does not answer in time is given up, and its slots with it. */
  private async checkSession(client: Client): Promise<void> {
    if (this.held.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), PING_DEADLINE_MS)));
    const answer = await Promise.race([this.inTurn(() => client.query('SELECT 1')).then(() => 'answered' as const, () => 'failed' as const), deadline]);
    clearTimeout(timer);
    if (answer === 'late') {
      this.sessionEnded(client, new Error(`PostgreSQL did not answer within ${PING_DEADLINE_MS / 1000} s`));
      client.connection.stream.destroy();
    }
  }

  /** Every slot of a session that ended is lost: the server frees them, or soon will. Waiters try again (on a new session). */
  private sessionEnded(client: Client, cause: Error): void {
    void this.session?.then((current) => {
      if (current !== client) return;
      this.session = undefined;
      clearInterval(this.ping);
      const lost = [...this.held];
      this.held.clear();
      const reason = new Error(`the fleet slot was lost: the ledger's PostgreSQL session ended (${cause.message})`);
      if (lost.length > 0 && !this.closed) for (const listener of this.lostListeners) listener(lost, reason);
      for (const waiters of this.waiters.values()) for (const wake of [...waiters]) wake();
    }, () => undefined);
  }

  /** Announcements come for every eval of the fleet: those past SHARED_WITHIN_MS are dropped, not kept for weeks. */
  private heardFromOthers(lock: number): void {
    const now = Date.now();
    if (this.lastHeard.size > 256) for (const [old, at] of this.lastHeard) if (now - at >= SHARED_WITHIN_MS) this.lastHeard.delete(old);
    this.lastHeard.set(lock, now);
  }

  private inTurn<R>(query: () => Promise<R>): Promise<R> {
    const result = this.queue.then(query);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** `<lock>`: a slot was given back; `want <lock>`: a worker waits for one (this session's own wants aside). */
  private announced(fromThisSession: boolean, payload: string): void {
    const [what, lock] = payload.startsWith('want ') ? (['want', Number(payload.slice(5))] as const) : (['release', Number(payload)] as const);
    if (fromThisSession && what === 'want') return;
    if (!fromThisSession) this.heardFromOthers(lock);
    const listeners = what === 'want' ? this.wantListeners.get(lock) : this.waiters.get(lock);
    for (const listener of [...(listeners ?? [])]) listener();
  }
}
