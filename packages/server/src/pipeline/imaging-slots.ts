import { Slots } from './slots.ts';

/**
 * libvips work and file I/O share one pool of threads per process, libuv's (UV_THREADPOOL_SIZE, 4 unless
 * set before the process starts it): each sharp call (metadata, toFile, toBuffer, stats) holds a thread
 * until it is done, and every fs call, the embedded S3 server's included, waits first come first served
 * behind whatever holds them. Once image work held every thread, a 6 KB PUT waited seconds behind AVIF
 * encodes (issue 18.5). So image work runs in slots that always leave threads for I/O: all of them but
 * `min(4, half the pool)` (4: libuv's default pool, what I/O had before image work shared it).
 */
export function imagingSlotsFor(threadPoolSize: number): number {
  const reservedForIo = Math.min(4, Math.floor(threadPoolSize / 2));
  return Math.max(1, threadPoolSize - reservedForIo);
}

/** libuv's pool when UV_THREADPOOL_SIZE is unset. */
const LIBUV_DEFAULT_POOL = 4;

// Process-wide, like the thread pool it shares out: `darkroom start` runs the worker's develops and the
// API's renders in one process, and both must fit in the same slots.
let slots: Slots | undefined;

/**
 * Sizes the process's image-work slots from its thread pool (config's `threadPoolSize`). The first call
 * decides, as libuv sizes its pool once per process; later calls, and image work before any call, use it.
 */
export function configureImagingSlots(threadPoolSize: number): void {
  slots ??= new Slots(imagingSlotsFor(threadPoolSize));
}

/** Runs `task`, which may call sharp one call at a time, in one of the process's image-work slots. */
export function withImagingSlot<T>(task: () => Promise<T>): Promise<T> {
  slots ??= new Slots(imagingSlotsFor(LIBUV_DEFAULT_POOL));
  return slots.run(task);
}

/** The process's image-work slots: how many, how many taken, how many waiting. */
export function imagingSlotUse(): { size: number; active: number; waiting: number } {
  slots ??= new Slots(imagingSlotsFor(LIBUV_DEFAULT_POOL));
  return { size: slots.size, active: slots.active, waiting: slots.waiting };
}
