import { readdirSync, readFileSync } from 'node:fs';

/** Host processes whose command line contains `text` (sandboxed ones included: the host sees every PID namespace). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (args.includes(text)) found.push(`${pid}: ${args}`);
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** Polls `condition` every 10 ms; rejects when it is still false after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
