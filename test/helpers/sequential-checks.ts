// Run as its own process by test/system/verifiers-program.test.ts: a process whose only work is
// warm program checks, one after the other (each taking the sandbox the one before started for
// it), with a pause between them, prints how many passed. It must neither end before they are done (a sandbox still starting
// keeps it waiting) nor stay after (the spares left do not keep it).
import { verify } from '../../src/verifiers';

(async () => {
  let passed = 0;
  for (let i = 0; i < 10; i++) {
    passed += (await verify({ kind: 'program', test_program: `assert ${i} == ${i}` }, '', { sandbox: { timeoutMs: 20_000, memoryMb: 1024 } })).reward;
    // Busy elsewhere, without the event loop (as a synchronous step would be): the next check's
    // spare says it is up meanwhile, and the word waits, unread, for the loop.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
  console.log(JSON.stringify({ passed }));
})();
