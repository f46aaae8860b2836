/**
 * Finds the task a prompt was built from. A chat template wraps the instruction in text of its
 * own, so after an exact match fails the task is the one whose instruction the prompt contains;
 * the longest such instruction wins, so "2+2" never shadows "What is 2+2?".
 *
 * Scanning every instruction per request would cost O(tasks × prompt) and 20,000 tasks would
 * make the simulator the bottleneck; a sorted array answers "longest instruction starting at
 * this offset" in a few binary searches, so a lookup costs O(prompt × log tasks).
 */
export function createTaskLookup<T extends { instruction: string }>(tasks: readonly T[]): (prompt: string) => T | undefined {
  const byInstruction = new Map<string, T>();
  for (const task of tasks) {
    // The first of several tasks sharing an instruction wins, so answers don't depend on Map order.
    if (!byInstruction.has(task.instruction)) byInstruction.set(task.instruction, task);
  }
  // Every prompt contains the empty instruction; only an exact match may select it.
  const sorted = [...byInstruction.keys()].filter((instruction) => instruction !== '').sort();

  return (prompt) => {
    const exact = byInstruction.get(prompt);
    if (exact) return exact;
    let best: string | undefined;
    for (let offset = 0; offset < prompt.length; offset++) {
      if (best !== undefined && best.length >= prompt.length - offset) break;
      const found = longestPrefixOf(prompt.slice(offset), sorted);
      if (found !== undefined && (best === undefined || found.length > best.length)) best = found;
    }
    return best === undefined ? undefined : byInstruction.get(best);
  };
}

/**
 * The longest entry of `sorted` that `text` starts with. The greatest entry <= text is either
 * that prefix or shares a longer common prefix with text than any other candidate, so cutting
 * text to that common prefix and searching again never skips the answer.
 */
function longestPrefixOf(text: string, sorted: readonly string[]): string | undefined {
  let probe = text;
  while (probe.length > 0) {
    const index = greatestAtMost(probe, sorted);
    if (index < 0) return undefined;
    const candidate = sorted[index];
    if (probe.startsWith(candidate)) return candidate;
    probe = probe.slice(0, commonPrefixLength(probe, candidate));
  }
  return undefined;
}

/** Index of the greatest entry <= value, or -1. */
function greatestAtMost(value: string, sorted: readonly string[]): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

function commonPrefixLength(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a.charCodeAt(length) === b.charCodeAt(length)) length++;
  return length;
}
