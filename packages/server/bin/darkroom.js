#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm install`, `npm start` and `npm test`
// run). Without a build, it falls back to the TypeScript sources through tsx, which is fine for
// development but slow: tsx's loader hooks make every dynamic import() a cross-thread round trip.
import { existsSync } from 'node:fs';

// The AWS SDK prints a 10-line notice on every start under Node 20 (its releases after January 2027 will
// need Node 22). Darkroom declares and tests the Node versions it supports (package.json engines), so the
// notice says nothing its user can act on; set the variable to anything else to see it again.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const compiled = new URL('../dist/cli.js', import.meta.url);
let cli;
if (existsSync(compiled) && process.env.DARKROOM_FROM_SOURCE !== '1') {
  cli = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli.ts');
}
await cli.main(process.argv);
