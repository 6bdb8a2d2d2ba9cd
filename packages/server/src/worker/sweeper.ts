import type { Logger } from 'pino';
import type { ImageRepository } from '../db/images.ts';
import { originalKey } from '../domain/image-view.ts';
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
  multipartAborted: number;
  eventsPruned: number;
}

const BATCH = 100;
const EVENT_RETENTION_MS = 7 * 24 * 3600_000;
const PROCESSING_TIMEOUT_MS = 3600_000;

/**
 * Repairs what at-least-once delivery cannot: notifications that never came (pending or uploaded
 * images whose original is in storage are handed to the queue again), and what was abandoned (pending
 * images past their TTL, multipart uploads nobody will finish, originals without a record, old events).
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
        } else if (row.status === 'pending' && row.updated_at < now - this.opts.pendingTtlMs) {
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
      const uploads = await storage.listMultipartUploads('uploads/');
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
        const page = await storage.listPage('uploads/', token);
        const known = await images.existingIds(page.keys.map((k) => imageIdFromKey(k.key) ?? ''));
        const orphans = page.keys.filter((k) => {
          const id = imageIdFromKey(k.key);
          return (!id || !known.has(id)) && k.lastModified < now - this.opts.graceMs;
        });
        if (orphans.length > 0) await storage.deleteAll(orphans.map((o) => o.key));
        report.orphansDeleted += orphans.length;
        token = page.next;
      } while (token);
      report.eventsPruned = await images.pruneEvents(now - EVENT_RETENTION_MS);
      if (Object.values(report).some((n) => n > 0)) log.info(report, 'sweep repaired or removed');
    } catch (err) {
      log.warn({ err }, 'sweep failed; the next one will try again');
      throw err;
    }
    return report;
  }
}
