#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so `npx darkroom` works from a fresh clone without a build step.
import { register } from 'tsx/esm/api';

register();
const { buildCli } = await import('../src/cli.ts');
await buildCli().parseAsync(process.argv);
