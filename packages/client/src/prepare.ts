import { isAnimated } from './animation.ts';
import { sha256Blob } from './hash.ts';
import type { PrepareResult, ProcessOptions } from './types.ts';

/** Processing options with defaults filled in. */
export interface ResolvedProcessOptions {
  maxEdge: number;
  format: 'webp' | 'jpeg';
  quality: number;
}

/** Defaults: WebP, longest edge 2560 (the largest default variant), quality 0.82. */
export function resolveProcessOptions(o: ProcessOptions = {}): ResolvedProcessOptions {
  return { maxEdge: o.maxEdge ?? 2560, format: o.format ?? 'webp', quality: o.quality ?? 0.82 };
}

/** What a runtime's image processor (Web Worker, sharp) gives back. */
export interface ProcessorResult {
  /** The re-encoded image, unless `mode` was thumbhash-only or decoding failed. */
  output?: { blob: Blob; contentType: string; width: number; height: number };
  /** Source size after orientation. */
  width?: number;
  height?: number;
  thumbhash?: string;
  /** Why there is no output: `unsupported` (cannot decode), `no_encoder`. */
  reason?: string;
}

/** Re-encodes one image (mode `encode`), or only computes its thumbhash. */
export type Processor = (
  blob: Blob,
  options: ResolvedProcessOptions,
  mode: 'encode' | 'thumbhash',
) => Promise<ProcessorResult>;

/** Above this, files are sent as they are, unhashed: WebCrypto cannot hash a stream. */
export const MAX_PROCESS_BYTES = 256 * 1024 * 1024;

/** The file name with the extension of the new type ("IMG_1.HEIC" → "IMG_1.webp"). */
export function renameFor(name: string, contentType: string): string {
  const ext = contentType === 'image/jpeg' ? 'jpg' : contentType.replace(/^image\//, '');
  const base = name.replace(/\.[A-Za-z0-9]{1,5}$/, '');
  return `${base || 'image'}.${ext}`;
}

/**
 * Decides what to send: the processed image when it is smaller and safe, else the original; then
 * hashes what will be sent. Never throws for an image problem: the original is the fallback.
 */
export async function prepare(
  file: Blob,
  contentType: string,
  options: ProcessOptions | false,
  processor: Processor | undefined,
  /** Types the server takes, when known: an output of another type is not used. */
  acceptable?: (type: string) => boolean,
  /** The server does not take the original's type: the conversion is used even when it is larger. */
  mustConvert = false,
): Promise<{ blob: Blob; contentType: string; result: PrepareResult }> {
  const started = Date.now();
  const keep = async (reason: string, extra: ProcessorResult = {}) => ({
    blob: file,
    contentType,
    result: {
      originalBytes: file.size,
      bytes: file.size,
      processed: false,
      keptOriginalReason: reason,
      contentType,
      ...(extra.width ? { width: extra.width, height: extra.height } : {}),
      sha256: file.size <= MAX_PROCESS_BYTES ? await sha256Blob(file) : '',
      ...(extra.thumbhash ? { thumbhash: extra.thumbhash } : {}),
      ms: Date.now() - started,
    } satisfies PrepareResult,
  });
  if (options === false) return keep('disabled');
  if (file.size > MAX_PROCESS_BYTES) return keep('too_large_to_process');
  if (!processor) return keep('no_processor');
  const resolved = resolveProcessOptions(options);
  // GIF frames can be anywhere in the file; WebP and APNG say so in their first chunks.
  const magic = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const isGif = magic[0] === 0x47 && magic[1] === 0x49 && magic[2] === 0x46;
  const head = new Uint8Array(await (isGif ? file : file.slice(0, 1024 * 1024)).arrayBuffer());
  if (isAnimated(head)) {
    // A canvas keeps only the first frame: send the animation itself, with a placeholder of frame one.
    return keep('animated', await processor(file, resolved, 'thumbhash').catch(() => ({})));
  }
  let out: ProcessorResult;
  try {
    out = await processor(file, resolved, 'encode');
  } catch {
    out = { reason: 'unsupported' };
  }
  if (!out.output) return keep(out.reason ?? 'unsupported', out);
  if (acceptable && !acceptable(out.output.contentType)) return keep('type_not_allowed', out);
  if (out.output.blob.size >= file.size && !mustConvert) return keep('not_smaller', out);
  const blob = out.output.blob;
  return {
    blob,
    contentType: out.output.contentType,
    result: {
      originalBytes: file.size,
      bytes: blob.size,
      processed: true,
      contentType: out.output.contentType,
      width: out.output.width,
      height: out.output.height,
      sha256: await sha256Blob(blob),
      ...(out.thumbhash ? { thumbhash: out.thumbhash } : {}),
      ms: Date.now() - started,
    },
  };
}
