import fsp from 'node:fs/promises';
import path from 'node:path';
import type { EdgeFormat, TransformRequest } from '@darkroom/edge';
import sharp from 'sharp';
import type { VariantRecord } from '../domain/image-view.ts';
import {
  CONTENT_TYPES,
  encodeAs,
  FILE_EXTENSIONS,
  Slots,
  SlotsFull,
  type VariantFormat,
  withImagingSlot,
} from '../pipeline/index.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import type { DeliveryMetrics } from './metrics.ts';

/**
 * What the API renders when storage lacks a key the edge asked for (the failover origin's one job): a
 * transform's first rendering, a format a variant was not stored in, or the JPEG/PNG fallback for clients
 * that take neither WebP nor AVIF. Each is stored under the key the edge computed, so the next request for
 * it is a storage hit that never reaches the API.
 */

/** The stored variant renderings start from. */
export interface RenderSource {
  key: string;
  width: number;
  height: number;
}

/**
 * Renderings start from the largest variant, not the original: its pixels are already upright, sRGB and
 * stripped of metadata, and it is in a format libvips decodes directly (no HEIC, no hostile input). Among
 * its encodings the quickest to decode is used (AVIF last). Undefined when there is none.
 */
export function renderSource(variants: Readonly<Record<string, VariantRecord>>): RenderSource | undefined {
  let best: VariantRecord | undefined;
  for (const v of Object.values(variants)) {
    if (!best || v.width * v.height > best.width * best.height) best = v;
  }
  if (!best) return undefined;
  const encodings = [best, ...(best.alternates ?? [])];
  const pick = encodings.find((e) => e.contentType !== 'image/avif') ?? best;
  return { key: pick.key, width: best.width, height: best.height };
}

/** One rendering to make and store. */
export interface RenderJob {
  source: RenderSource;
  /** Absent: the source's size. */
  resize?: { width?: number; height?: number; fit: TransformRequest['fit'] };
  /** `fallback`: PNG when the pixels may be transparent (alpha, or a PNG/GIF upload), JPEG otherwise. */
  format: EdgeFormat;
  quality?: number | undefined;
  /** The upload was PNG or GIF: its fallback stays lossless. */
  lossless: boolean;
  /** The storage key of the result. */
  key: string;
  /** Stored with the object; undefined for private objects (the CDN's private behaviour sets the viewer's). */
  cacheControl: string | undefined;
}

/** The source is gone from storage (the image is being deleted): the route answers 404. */
export class RenderSourceMissing extends Error {
  override readonly name = 'RenderSourceMissing';
}

/** Every render slot is taken and DARKROOM_RENDER_QUEUE renders wait already: the route answers 503 render_busy. */
export class RenderBusy extends Error {
  override readonly name = 'RenderBusy';
}

/**
 * Renders into storage, once per key however many requests ask at the same time: the first caller renders,
 * the others await the same promise (single flight, per process). At most `concurrency` keys render at
 * once, `maxWaiting` more wait their turn in order, and past that a render is refused ({@link RenderBusy}):
 * unbounded, 20 first renders at once held every thread libvips and file I/O share and a 6 KB upload to
 * the embedded S3 server took 100 s (issue 18.5).
 */
export class Renderer {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly slots: Slots;

  constructor(
    private readonly deps: {
      storage: StorageGateway;
      metrics: DeliveryMetrics;
      /** Scratch directory for the source and the result while rendering. */
      workRoot: string;
      /** Decoder pixel limit, a guard should a source ever be larger than any variant can be. */
      maxSourcePixels: number;
      /** Keys rendered at once (DARKROOM_RENDER_CONCURRENCY). */
      concurrency: number;
      /** Keys waiting beyond those (DARKROOM_RENDER_QUEUE). */
      maxWaiting: number;
    },
  ) {
    const gauge = deps.metrics.renders;
    this.slots = new Slots(deps.concurrency, deps.maxWaiting, (running, waiting) => {
      gauge.set({ state: 'running' }, running);
      gauge.set({ state: 'waiting' }, waiting);
    });
    gauge.set({ state: 'running' }, 0);
    gauge.set({ state: 'waiting' }, 0);
  }

  /** Makes sure `job.key` exists in storage, rendering it if no one has (or is doing so now). */
  ensure(job: RenderJob): Promise<void> {
    let pending = this.inFlight.get(job.key);
    if (!pending) {
      pending = this.slots
        .run(() => this.renderUnlessStored(job))
        .catch((err: unknown) => {
          if (!(err instanceof SlotsFull)) throw err;
          this.deps.metrics.rendersRefused.inc();
          throw new RenderBusy(`first renders are busy: ${err.message}`);
        })
        .finally(() => this.inFlight.delete(job.key));
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
    const dir = await fsp.mkdtemp(path.join(this.deps.workRoot, 'r-'));
    try {
      const input = path.join(dir, 'source');
      if (!(await this.deps.storage.downloadTo(job.source.key, input))) {
        throw new RenderSourceMissing(`${job.source.key} is missing from storage`);
      }
      // libvips in one of the process's image-work slots (the download and upload around it are I/O).
      const { format, output } = await withImagingSlot(async () => {
        let img = sharp(input, { failOn: 'error', limitInputPixels: this.deps.maxSourcePixels });
        const format: VariantFormat =
          job.format !== 'fallback'
            ? job.format
            : job.lossless || (await img.metadata()).hasAlpha
              ? 'png'
              : 'jpeg';
        if (job.resize) {
          img = img.resize({
            ...job.resize,
            // The source is the largest variant: enlarging it would only invent pixels.
            withoutEnlargement: true,
            background: { r: 255, g: 255, b: 255, alpha: 0 },
          });
        }
        const output = path.join(dir, `out.${FILE_EXTENSIONS[format]}`);
        await encodeAs(img, format, job.quality).toFile(output);
        return { format, output };
      });
      // Create-once: another API process that rendered this key first keeps its object. It is the same
      // rendering by design (the key names the source and every parameter), so that one is served and
      // stays what every cache holds; this one is dropped.
      await this.deps.storage.putFileOnce(job.key, output, CONTENT_TYPES[format], job.cacheControl);
      this.deps.metrics.transformRenderSeconds.observe((performance.now() - started) / 1000);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }
}
