/**
 * Each eval's n_concurrent request slots, counted across every worker process that serves it
 * (its "fleet"), on any number of machines. The count lives where the fleet already meets: the
 * ledger's database (ledger/postgres-slots.ts, ledger/sqlite-slots.ts).
 */

/** One of an eval's slots, held by this process. */
export interface SlotLease {
  readonly key: string;
  readonly slot: number;
}

/** The database's side: the fleet-wide record of who holds which slot. */
export interface SlotLeases {
  /**
   * Takes up to `wanted` of `key`'s slots 0..limit-1 that nobody holds; fewer, or none, when
   * the fleet holds them. Taking fewer than wanted tells the other processes (onWanted).
   */
  take(key: string, limit: number, wanted: number): Promise<SlotLease[]>;
  /** Gives a slot back to the fleet and wakes the processes waiting for one. */
  give(lease: SlotLease): Promise<void>;
  /**
   * Settles when a slot of `key` may have been given back since the call, or after a short
   * poll interval (a holder that died gives nothing back). Made before `take`, it misses no release.
   */
  nextRelease(key: string): { settled: Promise<void>; cancel(): void };
  /**
   * Whether another process used the slots of `key` lately (took, gave back or waited for one):
   * then a slot this one frees goes straight back, the others need it more than an idle pool here.
   */
  sharedLately(key: string): boolean;
  /** `listener` hears when another process waits for a slot of `key`; the returned function stops it. */
  onWanted(key: string, listener: () => void): () => void;
  /**
   * `listener` hears of slots this process held and lost without giving them back: its
   * database session died, so the fleet may already count them as free.
   */
  onLost(listener: (leases: SlotLease[], reason: Error) => void): void;
  close(): Promise<void>;
}

