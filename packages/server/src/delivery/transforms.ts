import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { VariantRecord } from '../domain/image-view.ts';
import { CONTENT_TYPES, encodeAs, FILE_EXTENSIONS, type VariantFormat } from '../pipeline/index.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import { IMMUTABLE } from './cache-policy.ts';
import type { DeliveryMetrics } from './metrics.ts';
import type { FormatChoice } from './negotiate.ts';
import type { TransformOptions } from './transform-options.ts';

/** The stored variant a transform is rendered from. */
export interface TransformSource {
  key: string;
  width: number;
  height: number;
}

/**
 * Transforms are rendered from the largest variant, not the original: its pixels are already upright,
 * sRGB and stripped of metadata, and it is in a format libvips decodes directly (no HEIC, no hostile
 * input). Among its encodings the quickest to decode is used (AVIF last). Undefined when there is none.
 */
export function transformSource(variants: Record<string, VariantRecord>): TransformSource | undefined {
  let best: VariantRecord | undefined;
  for (const v of Object.values(variants)) {
    if (!best || v.width * v.height > best.width * best.height) best = v;
  }
  if (!best) return undefined;
  const encodings = [best, ...(best.alternates ?? [])];
  const pick = encodings.find((e) => e.contentType !== 'image/avif') ?? best;
  return { key: pick.key, width: best.width, height: best.height };
}

/**
 * The concrete output format. `f_auto` negotiates like variants (avif > webp > original), `original`
 * meaning PNG for images that came as PNG or GIF (they may be transparent), JPEG otherwise.
 */
export function resolveTransformFormat(
  options: TransformOptions,
  accepted: FormatChoice,
  originalFormat: string | null,
): { format: VariantFormat; choice: FormatChoice | undefined } {
  if (options.format !== 'auto') return { format: options.format, choice: undefined };
  if (accepted !== 'original') return { format: accepted, choice: accepted };
  const lossless = originalFormat === 'png' || originalFormat === 'gif';
  return { format: lossless ? 'png' : 'jpeg', choice: 'original' };
}

/**
 * Where a rendering is stored: under the image's variant prefix (so deleting the image deletes it), named
 * by the SHA-256 of its canonical options with the format resolved, so equal renderings share one object.
 */
export function transformKey(id: string, canonicalResolved: string, format: VariantFormat): string {
  const digest = createHash('sha256').update(canonicalResolved).digest('hex');
  return `variants/${id}/t/${digest}.${FILE_EXTENSIONS[format]}`;
}

/** One rendering to make. */
export interface RenderJob {
  source: TransformSource;
  options: TransformOptions;
  format: VariantFormat;
  /** The storage key of the result. */
  key: string;
}

/** The source is gone from storage (the image is being deleted): the route answers 404. */
export class TransformSourceMissing extends Error {
  override readonly name = 'TransformSourceMissing';
}

/**
 * Renders transforms into storage, once per key however many requests ask at the same time: the first
 * caller renders, the others await the same promise (single flight, per process).
 */
export class TransformRenderer {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      storage: StorageGateway;
      metrics: DeliveryMetrics;
      /** Scratch directory for the source and the result while rendering. */
      workRoot: string;
      /** Decoder pixel limit, a guard should a source ever be larger than any variant can be. */
      maxSourcePixels: number;
    },
  ) {}

  /** Makes sure `job.key` exists in storage, rendering it if no one has (or is doing so now). */
  ensure(job: RenderJob): Promise<void> {
    let pending = this.inFlight.get(job.key);
    if (!pending) {
      pending = this.renderUnlessStored(job).finally(() => this.inFlight.delete(job.key));
      this.inFlight.set(job.key, pending);
    }
    return pending;
  }

  private async renderUnlessStored(job: RenderJob): Promise<void> {
    // A request that missed just before another one's render finished arrives here after the map entry
    // is gone; the object is there by now, so it is not rendered twice.
    if (await this.deps.storage.head(job.key)) return;
    const started = performance.now();
    await fsp.mkdir(this.deps.workRoot, { recursive: true });
    const dir = await fsp.mkdtemp(path.join(this.deps.workRoot, 't-'));
    try {
      const input = path.join(dir, 'source');
      const output = path.join(dir, `out.${FILE_EXTENSIONS[job.format]}`);
      if (!(await this.deps.storage.downloadTo(job.source.key, input))) {
        throw new TransformSourceMissing(`${job.source.key} is missing from storage`);
      }
      let img = sharp(input, { failOn: 'error', limitInputPixels: this.deps.maxSourcePixels });
      const { width, height, fit } = job.options;
      if (width !== undefined || height !== undefined) {
        img = img.resize({
          width,
          height,
          fit,
          // The source is the largest variant: enlarging it would only invent pixels.
          withoutEnlargement: true,
          background: { r: 255, g: 255, b: 255, alpha: 0 },
        });
      }
      await encodeAs(img, job.format, job.options.quality).toFile(output);
      await this.deps.storage.putFile(job.key, output, CONTENT_TYPES[job.format], IMMUTABLE);
      this.deps.metrics.transformRenderSeconds.observe((performance.now() - started) / 1000);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }
}
