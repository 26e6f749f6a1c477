#!/usr/bin/env node
// `npm start`: from a fresh clone to a running system in one command. Installs the dependencies
// when they are missing, builds, then runs `controlplane dev` in this process (arguments are passed
// on: `npm start -- --data-dir /tmp/cp`). With --install-only it stops after the install; `npm test`
// uses that so it too works on a fresh clone.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const installOnly = args[0] === '--install-only';

function npm(...npmArgs) {
  // Under npm, reuse the very npm that runs us; otherwise the one on PATH.
  const execPath = process.env.npm_execpath;
  const [cmd, cmdArgs] =
    execPath && execPath.endsWith('.js')
      ? [process.execPath, [execPath, ...npmArgs]]
      : [process.platform === 'win32' ? 'npm.cmd' : 'npm', npmArgs];
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`\`npm ${npmArgs.join(' ')}\` failed (${r.signal ?? `exit ${r.status}`})`);
    process.exit(r.status ?? 1);
  }
}

// npm writes this file last, so its absence also catches an install that was interrupted.
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.error('installing dependencies (first run)…');
  npm(...(existsSync(join(root, 'package-lock.json')) ? ['ci'] : ['install']), '--no-audit', '--no-fund');
}
if (installOnly) process.exit(0);

npm('run', '--silent', 'build');
// npm links `controlplane` into node_modules/.bin only when the target exists, and on a fresh clone
// the install runs before the first build made it: link it now, so `npx controlplane` works.
const bin = join(root, 'packages', 'cli', 'dist', 'bin.js');
if (process.platform !== 'win32') chmodSync(bin, 0o755);
if (!existsSync(join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'controlplane.cmd' : 'controlplane'))) {
  npm('rebuild', '--silent', '--ignore-scripts', '@controlplane/cli');
}

const { main } = await import(pathToFileURL(join(root, 'packages', 'cli', 'dist', 'main.js')).href);
process.exitCode = await main(['dev', ...args]);