/** What a task's samples use: hold one of the eval's slots while a request (or a trial) runs. */
export interface EvalSlots {
  /**
   * Runs `work` holding one of `key`'s `limit` slots, first come first served. `held` aborts
   * when the slot is lost while `work` runs: stop at once, the fleet may count it free.
   */
  use<T>(key: string, limit: number, work: (held: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
}

/** How long the head waiter backs off after the database failed it (connection refused, restart). */
const RETRY_AFTER_FAILURE_MS = [100, 500, 1_000, 2_000, 5_000];

/**
 * How long a slot nobody here wants stays with this process when it alone serves the eval (a
 * single worker, the embedded one): the next task usually arrives within a Temporal round trip,
 * and keeping the slot spares two database writes (give, take) per task. Another process that
 * asks for a slot meanwhile gets it back at once.
 */
const KEEP_IDLE_MS = 1_000;

interface Waiter {
  limit: number;
  grant(lease: SlotLease): void;
}

/** One key's waiters, in arrival order, and the leases this process holds for it. */
interface KeyQueue {
  waiters: Waiter[];
  holders: Map<SlotLease, AbortController>;
  /** Held, unused: the next waiter here gets one at once; given back when another process wants one, or after KEEP_IDLE_MS. */
  idle: SlotLease[];
  idleTimer?: NodeJS.Timeout;
  stopHearingWants?: () => void;
  /** The head waiter is asking the database: only one request at a time per key and process. */
  taking: boolean;
}

/**
 * Fleet-wide slots with a local queue in front: within this process, waiters queue first come
 * first served and only the head asks the database. A slot freed while others here wait
 * passes straight to the next one, so a busy worker pays no database round trip per request.
 * One nobody here wants goes back to the fleet, or, when no other process uses the eval's slots,
 * is kept a moment for the next arrival here, until another process asks for one.
 */
export class FleetSlots implements EvalSlots {
  private readonly queues = new Map<string, KeyQueue>();
  private readonly lost = new WeakSet<SlotLease>();

  constructor(
    private readonly leases: SlotLeases,
    private readonly warn: (message: string) => void = (message) => console.warn(message),
  ) {
    leases.onLost((lost, reason) => {
      for (const lease of lost) {
        this.lost.add(lease);
        const queue = this.queues.get(lease.key);
        if (!queue) continue;
        queue.holders.get(lease)?.abort(reason);
        queue.idle = queue.idle.filter((idle) => idle !== lease);
        this.dropIfIdle(lease.key, queue);
      }
    });
  }

  async use<T>(key: string, limit: number, work: (held: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const queue = this.queueOf(key);
    const { lease, held } = await this.wait(queue, key, limit, signal);
    try {
      return await work(held.signal);
    } finally {
      queue.holders.delete(lease);
      this.handOn(queue, lease);
    }
  }

  private queueOf(key: string): KeyQueue {
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { waiters: [], holders: new Map(), idle: [], taking: false }));
    return queue;
  }

  private wait(queue: KeyQueue, key: string, limit: number, signal?: AbortSignal): Promise<{ lease: SlotLease; held: AbortController }> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        limit,
        // The holder counts from the grant on, not from when `use` resumes: the queue is not idle in between.
        grant: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          const held = new AbortController();
          queue.holders.set(lease, held);
          resolve({ lease, held });
        },
      };
      const onAbort = () => {
        queue.waiters.splice(queue.waiters.indexOf(waiter), 1);
        this.dropIfIdle(key, queue);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.waiters.push(waiter);
      const kept = queue.idle.pop();
      if (kept) this.handOn(queue, kept);
      else void this.takeForWaiters(key, queue);
    });
  }

  /** The head waiter's loop: take what the fleet has free, else wait for a release, until nobody here waits. */
  private async takeForWaiters(key: string, queue: KeyQueue): Promise<void> {
    if (queue.taking) return;
    queue.taking = true;
    let failures = 0;
    try {
      while (queue.waiters.length > 0) {
        const release = this.leases.nextRelease(key);
        let taken: SlotLease[];
        try {
          taken = await this.leases.take(key, queue.waiters[0].limit, queue.waiters.length);
          failures = 0;
        } catch (err) {
          release.cancel();
          const delay = RETRY_AFTER_FAILURE_MS[Math.min(failures++, RETRY_AFTER_FAILURE_MS.length - 1)];
          this.warn(`evsys slots: cannot take a slot of ${key} from the ledger's database (${(err as Error).message}); retrying in ${delay} ms`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        for (const lease of taken) this.handOn(queue, lease);
        if (taken.length > 0) release.cancel();
        else await release.settled;
      }
    } finally {
      queue.taking = false;
      this.dropIfIdle(key, queue);
    }
  }

  /**
   * A free lease goes to the next waiter here; else back to the fleet when other processes
   * share the eval, or it is kept idle a moment for the next arrival here. A lost one goes nowhere.
   */
  private handOn(queue: KeyQueue, lease: SlotLease): void {
    if (this.lost.has(lease)) return this.dropIfIdle(lease.key, queue);
    const next = queue.waiters.shift();
    if (next) return next.grant(lease);
    queue.idle.push(lease);
    if (this.leases.sharedLately(lease.key)) return this.giveBackIdle(lease.key, queue);
    queue.stopHearingWants ??= this.leases.onWanted(lease.key, () => this.giveBackIdle(lease.key, queue));
    clearTimeout(queue.idleTimer);
    queue.idleTimer = setTimeout(() => this.giveBackIdle(lease.key, queue), KEEP_IDLE_MS).unref();
  }

  private giveBackIdle(key: string, queue: KeyQueue): void {
    clearTimeout(queue.idleTimer);
    queue.idleTimer = undefined;
    for (const lease of queue.idle.splice(0)) {
      this.leases.give(lease).catch((err: Error) => this.warn(`evsys slots: could not give back slot ${lease.slot} of ${key}: ${err.message}`));
    }
    this.dropIfIdle(key, queue);
  }

  /** A worker serves evals for weeks: a key nobody here holds, keeps or waits for is dropped. */
  private dropIfIdle(key: string, queue: KeyQueue): void {
    if (queue.waiters.length > 0 || queue.holders.size > 0 || queue.idle.length > 0 || queue.taking) return;
    clearTimeout(queue.idleTimer);
    queue.stopHearingWants?.();
    queue.stopHearingWants = undefined;
    if (this.queues.get(key) === queue) this.queues.delete(key);
  }
}
