// The uploader: checks and prepares each input, asks the API for an intent, and hands the bytes to sending
// (or an interrupted upload to resume); createUploader binds them to one endpoint and token.
import type { UploadIntent } from '@darkroom/contract';
import { platform } from '#platform';
import { ApiClient } from './api-client.ts';
import { cancelledError, UploadError } from './errors.ts';
import { fingerprint } from './fingerprint.ts';
import { type Context, Handle } from './handle.ts';
import { type Processor, prepare, renameFor } from './prepare.ts';
import {
  checkFile,
  checkFiles,
  DEFAULT_ALLOWED_TYPES,
  describeTypes,
  fileName,
  fileType,
  typeAllowed,
  typeLabel,
} from './restrictions.ts';
import { runResume, storedParts } from './resume.ts';
import { retryPolicy } from './retry.ts';
import { alreadyStored, finish, sendMultipart, sendSingle, untilDone } from './sending.ts';
import { StatusStream } from './status-stream.ts';
import type {
  ImageJson,
  PrepareResult,
  ProcessOptions,
  ResumeRecord,
  Uploader,
  UploaderOptions,
  UploadInput,
  UploadOptions,
} from './types.ts';

/** Resolves the file name, type and restrictions of an input, failing the handle with a clear message. */
async function openInput(input: UploadInput, options: UploadOptions, ctx: Context) {
  let file: Blob;
  if (typeof input === 'string') {
    try {
      file = await platform.openPath(input);
    } catch (err) {
      throw new UploadError(
        'file_unreadable',
        `Cannot read ${input}: ${(err as Error).message}`,
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    }
  } else {
    file = input;
  }
  const name = options.filename ?? (fileName(file) || 'image');
  const contentType = (options.contentType ?? fileType(file, name)).toLowerCase();
  const problem = checkFile(file, ctx.restrictions, name, contentType);
  if (problem) throw new UploadError(problem.code, problem.message);
  return { file, name, contentType };
}

async function runUpload(
  h: Handle,
  ctx: Context,
  input: UploadInput,
  options: UploadOptions,
): Promise<ImageJson> {
  h.setState('checking');
  const { file, name, contentType } = await openInput(input, options, ctx);
  if (h.signal.aborted) throw cancelledError();
  h.setState('preparing');
  const processOptions: ProcessOptions | false = options.process ?? ctx.options.process ?? {};
  const allowed = ctx.restrictions.allowedTypes ?? DEFAULT_ALLOWED_TYPES;
  // A type the server does not take (TIFF) is sent converted or not at all: never refused by the API.
  const mustConvert = !typeAllowed(contentType, allowed);
  const prepared = await prepare(
    file,
    contentType,
    processOptions,
    processOptions === false ? undefined : await ctx.processor(),
    (type) => typeAllowed(type, allowed),
    mustConvert,
  );
  if (mustConvert && !prepared.result.processed) {
    throw new UploadError('unsupported_type', notConverted(name, contentType, prepared.result, allowed));
  }
  h.setPrepared(prepared.result);
  if (h.signal.aborted) throw cancelledError();

  const body: UploadIntent = {
    filename: prepared.result.processed ? renameFor(name, prepared.contentType) : name,
    contentType: prepared.contentType,
    size: prepared.blob.size,
    ...(prepared.result.sha256 ? { sha256: prepared.result.sha256 } : {}),
    ...(prepared.result.thumbhash && prepared.result.thumbhash.length <= 100
      ? { thumbhash: prepared.result.thumbhash }
      : {}),
    ...(options.visibility ? { visibility: options.visibility } : {}),
    ...(options.method ? { method: options.method } : {}),
    ...(options.copy ? { copy: true } : {}),
  };
  const intent = await untilDone(h, ctx, () => ctx.api.createUpload(body, h.signal));
  const id = intent.image.id;
  h.imageId = id;
  if ('existing' in intent) return alreadyStored(h, intent.image);
  ctx.active.add(id);
  try {
    if (h.signal.aborted) throw cancelledError();
    h.setState('pending');
    const upload = intent.upload;
    h.setState('uploading');
    if (upload.method !== 'multipart') {
      const completed = await untilDone(h, ctx, async () => {
        await sendSingle(h, ctx, upload, prepared.blob);
        // Confirms the object and hands it to the workers even where storage sends no notifications.
        return ctx.api.complete(id, undefined, h.signal);
      });
      return finish(h, ctx, id, completed);
    }
    const now = Date.now();
    const record: ResumeRecord = {
      imageId: id,
      endpoint: ctx.api.endpoint,
      uploadId: upload.uploadId,
      partSize: upload.partSize,
      partCount: upload.partCount,
      source: await fingerprint(file, name),
      filename: body.filename,
      contentType: body.contentType,
      size: body.size,
      ...(body.sha256 ? { sha256: body.sha256 } : {}),
      ...(body.thumbhash ? { thumbhash: body.thumbhash } : {}),
      processed: prepared.result.processed,
      ...(processOptions !== false ? { process: processOptions } : {}),
      parts: [],
      blob: prepared.blob,
      ...(typeof input === 'string' ? { sourcePath: platform.absolutePath(input) } : {}),
      createdAt: now,
      updatedAt: now,
    };
    await ctx.store?.put(record).catch(() => {});
    h.record = record;
    const parallel = options.parallel ?? ctx.options.parallel ?? 4;
    const completed = await untilDone(h, ctx, async (again) =>
      sendMultipart(
        h,
        ctx,
        id,
        prepared.blob,
        record,
        again ? await storedParts(h, ctx, record) : [],
        parallel,
      ),
    );
    return finish(h, ctx, id, completed);
  } finally {
    ctx.active.delete(id);
  }
}

const NOT_CONVERTED_BECAUSE: Record<string, string> = {
  disabled: 'processing is turned off',
  no_processor: 'this device has no image processor',
  unsupported: 'it could not be read here',
  no_encoder: 'this device cannot encode WebP or JPEG',
  too_large_to_process: 'it is larger than 256 MiB',
  animated: 'it is animated',
  type_not_allowed: 'the server takes none of the types it can be converted to',
};

/** Why a file of a type the server does not take was not sent, in words. */
function notConverted(name: string, type: string, result: PrepareResult, allowed: readonly string[]): string {
  const reason = result.keptOriginalReason ?? 'unsupported';
  const why = NOT_CONVERTED_BECAUSE[reason] ?? reason.replace(/_/g, ' ');
  return `“${name}” is a ${typeLabel(type)} image, which is uploaded only once converted, and it could not be converted (${why}); convert it to ${describeTypes(allowed)} first.`;
}

/** Creates an uploader bound to one API endpoint and token. */
export function createUploader(options: UploaderOptions): Uploader {
  const policy = retryPolicy(options.retry);
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const api = new ApiClient(options.endpoint, options.token, policy, fetchImpl);
  let processor: Promise<Processor | undefined> | undefined;
  const stream = options.liveStatus === false ? undefined : new StatusStream(api, fetchImpl);
  const ctx: Context = {
    api,
    fetch: fetchImpl,
    policy,
    transport: options.transport ?? platform.transport,
    processor: () => {
      processor ??= platform.processor();
      return processor;
    },
    store: options.resumeStore === false ? undefined : (options.resumeStore ?? platform.resumeStore()),
    stream,
    options,
    restrictions: {
      ...options.restrictions,
      convertTypes:
        options.restrictions?.convertTypes ?? (options.process === false ? [] : platform.convertTypes),
    },
    active: new Set(),
  };
  return {
    api,
    upload(file, uploadOptions = {}) {
      return new Handle(ctx, uploadOptions, (h) => runUpload(h, ctx, file, uploadOptions), file);
    },
    retry(failed, uploadOptions) {
      if (!(failed instanceof Handle)) throw new TypeError('retry() takes a handle of this uploader.');
      const options = uploadOptions ?? failed.options;
      const record = failed.record;
      // The same intent, from where storage stopped: the parts it holds are not sent again.
      const resumable =
        failed.state === 'failed' && !failed.isStored && failed.failure?.code !== 'resume_unavailable';
      if (record && resumable) {
        return new Handle(ctx, options, (h) => runResume(h, ctx, record, undefined, options));
      }
      // Nothing to resume (a single PUT, or the server forgot the upload): the old intent must not stay
      // pending (it counts against the owner's pending limit), so it goes before the fresh upload.
      const oldId = failed.isStored ? undefined : failed.imageId;
      const input = failed.input ?? record?.blob ?? record?.sourcePath;
      if (input === undefined) throw new TypeError('This upload has no file left to send again.');
      const fresh =
        failed.input === undefined && record
          ? {
              ...options,
              filename: record.filename,
              contentType: record.contentType,
              process: false as const,
            }
          : options;
      return new Handle(
        ctx,
        fresh,
        async (h) => {
          if (oldId) {
            await api.abort(oldId).catch(() => {});
            await ctx.store?.delete(oldId).catch(() => {});
          }
          return runUpload(h, ctx, input, fresh);
        },
        input,
      );
    },
    checkFiles(files) {
      return checkFiles(files, ctx.restrictions);
    },
    async pendingResumes() {
      if (!ctx.store) return [];
      const records = await ctx.store.list();
      return records
        .filter((r) => r.endpoint === api.endpoint && !ctx.active.has(r.imageId))
        .sort((a, b) => a.createdAt - b.createdAt);
    },
    resume(record, file, uploadOptions = {}) {
      return new Handle(ctx, uploadOptions, (h) => runResume(h, ctx, record, file, uploadOptions));
    },
    async discardResume(record) {
      await api.abort(record.imageId).catch((err: unknown) => {
        if (!(err instanceof UploadError && (err.status === 404 || err.status === 409))) throw err;
      });
      await ctx.store?.delete(record.imageId);
    },
    onImageEvent(listener) {
      if (!stream) throw new UploadError('http_error', 'Live status is disabled (liveStatus: false).');
      return stream.subscribe((e) =>
        listener({ imageId: e.imageId, status: e.status, ...(e.image ? { image: e.image } : {}) }),
      );
    },
    close() {
      stream?.close();
    },
  };
}
