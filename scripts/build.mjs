#!/usr/bin/env node
// `npm run build` (and so `npm start`, `npm test`, `npm install`): builds only what changed since the last
// build. The TypeScript packages go through `tsc --build`, whose own up-to-date check compares sources with
// each package's dist/.tsbuildinfo. Vite has no such check, so the web app is rebuilt only when one of its
// inputs (its sources, the SDK's and the contract's, the installed dependencies) is newer than its last
// build. By hand because that is the one check missing: a task runner (wireit, turbo) would take over every
// script for it. `--force` rebuilds everything.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');

/** Built in this order: each package's dist is what the next ones import. */
const TS_PROJECTS = [
  'contract',
  'edge',
  'http-guard',
  'aws-auth',
  's3-server',
  'sqs-server',
  'client',
  'react',
  'server',
].map((p) => `packages/${p}/tsconfig.build.json`);

/** What the web app's bundle is made of. */
const WEB_INPUTS = [
  'packages/web/index.html',
  'packages/web/vite.config.ts',
  'packages/web/package.json',
  'packages/web/src',
  'packages/client/src',
  'packages/contract/src',
  'node_modules/.package-lock.json',
];
const WEB_STAMP = 'packages/web/dist/.build-stamp';

function run(command, args) {
  const bin = path.join(root, 'node_modules', '.bin', command);
  const result = spawnSync(bin, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** The newest modification time under `rel` (a file or a folder), 0 when it does not exist. */
function newest(rel) {
  const abs = path.join(root, rel);
  let stat;
  try {
    stat = fs.statSync(abs);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of fs.readdirSync(abs, { recursive: true, withFileTypes: true })) {
    const mtime = fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (mtime > latest) latest = mtime;
  }
  return latest;
}

const projects = TS_PROJECTS.filter((p) => fs.existsSync(path.join(root, p)));
const unlisted = fs
  .readdirSync(path.join(root, 'packages'))
  .map((p) => `packages/${p}/tsconfig.build.json`)
  .filter((p) => fs.existsSync(path.join(root, p)) && !TS_PROJECTS.includes(p));
if (unlisted.length > 0) {
  process.stderr.write(`build: add ${unlisted.join(', ')} to TS_PROJECTS in scripts/build.mjs\n`);
  process.exit(1);
}
const buildInfo = (p) => path.join(path.dirname(p), 'dist/.tsbuildinfo');
const before = projects.map((p) => newest(buildInfo(p)));
run('tsc', ['--build', ...(force ? ['--force'] : []), ...projects]);
const rebuilt = projects
  .filter((p, i) => newest(buildInfo(p)) !== before[i])
  .map((p) => path.basename(path.dirname(p)));

const bundled = newest(WEB_STAMP);
if (force || bundled === 0 || WEB_INPUTS.some((input) => newest(input) > bundled)) {
  run('vite', ['build', 'packages/web', '--logLevel', 'warn']);
  fs.writeFileSync(path.join(root, WEB_STAMP), `${new Date().toISOString()}\n`);
  rebuilt.push('web');
}
process.stdout.write(rebuilt.length > 0 ? `build: rebuilt ${rebuilt.join(', ')}\n` : 'build: up to date\n');
