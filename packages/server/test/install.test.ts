// What a fresh clone meets before Darkroom runs: `npm install` on the Node the project declares, and the
// build that `npm start` runs each time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readJson = (rel: string) => JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));

interface LockedPackage {
  version?: string;
  engines?: { node?: string };
  os?: string[];
  cpu?: string[];
}

describe('installing', () => {
  it('every locked dependency supports every Node version package.json declares (no EBADENGINE)', () => {
    const declared: string = readJson('package.json').engines.node;
    expect(semver.satisfies(process.version, declared), `${process.version} vs ${declared}`).toBe(true);
    const packages = readJson('package-lock.json').packages as Record<string, LockedPackage>;
    const unsupported: string[] = [];
    for (const [where, pkg] of Object.entries(packages)) {
      const range = pkg.engines?.node;
      if (!range || !where) continue;
      // A platform's own binary (sharp's, rolldown's) installs only there; it must at least share a Node
      // version with the declaration.
      const ok = pkg.os || pkg.cpu ? semver.intersects(declared, range) : semver.subset(declared, range);
      if (!ok) unsupported.push(`${where.replace(/^.*node_modules\//, '')}@${pkg.version}: node ${range}`);
    }
    expect(unsupported, `declared node ${declared}`).toEqual([]);
  });
});

describe('npm run build (run by npm start)', () => {
  it('builds nothing when nothing changed', () => {
    const build = () =>
      spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    // The first run brings the tree up to date (npm test has built it already); the second has nothing to do.
    expect(build().status).toBe(0);
    const outputs = [
      'packages/server/dist/cli.js',
      'packages/client/dist/index.js',
      'packages/web/dist/index.html',
    ];
    const mtimes = () => outputs.map((f) => fs.statSync(path.join(ROOT, f)).mtimeMs);
    const before = mtimes();
    const again = build();
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('build: up to date');
    expect(mtimes()).toEqual(before);
  });
});
