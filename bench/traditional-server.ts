/**
 * The upload-paths benchmark's baseline: the "traditional" upload route the seed article argues against.
 * A Fastify `POST /upload` verifies the bearer JWT, parses multipart/form-data with busboy, streams the
 * file part to a temp file, PutObjects that file to S3 (AWS SDK v3), deletes the temp file, inserts a
 * row into SQLite (better-sqlite3) and answers JSON. Prints `listening <port>`.
 *
 * Environment: S3_ENDPOINT, S3_BUCKET, S3_REGION, DARKROOM_S3_ACCESS_KEY_ID, DARKROOM_S3_SECRET_ACCESS_KEY,
 * JWT_SECRET, TEMP_DIR (temp files), DB_FILE (SQLite).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import busboy from 'busboy';
import Fastify, { type FastifyRequest } from 'fastify';
import { jwtVerify } from 'jose';

/** A required environment variable, or exit with its name. */
function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`traditional-server: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const bucket = env('S3_BUCKET');
const tempDir = env('TEMP_DIR');
const jwtKey = new TextEncoder().encode(env('JWT_SECRET'));
const MAX_BYTES = 200 * 1024 * 1024;
const ALLOWED = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif', 'image/heic']);

const s3 = new S3Client({
  endpoint: env('S3_ENDPOINT'),
  region: env('S3_REGION'),
  forcePathStyle: true,
  credentials: {
    accessKeyId: env('DARKROOM_S3_ACCESS_KEY_ID'),
    secretAccessKey: env('DARKROOM_S3_SECRET_ACCESS_KEY'),
  },
});

const db = new Database(env('DB_FILE'));
// WAL + NORMAL is what a typical SQLite-backed app runs with (and what darkroom's SQLite uses).
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, object_key TEXT NOT NULL, filename TEXT NOT NULL,
  content_type TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
const insert = db.prepare(
  'INSERT INTO images (id, owner, object_key, filename, content_type, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
);

interface Received {
  file: string;
  filename: string;
  contentType: string;
  bytes: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses the multipart body; streams the single `file` part to a temp file and resolves with it. */
function receive(request: FastifyRequest): Promise<Received> {
  return new Promise<Received>((resolve, reject) => {
    const bb = busboy({ headers: request.headers, limits: { files: 1, fileSize: MAX_BYTES } });
    let written: Promise<Received> | undefined;
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || !ALLOWED.has(info.mimeType)) {
        stream.resume();
        written = Promise.reject(new HttpError(415, `unsupported part ${name} (${info.mimeType})`));
        return;
      }
      const file = path.join(tempDir, `${randomUUID()}.part`);
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      written = pipeline(stream, fs.createWriteStream(file)).then(
        () => {
          if ((stream as { truncated?: boolean }).truncated) {
            return fsp.rm(file, { force: true }).then(() => {
              throw new HttpError(413, 'file too large');
            });
          }
          return { file, filename: info.filename ?? 'upload', contentType: info.mimeType, bytes };
        },
        async (err: unknown) => {
          await fsp.rm(file, { force: true });
          throw err;
        },
      );
    });
    bb.on('error', reject);
    bb.on('close', () => {
      if (!written) reject(new HttpError(400, 'no file part'));
      else written.then(resolve, reject);
    });
    request.raw.pipe(bb);
  });
}

const app = Fastify({ bodyLimit: MAX_BYTES });
// Leave the body unread: busboy streams it from request.raw in the handler.
app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));

app.post('/upload', async (request, reply) => {
  const auth = request.headers.authorization ?? '';
  let owner: string;
  try {
    const { payload } = await jwtVerify(auth.replace(/^Bearer /, ''), jwtKey, { algorithms: ['HS256'] });
    owner = payload.sub ?? '';
  } catch {
    request.raw.resume();
    return reply.code(401).send({ error: 'unauthorized' });
  }
  let received: Received;
  try {
    received = await receive(request);
  } catch (err) {
    const status = err instanceof HttpError ? err.status : 400;
    return reply.code(status).send({ error: err instanceof Error ? err.message : String(err) });
  }
  const id = randomUUID();
  const key = `uploads/${id}`;
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: fs.createReadStream(received.file),
        ContentLength: received.bytes,
        ContentType: received.contentType,
      }),
    );
  } finally {
    await fsp.rm(received.file, { force: true });
  }
  insert.run(id, owner, key, received.filename, received.contentType, received.bytes, Date.now());
  return reply.code(201).send({ id, key, bytes: received.bytes, status: 'stored' });
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
process.on(
  'SIGTERM',
  () =>
    void app.close().then(() => {
      s3.destroy();
      db.close();
      process.exit(0);
    }),
);
