import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEV_USER } from './api/web-app.ts';
import { type Config, ConfigError, loadConfig, unknownVariableWarnings } from './config.ts';
import { createLogger } from './log.ts';
import { runApiRole } from './roles/api.ts';
import { checkPorts, explainListenError, ListenError, type PortSetting } from './roles/ports.ts';
import { PreflightError } from './roles/preflight.ts';
import { runS3Role } from './roles/s3.ts';
import { runSetup } from './roles/setup.ts';
import { runSqsRole } from './roles/sqs.ts';
import { runStart } from './roles/start.ts';
import { runTokenCommand } from './roles/token.ts';
import { runWorkerRole } from './roles/worker.ts';
import { generatedKeyPath, type Role, resolveSecrets } from './secrets/development.ts';

interface Closable {
  close(graceMs?: number): Promise<void>;
}

/** Exits 0 after closing `parts` on SIGINT/SIGTERM; a second signal exits at once. */
function closeOnSignal(parts: Closable[], config: Config, log: Logger): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    // In order: each part stops before the ones it depends on (API, then storage, then queue).
    (async () => {
      for (const part of parts) await part.close(config.shutdownTimeoutMs);
    })().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function configOrExit(): Config {
  // A .env file fills in what the environment does not set; real variables win.
  loadDotenv({ quiet: true });
  // A misspelt variable would otherwise be ignored in silence, its default used instead.
  for (const warning of unknownVariableWarnings(process.env)) {
    process.stderr.write(`darkroom: warning: ${warning}\n`);
  }
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`darkroom: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The configuration of a server role, its development secrets resolved (see secrets/development.ts). */
async function roleConfigOrExit(role: Role): Promise<Config> {
  const config = configOrExit();
  try {
    return await resolveSecrets(config, role);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`darkroom: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The ports each role listens on, with the variables that set them. */
const ports = {
  api: (c: Config): PortSetting => ({
    variable: 'DARKROOM_PORT',
    serves: 'the API and web app',
    host: c.host,
    port: c.port,
  }),
  s3: (c: Config): PortSetting => ({
    variable: 'DARKROOM_S3_PORT',
    serves: 'the embedded S3 server',
    host: c.host,
    port: c.s3.port,
  }),
  sqs: (c: Config): PortSetting => ({
    variable: 'DARKROOM_SQS_PORT',
    serves: 'the embedded SQS server',
    host: c.host,
    port: c.sqs.port,
  }),
  workerMetrics: (c: Config): PortSetting[] =>
    c.worker.metricsPort === undefined
      ? []
      : [
          {
            variable: 'DARKROOM_WORKER_METRICS_PORT',
            serves: "the worker's metrics",
            host: c.host,
            port: c.worker.metricsPort,
          },
        ],
};

/**
 * Runs a role that listens on `settings`: every port is checked first, so one message names each busy one
 * and its variable; a listen that fails anyway (a race) is explained the same way.
 */
async function listening<T>(settings: PortSetting[], command: string, run: () => Promise<T>): Promise<T> {
  await checkPorts(settings, command);
  try {
    return await run();
  } catch (err) {
    throw (await explainListenError(err, settings, command)) ?? err;
  }
}

/** `label` padded so the values of a block of lines start in one column. */
function aligned(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 1;
  return rows.map(([label, value]) => `  ${`${label}:`.padEnd(width + 1)}${value}\n`).join('');
}

function printCredentials(config: Config): void {
  if (config.jwt.usingDevSecret) {
    process.stdout.write(
      '  JWT secret: development default. Mint a token with `npx darkroom token --sub you`.\n' +
        '  Set DARKROOM_JWT_SECRET (or DARKROOM_JWT_JWKS_URL) for anything but local development.\n',
    );
  }
  if (config.s3.accessKeySource === 'development' && config.s3.endpoint === undefined) {
    const key = config.s3.accessKeys[0]!;
    process.stdout.write(
      `  S3 access key (development default): ${key.accessKeyId} / ${key.secretAccessKey}\n` +
        '  Set DARKROOM_S3_ACCESS_KEY_ID and DARKROOM_S3_SECRET_ACCESS_KEY for anything but local development.\n',
    );
  }
  if (config.s3.accessKeySource === 'generated') {
    process.stdout.write(
      `  S3 access key: generated for this data dir, in ${generatedKeyPath(config.dataDir)}\n` +
        '  (the published development pair is refused once a secret of your own is set).\n',
    );
  }
}

/** A minimal GET /metrics server for a standalone worker (DARKROOM_WORKER_METRICS_PORT). */
async function serveMetrics(registry: Registry, config: Config) {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.worker.metricsPort, config.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs the CLI; a role that cannot start says why on stderr and exits 1, without a stack trace. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildCli().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof PreflightError || err instanceof ListenError) {
      process.stderr.write(`darkroom: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Builds the `darkroom` command line. */
export function buildCli(): Command {
  const program = new Command('darkroom')
    .description(
      'Image uploads the way large sites do them: presigned URLs, direct-to-S3, queues, CDN delivery.',
    )
    .addHelpText(
      'after',
      '\nConfiguration comes from DARKROOM_* environment variables (and a .env file); see README.md.',
    )
    .showHelpAfterError();

  program
    .command('start')
    .description(
      'Run everything in one process: the API and the web app (DARKROOM_PORT), an image worker, and the embedded S3 (DARKROOM_S3_PORT) and SQS (DARKROOM_SQS_PORT) servers with the bucket and the uploads queue set up. Data under DARKROOM_DATA_DIR.',
    )
    .action(async () => {
      const config = await roleConfigOrExit('start');
      const log = createLogger(config, 'start');
      const started = await listening(
        [ports.api(config), ports.s3(config), ports.sqs(config)],
        'npm start',
        () => runStart(config, log),
      );
      process.stdout.write(
        `Darkroom is running.\n${aligned([
          ['Web app', `${started.urls.api}/`],
          ['API', `${started.urls.api}  (OpenAPI docs at ${started.urls.api}/docs)`],
          ['S3 endpoint', `${started.urls.s3}  (bucket "${started.bucket}", region ${config.s3.region})`],
          ['SQS endpoint', `${started.urls.sqs}  (queue ${config.queue.name})`],
          [
            'Worker',
            `${config.worker.concurrency} image${config.worker.concurrency === 1 ? '' : 's'} at a time`,
          ],
          ['Data', config.dataDir],
        ])}`,
      );
      printCredentials(config);
      closeOnSignal(started.parts, config, log);
    });

  program
    .command('sqs')
    .description(
      'Run the embedded SQS-compatible server alone (port DARKROOM_SQS_PORT, data under DARKROOM_DATA_DIR/sqs) with the uploads queue (DARKROOM_QUEUE_NAME) and its dead-letter queue.',
    )
    .action(async () => {
      const config = await roleConfigOrExit('sqs');
      const log = createLogger(config, 'sqs');
      const sqs = await listening([ports.sqs(config)], 'npx darkroom sqs', () => runSqsRole(config, log));
      process.stdout.write(`Embedded SQS listening on ${sqs.url} (queue ${config.queue.name})\n`);
      printCredentials(config);
      closeOnSignal([sqs], config, log);
    });

  program
    .command('worker')
    .description(
      'Run an image worker alone: takes uploads from the queue (DARKROOM_QUEUE_URL, or the embedded SQS server at DARKROOM_HOST:DARKROOM_SQS_PORT) and develops each original.',
    )
    .action(async () => {
      const config = await roleConfigOrExit('worker');
      const log = createLogger(config, 'worker');
      const { worker, metrics } = await listening(
        ports.workerMetrics(config),
        'npx darkroom worker',
        async () => {
          const worker = await runWorkerRole(config, log);
          const metrics =
            config.worker.metricsPort === undefined
              ? undefined
              : await serveMetrics(worker.metrics.registry, config).catch(async (err: unknown) => {
                  await worker.close();
                  throw err;
                });
          return { worker, metrics };
        },
      );
      process.stdout.write(
        `Darkroom worker running (${config.worker.concurrency} at a time)${metrics ? `; metrics at ${metrics.url}/metrics` : ''}\n`,
      );
      closeOnSignal(metrics ? [worker, metrics] : [worker], config, log);
    });

  program
    .command('api')
    .description(
      'Run the HTTP API alone (port DARKROOM_PORT). Without DARKROOM_S3_ENDPOINT it uses the embedded S3 server at DARKROOM_HOST:DARKROOM_S3_PORT.',
    )
    .action(async () => {
      const config = await roleConfigOrExit('api');
      const log = createLogger(config, 'api');
      const api = await listening([ports.api(config)], 'npx darkroom api', () => runApiRole(config, log));
      process.stdout.write(`Darkroom API listening on ${api.url}\n`);
      printCredentials(config);
      closeOnSignal([api], config, log);
    });

  program
    .command('setup')
    .description(
      'Provision what the configured engines need, idempotently: bucket, CORS, lifecycle rules, the queue and its dead-letter queue, and the bucket → queue notification (Ceph RGW topic, embedded S3; MinIO: prints the mc commands). On AWS it only checks (the CDK stack provisions).',
    )
    .action(async () => {
      const config = await roleConfigOrExit('setup');
      const log = createLogger(config, 'setup');
      const report = await runSetup(config, log);
      const out: string[] = [];
      if (config.s3.provider === 'aws') {
        out.push('On AWS the CDK stack (packages/infra) provisions; setup only checked it.');
      } else if (report.changed.length === 0) {
        out.push('Nothing to change: everything was already in place.');
      } else {
        out.push(`Set up ${report.changed.length} thing${report.changed.length === 1 ? '' : 's'}:`);
        out.push(...report.changed.map((c) => `  - ${c}`));
      }
      if (report.manual.length > 0) out.push('To do by hand:', ...report.manual.map((m) => `  ${m}`));
      if (report.warnings.length > 0) out.push('Warnings:', ...report.warnings.map((w) => `  - ${w}`));
      out.push('Checked: the bucket and the queue are ready for `darkroom api` and `darkroom worker`.');
      process.stdout.write(`${out.join('\n')}\n`);
      process.exit(0);
    });

  program
    .command('token')
    .description('Mint an API token (HS256, signed with DARKROOM_JWT_SECRET) for development and scripts.')
    .requiredOption('--sub <user>', 'the owner the token speaks for (JWT sub)')
    .option('--ttl <duration>', 'lifetime: 90s, 15m, 1h, 7d or seconds', '1h')
    .action(async (opts: { sub: string; ttl: string }) => {
      const config = configOrExit();
      try {
        const result = await runTokenCommand(config, opts);
        if (result.usingDevSecret) {
          process.stderr.write(
            'darkroom: warning: signed with the development JWT secret; set DARKROOM_JWT_SECRET.\n',
          );
        }
        process.stdout.write(`${result.token}\n`);
      } catch (err) {
        process.stderr.write(`darkroom: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(2);
      }
    });

  program
    .command('upload')
    .description('Upload images through the client SDK, with a progress bar per file and a summary.')
    .argument('<files...>', 'image files to upload')
    .option('--endpoint <url>', 'API base URL (default: DARKROOM_PUBLIC_BASE_URL)')
    .option('--token <jwt>', 'API token (default: one minted with DARKROOM_JWT_SECRET for --sub)')
    .option(
      '--sub <user>',
      'owner of the minted token; the default is the user the web app signs in as in development, so uploads show in its gallery',
      DEV_USER,
    )
    .option('--visibility <visibility>', 'public or private')
    .option('--no-process', 'send the files as they are (no resize or re-encode)')
    .option('--no-wait', 'stop once the bytes are stored instead of waiting until the images are ready')
    .option(
      '--resume-file <path>',
      'where interrupted large uploads are remembered, to continue them when run again (default: DARKROOM_DATA_DIR/upload-resume.json)',
    )
    .option('--no-resume', 'neither continue nor remember interrupted uploads')
    .option(
      '--offline-wait <seconds>',
      'how long to wait for an unreachable server or storage to come back before a file fails (its upload can be continued by running the command again)',
      '60',
    )
    .action(
      async (
        files: string[],
        opts: {
          endpoint?: string;
          token?: string;
          sub: string;
          visibility?: string;
          process: boolean;
          wait: boolean;
          resume: boolean;
          resumeFile?: string;
          offlineWait: string;
        },
      ) => {
        const config = configOrExit();
        if (opts.visibility !== undefined && opts.visibility !== 'public' && opts.visibility !== 'private') {
          process.stderr.write('darkroom: --visibility must be public or private\n');
          process.exit(2);
        }
        const offlineWaitSeconds = Number(opts.offlineWait);
        if (!/^\d+(\.\d+)?$/.test(opts.offlineWait) || !Number.isFinite(offlineWaitSeconds)) {
          process.stderr.write('darkroom: --offline-wait must be a number of seconds, e.g. 60\n');
          process.exit(2);
        }
        try {
          // Loaded only for this command: the server roles never load the client SDK.
          const { runUploadCommand } = await import('./upload-command.ts');
          const code = await runUploadCommand(config, files, {
            ...opts,
            visibility: opts.visibility as 'public' | 'private' | undefined,
            resumeFile: opts.resume ? opts.resumeFile : false,
            offlineWaitSeconds,
          });
          // Keep-alive sockets must not hold the terminal once the summary is out.
          process.exit(code);
        } catch (err) {
          process.stderr.write(`darkroom: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exit(2);
        }
      },
    );

  program
    .command('s3')
    .description(
      'Run the embedded S3-compatible server alone (port DARKROOM_S3_PORT, data under DARKROOM_DATA_DIR/s3).',
    )
    .action(async () => {
      const config = await roleConfigOrExit('s3');
      const log = createLogger(config, 's3');
      const s3 = await listening([ports.s3(config)], 'npx darkroom s3', () => runS3Role(config, log));
      process.stdout.write(`Embedded S3 listening on ${s3.url} (region ${config.s3.region})\n`);
      printCredentials(config);
      closeOnSignal([s3], config, log);
    });

  return program;
}
