import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpResultsStore } from '../../src/store/http-store';

describe('an HTTP dashboard that cannot be reached', () => {
  it('fails the upload naming the URL and the cause, not just "fetch failed"', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const store = new HttpResultsStore(`http://127.0.0.1:${port}/api`);
    const record = { run_id: 'r', benchmark_id: 'b', step: 1, split: null, metrics: {}, workflow_id: 'w', verifier_version: 'v' };
    await expect(store.recordEval(record, [])).rejects.toThrow(`POST http://127.0.0.1:${port}/api/evals failed: ECONNREFUSED`);
  });
});
