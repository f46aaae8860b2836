import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProcessCap } from '../../src/verifiers/process-cap';
import type { BootedSandbox } from '../../src/verifiers/sandbox-process';
import { type CappedSandbox, heldSandbox } from '../../src/verifiers/spare-sandboxes';

/**
 * The bookkeeping of the sandboxes booted ahead for warm checks, over stand-ins for sandboxes
 * that record what is done to them (test/system/verifiers-program.test.ts runs the real ones).
 */

interface Recorded extends CappedSandbox {
  id: number;
  /** Each hold(on), and `started?` when a caller first waits for the start, in order. */
  events: string[];
  killed: boolean;
  released: boolean;
}

/** A boot function whose sandboxes start (or fail to) when the test says so. */
function booter() {
  const booted: Recorded[] = [];
  const starts: ((up: boolean) => void)[] = [];
  const boot = async (): Promise<CappedSandbox> => {
    const events: string[] = [];
    let startedAsked = false;
    const started = new Promise<boolean>((resolve) => starts.push(resolve));
    const sandbox: Recorded = {
      id: booted.length,
      events,
      killed: false,
      released: false,
      box: {
        pid: 1000 + booted.length,
        get started() {
          if (!startedAsked) events.push('started?');
          startedAsked = true;
          return started;
        },
        closed: Promise.resolve({ code: null, signal: 'SIGKILL' }),
        output: () => '',
        kill: () => void (sandbox.killed = true),
        hold: (on: boolean) => void events.push(`hold(${on})`),
      } as BootedSandbox,
      cap: { release: async () => void (sandbox.released = true) } as ProcessCap,
    };
    booted.push(sandbox);
    return sandbox;
  };
  return { boot, booted, start: (id: number, up = true) => starts[id]!(up) };
}

let kind = 0;
/** A kind of sandbox no other test uses: spares are kept per kind, for the whole process. */
const freshKind = () => `kind-${kind++}`;

afterEach(() => {
  vi.useRealTimers();
});

describe('sandboxes booted ahead for warm checks', () => {
  it('boots a spare for the next check, which takes it, and boots the next one', async () => {
    const { boot, booted, start } = booter();
    const key = freshKind();
    const first = await heldSandbox(key, boot);
    // Its own (the first boot) and a spare for the next check (the second), neither held back.
    expect(booted.map((b) => b.id)).toEqual([0, 1]);
    expect(first).toBe(booted[0]);
    start(1);
    const second = heldSandbox(key, boot);
    expect(await second).toBe(booted[1]);
    expect(booted).toHaveLength(3);
    // A spare does not keep the process alive while it waits; once taken it does, before its
    // start is waited for: a process with nothing else to do must not end while it starts.
    expect(booted[1]!.events).toEqual(['hold(false)', 'hold(true)', 'started?']);
    expect(booted[2]!.events).toEqual(['hold(false)']);
  });

  it('gives a spare that failed to start back, and the check boots its own', async () => {
    const { boot, booted, start } = booter();
    const key = freshKind();
    await heldSandbox(key, boot);
    start(1, false);
    const check = await heldSandbox(key, boot);
    expect(booted[1]).toMatchObject({ killed: true });
    await vi.waitFor(() => expect(booted[1]!.released).toBe(true));
    // The check's own: booted after the new spare.
    expect(check).toBe(booted[3]);
  });

  it('keeps one spare of a kind: checks that start together each take the one the check before them booted', async () => {
    const { boot, booted, start } = booter();
    const key = freshKind();
    const checks = [heldSandbox(key, boot), heldSandbox(key, boot), heldSandbox(key, boot)];
    for (let id = 1; id <= 2; id++) start(id);
    expect(await Promise.all(checks)).toEqual([booted[0], booted[1], booted[2]]);
    // And one left for the next: a check of another kind does not take it.
    expect(booted).toHaveLength(4);
    expect(await heldSandbox(freshKind(), boot)).toBe(booted[4]);
    start(3);
    expect(await heldSandbox(key, boot)).toBe(booted[3]);
  });

  it('lets an unused spare go after 30 s, killed and its cgroup released', async () => {
    vi.useFakeTimers();
    const { boot, booted } = booter();
    const key = freshKind();
    await heldSandbox(key, boot);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(booted[1]).toMatchObject({ killed: false, released: false });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(booted[1]).toMatchObject({ killed: true, released: true });
    // The next check finds no spare: it boots its own, then a new spare.
    expect(await heldSandbox(key, boot)).toBe(booted[2]);
    expect(booted).toHaveLength(4);
  });
});
