import { describe, expect, it } from 'vitest';
import { KeyedSlots } from '../../src/concurrency/keyed-slots';

/** Resolvable from outside, to hold a request open until the test lets it finish. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedSlots', () => {
  it('holds one eval to its limit across tasks, first come first served, and evals apart', async () => {
    const slots = new KeyedSlots();
    const started: string[] = [];
    const releases = new Map<string, () => void>();
    const request = (name: string) => () => {
      started.push(name);
      const held = deferred();
      releases.set(name, held.resolve);
      return held.promise;
    };
    const runs = ['a1', 'a2', 'a3', 'a4'].map((name) => slots.use('eval-a', 2, request(name)));
    const other = slots.use('eval-b', 1, request('b1'));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a1', 'a2', 'b1']);

    releases.get('a2')!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    for (const name of ['a1', 'a3']) releases.get(name)!();
    await new Promise((r) => setImmediate(r));
    expect(started.at(-1)).toBe('a4');
    for (const name of ['a4', 'b1']) releases.get(name)!();
    await Promise.all([...runs, other]);
  });

  it('drops an idle gate, so a later eval under the same key gets its own limit', async () => {
    const slots = new KeyedSlots();
    await slots.use('eval', 1, async () => undefined);
    let inFlight = 0;
    let peak = 0;
    const work = async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    };
    await Promise.all(Array.from({ length: 6 }, () => slots.use('eval', 3, work)));
    expect(peak).toBe(3);
  });

  it('lets a cancelled waiter go without taking a slot', async () => {
    const slots = new KeyedSlots();
    const held = deferred();
    const first = slots.use('eval', 1, () => held.promise);
    const cancel = new AbortController();
    const waiting = slots.use('eval', 1, async () => 'ran', cancel.signal);
    cancel.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    const next = slots.use('eval', 1, async () => 'next');
    held.resolve();
    await first;
    await expect(next).resolves.toBe('next');
  });
});
