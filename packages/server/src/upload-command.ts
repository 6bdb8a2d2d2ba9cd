/**
 * `darkroom upload FILE…`: uploads from a terminal through the client SDK (the same code path as the
 * web app: processing through sharp, presigned PUT/multipart straight to storage, live status), with a
 * progress bar per file and a summary. Exit code 1 when any upload failed.
 */
import path from 'node:path';
import {
  createFileResumeStore,
  createUploader,
  formatBytes,
  type ImageJson,
  UploadError,
  type UploadHandle,
  type UploadState,
} from '@darkroom/client';
import { mintToken } from './api/auth/jwt.ts';
import { DEV_USER } from './api/web-app.ts';
import type { Config } from './config.ts';

export interface UploadCommandOptions {
  endpoint?: string | undefined;
  token?: string | undefined;
  sub: string;
  visibility?: 'public' | 'private' | undefined;
  /** Process (resize, re-encode) before upload; `--no-process` sends files as they are. */
  process: boolean;
  /** Wait until each image is ready or failed (`--no-wait` stops once the bytes are stored). */
  wait: boolean;
  /** Files uploaded at the same time. */
  concurrency?: number;
  /**
   * Where interrupted multipart uploads are remembered, so running the same command again continues
   * them; `false` disables it. Default `{DARKROOM_DATA_DIR}/upload-resume.json`.
   */
  resumeFile?: string | false;
  /** How long an unreachable server or storage may stay away before a file fails. Default 60 s. */
  offlineWaitSeconds?: number;
}

interface Output {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

interface Row {
  file: string;
  name: string;
  handle?: UploadHandle;
  state: UploadState | 'queued';
  fraction: number;
  originalBytes?: number;
  /** Size of what is uploaded (after processing). */
  sentBytes?: number;
  /** Bytes this run put on the wire for the file, failed attempts included. */
  sentThisRun: number;
  /** Bytes storage already held from an earlier run (a resumed upload's stored parts). */
  alreadyStored: number;
  image?: ImageJson;
  error?: string;
  resumed?: boolean;
  /** The owner already had these bytes: the upload is that image, and nothing was sent. */
  existing?: boolean;
}

const BAR = 24;

function bar(fraction: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * BAR);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
}

function label(row: Row, fit: boolean): string {
  const pct = `${String(Math.floor(row.fraction * 100)).padStart(3)}%`;
  const sizes =
    row.sentBytes !== undefined && row.originalBytes !== undefined
      ? `${formatBytes(row.originalBytes)} → ${formatBytes(row.sentBytes)}`
      : '';
  const state = row.existing ? `${row.state} (already uploaded)` : row.state;
  const status = `${row.resumed ? 'resumed, ' : ''}${row.error ? `${row.state}: ${row.error}` : state}`;
  const name = fit && row.name.length > 32 ? `${row.name.slice(0, 31)}…` : row.name;
  return `${name.padEnd(32)} ${bar(row.fraction)} ${pct} ${sizes.padEnd(22)} ${status}`;
}

/** The `sub` of a token, read without verifying it (only to say whose images these become). */
function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload?.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where to look at an uploaded image: its largest variant once developed (signed for a private image),
 * else its JSON on the API (`--no-wait`, or not developed yet).
 */
export function imageUrl(endpoint: string, image: ImageJson): string {
  const largest = Object.values(image.variants).sort((a, b) => b.width - a.width)[0];
  return largest?.url ?? `${endpoint.replace(/\/$/, '')}/v1/images/${image.id}`;
}

