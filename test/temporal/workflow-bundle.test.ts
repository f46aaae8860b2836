import { readFileSync, readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workflowBundleFile } from '../../src/temporal/workflow-bundle';
import { tempDir } from '../helpers/temporal';

describe('the cached workflow bundle', () => {
  it('is built once by a child process, then loaded from the cache', async () => {
    const cacheDir = tempDir('evsys-bundle-');
    const first = await workflowBundleFile(cacheDir);
    expect(readFileSync(first.codePath, 'utf8')).toContain('evaluateBenchmark');
    const builtAt = statSync(first.codePath).mtimeMs;

    const second = await workflowBundleFile(cacheDir);
    expect(second.codePath).toBe(first.codePath);
    expect(statSync(second.codePath).mtimeMs).toBe(builtAt);
    // No half-written file is left beside it.
    expect(readdirSync(cacheDir)).toEqual([first.codePath.split('/').pop()]);
  }, 60_000);
});
