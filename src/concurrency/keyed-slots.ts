import { Semaphore } from './semaphore';

/**
 * Request slots per key within this process: at most `limit` holders of one key at once, first
 * come first served. The worker keeps one for sampler endpoints (key: base URL, limit:
 * EVSYS_MAX_REQUESTS_PER_ENDPOINT); an eval's n_concurrent holds fleet-wide (fleet-slots.ts).
 */
export class KeyedSlots {
  private readonly semaphores = new Map<string, { semaphore: Semaphore; users: number }>();

  async use<T>(key: string, limit: number, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let entry = this.semaphores.get(key);
    if (!entry) this.semaphores.set(key, (entry = { semaphore: new Semaphore(limit), users: 0 }));
    entry.users++;
    try {
      return await entry.semaphore.use(work, signal);
    } finally {
      // A worker serves evals for weeks: a key nobody waits on is dropped, not kept.
      if (--entry.users === 0) this.semaphores.delete(key);
    }
  }
}
