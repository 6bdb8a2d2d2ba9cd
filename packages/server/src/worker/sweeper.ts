import { originalKey, PRIVATE_PREFIX, UPLOADS_PREFIX, VARIANTS_PREFIX } from '@darkroom/contract';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../db/images.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import { imageIdFromKey } from './s3-events.ts';

export interface SweeperOptions {
  images: ImageRepository;
  storage: StorageGateway;
  /** Puts an S3-shaped ObjectCreated event for `key` on the uploads queue. */
  enqueue: (key: string, size: number, etag: string) => Promise<void>;
  /** A pending upload with no bytes after this long is abandoned (must outlive presigned URLs). */
  pendingTtlMs: number;
  /** How long a notification may take before the sweep stops waiting for it. */
  graceMs: number;
  intervalMs: number;
  log: Logger;
}

export interface SweepReport {
  reconciled: number;
  abandoned: number;
  orphansDeleted: number;
  /** Variant folders (`variants/{id}/`, `private/{id}/`) of images that have no record. */
  variantsDeleted: number;
  multipartAborted: number;
  eventsPruned: number;
}

const BATCH = 100;
const EVENT_RETENTION_MS = 7 * 24 * 3600_000;
const PROCESSING_TIMEOUT_MS = 3600_000;

/**
 * Repairs what at-least-once delivery cannot: notifications that never came (pending or uploaded
 * images whose original is in storage are handed to the queue again), and what was abandoned (pending
 * images with no activity for their TTL, multipart uploads nobody will finish, originals and variant
 * folders without a record, old events).
 * Every step is idempotent, so several workers may sweep at once.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepReport> | undefined;

  constructor(private readonly opts: SweeperOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep; concurrent calls share the one in progress. */
  runOnce(now = Date.now()): Promise<SweepReport> {
    this.running ??= this.sweep(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(now: number): Promise<SweepReport> {
    const { images, storage, log } = this.opts;
    const report: SweepReport = {
      reconciled: 0,
      abandoned: 0,
      orphansDeleted: 0,
      variantsDeleted: 0,
      multipartAborted: 0,
      eventsPruned: 0,
    };
    try {
      // Missed notifications: the bytes are there but no event ever came (or the hand-off was lost).
      for (const row of await images.staleImages(['pending', 'uploaded'], now - this.opts.graceMs, BATCH)) {
        const info = await storage.head(originalKey(row.id));
        if (info) {
          await this.opts.enqueue(originalKey(row.id), info.size, info.etag);
          // Touch it, so the next sweep waits another grace period before sending it again.
          await images.transition(row.id, [row.status], {}, now);
          report.reconciled++;
        } else if (
          row.status === 'pending' &&
          (await this.lastActivity(row)) < now - this.opts.pendingTtlMs
        ) {
          if (row.multipart_upload_id)
            await storage.abortMultipart(originalKey(row.id), row.multipart_upload_id);
          await images.delete(row.id);
          report.abandoned++;
        }
      }
      // A job whose every attempt died with its worker (the message is in the dead-letter queue).
      for (const row of await images.staleImages(['processing'], now - PROCESSING_TIMEOUT_MS, BATCH)) {
        await images.transition(row.id, ['processing'], {
          status: 'failed',
          error_code: 'processing_timeout',
          error_message: 'Processing did not finish within an hour; upload the image again.',
        });
        report.abandoned++;
      }
      // Multipart uploads whose image is gone (cancelled, deleted, or abandoned above).
      const uploads = await storage.listMultipartUploads(UPLOADS_PREFIX);
      const withRecord = await images.existingIds(uploads.map((u) => imageIdFromKey(u.key) ?? ''));
      for (const u of uploads) {
        const id = imageIdFromKey(u.key);
        if ((!id || !withRecord.has(id)) && u.initiated < now - this.opts.graceMs) {
          await storage.abortMultipart(u.key, u.uploadId);
          report.multipartAborted++;
        }
      }
      // Originals without a record: deleted or cancelled images whose URL was still used.
      let token: string | undefined;
      do {
        const page = await storage.listPage(UPLOADS_PREFIX, token);
        const known = await images.existingIds(page.keys.map((k) => imageIdFromKey(k.key) ?? ''));
        const orphans = page.keys.filter((k) => {
          const id = imageIdFromKey(k.key);
          return (!id || !known.has(id)) && k.lastModified < now - this.opts.graceMs;
        });
        if (orphans.length > 0) await storage.deleteAll(orphans.map((o) => o.key));
        report.orphansDeleted += orphans.length;
        token = page.next;
      } while (token);
      report.variantsDeleted = await this.sweepVariantFolders();
      report.eventsPruned = await images.pruneEvents(now - EVENT_RETENTION_MS);
      if (Object.values(report).some((n) => n > 0)) log.info(report, 'sweep repaired or removed');
    } catch (err) {
      log.warn({ err }, 'sweep failed; the next one will try again');
      throw err;
    }
    return report;
  }

  /**
   * When a pending upload last showed life: its intent, the last part URLs issued for it (the API touches
   * the record), or the last part storage received. A multipart upload whose parts keep arriving is not
   * abandoned, however long it takes.
   */
  private async lastActivity(row: ImageRow): Promise<number> {
    if (!row.multipart_upload_id) return row.updated_at;
    const parts = await this.opts.storage.listParts(originalKey(row.id), row.multipart_upload_id);
    return Math.max(row.updated_at, ...(parts ?? []).map((p) => p.lastModified));
  }

  /**
   * Removes the variant folders of images that have no record: what a worker or a first render wrote
   * while the image was being deleted, or what a failed storage delete left. Nothing legitimate is ever
   * written there without a record, so no grace period is needed.
   */
  private async sweepVariantFolders(): Promise<number> {
    const { images, storage } = this.opts;
    let removed = 0;
    for (const root of [VARIANTS_PREFIX, PRIVATE_PREFIX]) {
      let token: string | undefined;
      do {
        const page = await storage.listPrefixes(root, token);
        const idOf = (folder: string) => folder.slice(root.length, -1);
        const known = await images.existingIds(page.prefixes.map(idOf));
        const orphans = page.prefixes.filter((folder) => !known.has(idOf(folder)));
        if (orphans.length > 0) await storage.deleteAll([], orphans);
        removed += orphans.length;
        token = page.next;
      } while (token);
    }
    return removed;
  }
}
