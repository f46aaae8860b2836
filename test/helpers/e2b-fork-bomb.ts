// Run as its own process by test/system/verifiers-e2b.test.ts and verifiers-program.test.ts, as a
// user that is not root (so the check runs cold, under RLIMIT_NPROC): scores a fork bomb and a few
// forks under max_processes 64 with the verifier kind argv[2] names (`e2b`, the default, runs
// `python3 solution.py`; `program` the same code as its program) and prints the two verdicts as JSON.
import type { VerifierSpec } from '../../src/benchmark/task';
import { verify } from '../../src/verifiers';

const python = (code: string) => '```python\n' + code + '\n```';
const forks = (n: number) => python(`import os, time\nfor i in range(${n}):\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\nprint("forked ${n}")`);
const sandbox = { timeoutMs: 20_000, memoryMb: 1024, maxProcesses: 64 };
const specs: Record<string, VerifierSpec> = {
  e2b: { kind: 'e2b', test_sh: 'python3 solution.py' },
  program: { kind: 'program', test_program: 'print("the test program ran")' },
};

(async () => {
  const spec = specs[process.argv[2] ?? 'e2b']!;
  const bomb = await verify(spec, forks(2000), { sandbox });
  const few = await verify(spec, forks(20), { sandbox });
  console.log(JSON.stringify({ uid: process.getuid?.(), bomb: { reward: bomb.reward, output: bomb.details?.output }, few: { reward: few.reward, output: few.details?.output } }));
})();
