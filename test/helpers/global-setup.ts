import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MISSING_ENV, PYTHON_VENVS, ROOT, SKIPS_ENV, venvReady } from './prerequisites';
import { provision, type Shortfall } from './provision';

/**
 * vitest's globalSetup: before any test file, provide what the tests need (provision.ts) and hand
 * the test processes an environment that uses it; after the run, one banner for whatever had to
 * be skipped. Here rather than in npm's postinstall: a project that installs evsys as a
 * dependency must not get apt-get runs or venvs, while `npm test` and `npx vitest run <file>`
 * both pass through here.
 */
export default async function setup(): Promise<() => void> {
  const shortfalls = await provision();
  if (ROOT.startsWith('/tmp/')) {
    // The e2b sandbox mounts an empty /tmp of its own (docs/scoring.md): .venv's pytest is not there.
    console.log(`evsys test setup: this checkout is under /tmp, which the e2b sandbox hides: the sandboxed pytest tests will fail; clone it elsewhere`);
  }

  // Forks inherit this process's environment: python3 and pytest are the venv's, also inside the
  // e2b sandbox, which passes PATH and VIRTUAL_ENV through.
  for (const venv of PYTHON_VENVS.filter((v) => v.activate && venvReady(v))) {
    const dir = path.join(ROOT, venv.dir);
    process.env.PATH = `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`;
    process.env.VIRTUAL_ENV = dir;
  }
  const skips = path.join(os.tmpdir(), `evsys-test-skips-${process.pid}`);
  rmSync(skips, { force: true });
  process.env[MISSING_ENV] = shortfalls.map((s) => s.name).join(',');
  process.env[SKIPS_ENV] = skips;

  return () => {
    const skipped = existsSync(skips) ? readFileSync(skips, 'utf8').trim().split('\n') : [];
    rmSync(skips, { force: true });
    if (skipped.length === 0) return;
    const failing = process.env.CI === 'true';
    console.log(banner(shortfalls, skipped.map((line) => line.split('\t') as [string, string]), failing));
    if (failing) process.exitCode = 1;
  };
}

/** Which files skipped for lack of what, and the commands that install it. */
function banner(shortfalls: Shortfall[], skipped: [file: string, name: string][], failing: boolean): string {
  const lines = shortfalls.flatMap((s) => {
    const files = [...new Set(skipped.filter(([, name]) => name === s.name).map(([file]) => file))].sort();
    return files.length ? [`  ${s.name.padEnd(11)} ${files.join(', ')}`] : [];
  });
  const needed = shortfalls.filter((s) => skipped.some(([, name]) => name === s.name));
  const debs = [...new Set(needed.flatMap((s) => (s.debianPackage ? [s.debianPackage] : [])))];
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  const fixes = [
    ...(debs.length ? [`${sudo}apt-get install -y ${debs.join(' ')}   (as root with apt-get, \`npm test\` installs them itself)`] : []),
    ...needed.flatMap((s) => (s.fix ? [s.fix] : [])),
  ];
  const rule = '='.repeat(100);
  return [
    rule,
    failing
      ? 'FAILED (CI=true): these suites could not run, because this machine lacks what they need:'
      : 'SKIPPED: these suites did not run, because this machine lacks what they need:',
    ...lines,
    'To run them:',
    ...fixes.map((f) => `  ${f}`),
    rule,
  ].join('\n');
}
