#!/usr/bin/env node
// CommonJS on purpose (bin/package.json says so): libuv sizes its thread pool once, the first time anything
// uses it, from UV_THREADPOOL_SIZE, and Node reads an ES module entry through that very pool, so only a
// CommonJS entry can still set the size. Everything after it is the ES modules of dist/ (or src/).
//
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm install`, `npm start` and `npm test`
// run). Without a build, it falls back to the TypeScript sources through tsx, which is fine for
// development but slow: tsx's loader hooks make every dynamic import() a cross-thread round trip.
const { existsSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

// The AWS SDK prints a 10-line notice on every start under Node 20 (its releases after January 2027 will
// need Node 22). Darkroom declares and tests the Node versions it supports (package.json engines), so the
// notice says nothing its user can act on; set the variable to anything else to see it again.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// libvips (sharp) and file I/O, the embedded S3 server's included, share this pool: 4 threads for I/O (libuv's
// default) plus 2 per core for image work, which by default is one develop per core in the worker and one first
// render per core in the API. Darkroom never lets image work take the threads kept for I/O (issue 18.5,
// packages/server/src/pipeline/imaging-slots.ts); set the variable to choose another size.
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, 4 + 2 * os.availableParallelism()));
}

async function run() {
  const compiled = path.join(__dirname, '../dist/cli.js');
  let cli;
  if (existsSync(compiled) && process.env.DARKROOM_FROM_SOURCE !== '1') {
    cli = await import(pathToFileURL(compiled).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    cli = await import(pathToFileURL(path.join(__dirname, '../src/cli.ts')).href);
  }
  await cli.main(process.argv);
}

// Unhandled, as the top-level await it replaces: a failure is printed and the process exits 1.
run();
