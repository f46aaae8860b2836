// Run by test/system/verifiers-program.test.ts under util-linux's `script`, so that this process,
// as a worker started from a terminal, has a controlling terminal: prints whether it can open
// /dev/tty itself, and what the warm checks (an e2b `pytest` and a program) get when they try.
import { openSync, closeSync } from 'node:fs';
import type { VerifierSpec } from '../../src/benchmark/task';
import { verify } from '../../src/verifiers';

const TRY_TTY = [
  'try:',
  '    os.open("/dev/tty", os.O_RDWR)',
  '    print("TTY opened")',
  'except OSError as e:',
  '    print("TTY refused:", e.strerror)',
].join('\n');
const indented = TRY_TTY.split('\n').map((line) => `    ${line}`).join('\n');
const checks: Record<string, VerifierSpec> = {
  e2b: { kind: 'e2b', test_sh: 'pytest -q -s test_state.py', test_state_py: `import os\n\ndef test_tty():\n    assert os.getppid() == 0, "not the warm path"\n${indented}\n` },
  program: { kind: 'program', test_program: `import os\nassert os.getppid() == 0, "not the warm path"\n${TRY_TTY}` },
};

(async () => {
  let host: string;
  try {
    closeSync(openSync('/dev/tty', 'r+'));
    host = 'TTY opened';
  } catch (err) {
    host = `TTY refused: ${(err as Error).message}`;
  }
  const seen: Record<string, string> = { host };
  for (const [name, spec] of Object.entries(checks)) {
    const verdict = await verify(spec, '', { sandbox: { timeoutMs: 20_000, memoryMb: 1024 } });
    seen[name] = /TTY [^\n]*/.exec(String(verdict.details?.output))?.[0] ?? `no answer: ${verdict.details?.output}`;
  }
  console.log(JSON.stringify(seen));
  process.exit(0);
})();