/** Uploads `files`; resolves with the process exit code (0 all good, 1 any failed). */
export async function runUploadCommand(
  config: Config,
  files: string[],
  opts: UploadCommandOptions,
  out: Output = process.stdout,
): Promise<number> {
  const started = Date.now();
  const endpoint = opts.endpoint ?? config.publicBaseUrl;
  let token = opts.token;
  if (!token) {
    if (config.jwt.secret === undefined) {
      throw new Error('DARKROOM_JWT_JWKS_URL is set, so Darkroom cannot mint tokens: pass --token');
    }
    const { secret, issuer, audience } = config.jwt;
    token = await mintToken(secret, {
      sub: opts.sub,
      ttlSeconds: 24 * 3600,
      ...(issuer === undefined ? {} : { issuer }),
      ...(audience === undefined ? {} : { audience }),
    });
  }
  const resumeStore =
    opts.resumeFile === false
      ? false
      : createFileResumeStore(opts.resumeFile ?? path.join(config.dataDir, 'upload-resume.json'));
  const owner = opts.token ? subjectOf(opts.token) : opts.sub;
  // Whose images these become: the web app's development user unless told otherwise (issue 17).
  out.write(
    `Uploading ${files.length} ${files.length === 1 ? 'file' : 'files'} to ${endpoint} as ${owner === undefined ? "the token's user" : `"${owner}"`}` +
      (owner === DEV_USER ? " (the web app's development user: they show in its gallery)" : '') +
      '\n',
  );
  const uploader = createUploader({
    endpoint,
    token,
    process: opts.process ? {} : false,
    resumeStore,
    liveStatus: opts.wait,
    offlineGiveUpMs: (opts.offlineWaitSeconds ?? 60) * 1000,
  });
  // Interrupted multipart uploads of these very files (Ctrl-C, a crash, a lost network) continue.
  const interrupted = await uploader.pendingResumes();
  const rows: Row[] = files.map((file) => ({
    file,
    name: path.basename(file),
    state: 'queued',
    fraction: 0,
    sentThisRun: 0,
    alreadyStored: 0,
  }));
  const tty = Boolean(out.isTTY);
  let drawn = 0;
  const draw = () => {
    if (!tty) return;
    // Move up over the previous frame and redraw every line (\x1b[2K clears the line).
    let frame = drawn ? `\x1b[${drawn}A` : '';
    for (const row of rows) frame += `\x1b[2K${label(row, true)}\n`;
    drawn = rows.length;
    out.write(frame);
  };
  let redraw: ReturnType<typeof setTimeout> | undefined;
  const scheduleDraw = () => {
    redraw ??= setTimeout(() => {
      redraw = undefined;
      draw();
    }, 80);
  };
  const line = (row: Row) => {
    if (!tty) out.write(`${label(row, false)}${row.image ? ` ${row.image.id}` : ''}\n`);
  };

  const uploadOptions = { wait: opts.wait, ...(opts.visibility ? { visibility: opts.visibility } : {}) };

  /** Attaches the row to a handle and waits for it; the error, if any, is returned. */
  const follow = async (row: Row, handle: UploadHandle): Promise<unknown> => {
    row.handle = handle;
    row.state = handle.state;
    row.error = undefined;
    handle.on('prepared', (p) => {
      row.originalBytes = p.originalBytes;
      row.sentBytes = p.bytes;
      scheduleDraw();
    });
    handle.on('progress', (p) => {
      row.fraction = p.fraction;
      row.alreadyStored = p.alreadyStored;
      // Only ever up: a part sent twice (a retry) counts once, like the bar.
      row.sentThisRun = Math.max(row.sentThisRun, p.sent - p.alreadyStored);
      scheduleDraw();
    });
    handle.on('status', (s) => {
      row.state = s.state;
      if (s.error) row.error = s.error.message;
      // Honest bytes: an image the owner already had sent nothing.
      if (s.existing) {
        row.existing = true;
        row.sentBytes = 0;
      }
      // A terminal cannot ask for the file again: the path no longer reads; give up on this one.
      if (s.state === 'needs-file') void handle.cancel();
      scheduleDraw();
    });
    try {
      row.image = await handle.result;
      return undefined;
    } catch (err) {
      row.state = 'failed';
      row.error = err instanceof Error ? err.message : String(err);
      return err;
    }
  };

  const uploadOne = async (row: Row) => {
    const record = interrupted.find((r) => r.sourcePath === path.resolve(row.file));
    if (record) {
      interrupted.splice(interrupted.indexOf(record), 1);
      row.resumed = true;
      row.originalBytes = record.source.size;
      row.sentBytes = record.size;
      const err = await follow(row, uploader.resume(record, row.file, uploadOptions));
      const startOver =
        err instanceof UploadError && ['file_mismatch', 'resume_unavailable'].includes(err.code);
      if (!startOver) return line(row);
      // The file changed since, or the server forgot the upload: upload it afresh.
      await uploader.discardResume(record).catch(() => {});
      row.resumed = false;
    }
    await follow(row, uploader.upload(row.file, uploadOptions));
    line(row);
  };

  draw();
  const queue = [...rows];
  const lanes = Array.from(
    { length: Math.max(1, Math.min(opts.concurrency ?? 3, rows.length)) },
    async () => {
      for (let row = queue.shift(); row; row = queue.shift()) await uploadOne(row);
    },
  );
  await Promise.all(lanes);
  if (redraw) clearTimeout(redraw);
  draw();
  uploader.close();

  const good = opts.wait ? 'ready' : 'uploaded';
  const succeeded = rows.filter((r) => r.image && r.state !== 'failed' && r.state !== 'cancelled');
  const failed = rows.length - succeeded.length;
  const original = rows.reduce((s, r) => s + (r.originalBytes ?? 0), 0);
  // Honest bytes: what this run sent, failed files included, apart from what an earlier run stored.
  const sent = rows.reduce((s, r) => s + r.sentThisRun, 0);
  const stored = rows.reduce((s, r) => s + r.alreadyStored, 0);
  const saved =
    original > 0 ? Math.round((1 - rows.reduce((s, r) => s + (r.sentBytes ?? 0), 0) / original) * 100) : 0;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out.write(
    `${rows.length} ${rows.length === 1 ? 'file' : 'files'}: ${succeeded.length} ${good}, ${failed} failed; ` +
      `sent ${formatBytes(sent)}${stored > 0 ? ` (${formatBytes(stored)} already stored by an earlier run)` : ''} ` +
      `of ${formatBytes(original)} original (${saved}% saved by processing) in ${seconds} s\n`,
  );
  for (const r of succeeded) {
    if (!r.image) continue;
    const note = r.existing ? ' (already uploaded: the same bytes, stored once)' : '';
    out.write(`${r.existing ? 'ready' : good}: ${r.file}: ${imageUrl(endpoint, r.image)}${note}\n`);
  }
  if (succeeded.length > 0 && owner === DEV_USER) {
    out.write(
      `Gallery: ${endpoint.replace(/\/$/, '')}/ (the web app, signed in as "${DEV_USER}" in development)\n`,
    );
  }
  for (const r of rows.filter((r) => r.state === 'failed'))
    out.write(`failed: ${r.file}: ${r.error ?? 'unknown error'}\n`);
  return failed > 0 ? 1 : 0;
}
