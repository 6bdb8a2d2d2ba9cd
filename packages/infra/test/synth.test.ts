import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const infraDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A package binary, from the infra workspace's own node_modules first (where npm puts the cdk CLI). */
const bin = (name: string) =>
  [
    path.join(infraDir, 'node_modules/.bin', name),
    path.resolve(infraDir, '../../node_modules/.bin', name),
  ].find((p) => fs.existsSync(p)) ?? name;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-synth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// No network: a lookup or a call to AWS would need credentials this environment does not have.
const offlineEnv = {
  ...process.env,
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_PROFILE: '',
  AWS_EC2_METADATA_DISABLED: 'true',
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
};
// Every optional resource on, so the linter below sees all of them.
const context = {
  apiOriginDomain: 'api.example.com',
  corsOrigins: 'https://app.example.com',
  transformSecret: 'a-transform-secret-for-the-edge',
  variants: 'thumb:320:webp+avif,medium:1280',
  transferAcceleration: 'true',
  publicKeyPem: crypto
    .generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString(),
};

interface Template {
  Resources: Record<string, { Type: string }>;
  Outputs: Record<string, unknown>;
}
const readTemplate = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, 'Darkroom.template.json'), 'utf8')) as Template;

describe('the CDK app, synthesised offline', () => {
  it('writes the template when run the way `cdk synth` runs it (CDK_OUTDIR, CDK_CONTEXT_JSON)', async () => {
    const outdir = path.join(tmp, 'app');
    await run(bin('tsx'), ['--conditions=development', 'bin/darkroom.ts'], {
      cwd: infraDir,
      env: { ...offlineEnv, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      timeout: 60_000,
    });
    const template = readTemplate(outdir);
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of [
      'AWS::S3::Bucket',
      'AWS::SQS::Queue',
      'Custom::S3BucketNotifications',
      'AWS::CloudFront::Distribution',
      'AWS::CloudFront::Function',
      'AWS::IAM::Role',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(template.Outputs).toHaveProperty('ApiEnvironment');
    // Environment-agnostic and lookup-free: nothing was left for the CLI to fetch.
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
      missing?: unknown[];
      artifacts: Record<string, { environment?: string }>;
    };
    expect(manifest.missing).toBeUndefined();
    expect(manifest.artifacts.Darkroom?.environment).toBe('aws://unknown-account/unknown-region');
  });

  it('passes cfn-lint (the CloudFormation resource specification) without errors', async (ctx) => {
    const template = path.join(tmp, 'app', 'Darkroom.template.json');
    if (!fs.existsSync(template)) throw new Error('the synth test above did not write the template');
    try {
      await run('cfn-lint', ['--format', 'parseable', template], { timeout: 60_000 });
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string };
      if (e.code === 'ENOENT') ctx.skip('cfn-lint is not installed (pip install cfn-lint)');
      // Exit status is a bit mask: 2 errors, 4 warnings, 8 informational. CDK's own notification handler
      // draws W3005 (redundant DependsOn) warnings; errors are what matter.
      if (typeof e.code !== 'number' || (e.code & 2) !== 0) throw new Error(`cfn-lint: ${e.stdout ?? err}`);
    }
  });

  it('stops with a message naming the missing parameter', async () => {
    const attempt = run(bin('tsx'), ['bin/darkroom.ts'], {
      cwd: infraDir,
      env: { ...offlineEnv, CDK_OUTDIR: path.join(tmp, 'bad'), CDK_CONTEXT_JSON: '{}' },
      timeout: 60_000,
    });
    await expect(attempt).rejects.toThrow(/apiOriginDomain/);
  });

  it('`cdk synth` (the real CLI) writes the template', async () => {
    const outdir = path.join(tmp, 'cli');
    const args = ['synth', '--quiet', '--no-notices', '--no-version-reporting', '-o', outdir];
    for (const [k, v] of Object.entries(context)) args.push('-c', `${k}=${v}`);
    await run(bin('cdk'), args, { cwd: infraDir, env: offlineEnv, timeout: 60_000 });
    expect(readTemplate(outdir).Resources).toBeDefined();
  });
});
