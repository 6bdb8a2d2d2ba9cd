/**
 * HEVC-coded HEIF (iPhone .HEIC) decoding. sharp's prebuilt libvips ships libheif with the AV1 decoder
 * only (HEVC is patent-encumbered), so HEIC is decoded by libheif-js (libheif + libde265 compiled to
 * WebAssembly) to raw pixels that sharp then takes over.
 *
 * Each decode runs in a fresh worker thread:
 * - the event loop stays free (decoding a 12 MP HEIC takes ~2 s of CPU);
 * - WebAssembly memory can only grow, never shrink: a throw-away instance returns it all to the OS;
 * - a fuzzed file that aborts the WASM runtime kills that worker, not the process;
 * - an AbortSignal can actually stop a decode (`worker.terminate()`).
 * The library is loaded only in that worker, i.e. only when a HEIF arrives.
 *
 * Orientation: libheif applies the HEIF transformation properties (irot/imir/clap) when it decodes the
 * primary image, and the handle's width/height are the transformed ones. The EXIF Orientation inside a
 * HEIC is informational and must NOT be applied again; raw pixels carry no EXIF, so sharp cannot.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { PipelineError } from './errors.ts';

export interface DecodedHeif {
  width: number;
  height: number;
  channels: 3 | 4;
  /** Tightly packed 8-bit RGB(A), row by row (`width * height * channels` bytes). */
  data: Buffer;
}

type WorkerReply =
  | { ok: true; width: number; height: number; channels: 3 | 4; data: ArrayBuffer }
  | { ok: false; code: 'corrupt_image' | 'too_many_pixels'; message: string };

// CommonJS source for the worker (eval'd, so it needs no build step and works from src/ and dist/ alike).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { libheifPath, wasmPath, file, maxPixels } = workerData;
const reply = (m, t) => parentPort.postMessage(m, t);
try {
  const lib = require(libheifPath)({ wasmBinary: fs.readFileSync(wasmPath), print() {}, printErr() {} });
  const ctx = lib.heif_context_alloc();
  const err = lib.heif_context_read_from_memory(ctx, fs.readFileSync(file));
  if (err.code !== lib.heif_error_code.heif_error_Ok) {
    reply({ ok: false, code: 'corrupt_image', message: 'HEIF: ' + err.message });
  } else {
    const handle = lib.heif_js_context_get_primary_image_handle(ctx);
    if (!handle || handle.code) {
      reply({ ok: false, code: 'corrupt_image', message: 'HEIF: no primary image' });
    } else {
      // Dimensions after the irot/imir/clap transformations, read from the header (no pixels decoded yet).
      const width = lib.heif_image_handle_get_width(handle);
      const height = lib.heif_image_handle_get_height(handle);
      if (!(width > 0 && height > 0)) {
        reply({ ok: false, code: 'corrupt_image', message: 'HEIF: primary image has no size' });
      } else if (width * height > maxPixels) {
        reply({ ok: false, code: 'too_many_pixels', message: 'HEIF: ' + width + 'x' + height + ' exceeds the pixel limit' });
      } else {
        const alpha = lib.heif_image_handle_has_alpha_channel(handle);
        const channels = alpha ? 4 : 3;
        const chroma = alpha ? lib.heif_chroma.heif_chroma_interleaved_RGBA : lib.heif_chroma.heif_chroma_interleaved_RGB;
        const img = lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, chroma);
        const plane = img && !img.code && img.channels && img.channels.find((c) => c.id === lib.heif_channel.heif_channel_interleaved);
        if (!plane || plane.width !== width || plane.height !== height) {
          reply({ ok: false, code: 'corrupt_image', message: 'HEIF: decoding failed' });
        } else {
          const row = width * channels;
          const out = new Uint8Array(row * height);
          for (let y = 0; y < height; y++) out.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
          reply({ ok: true, width, height, channels, data: out.buffer }, [out.buffer]);
        }
      }
    }
  }
} catch (e) {
  reply({ ok: false, code: 'corrupt_image', message: 'HEIF: ' + (e && e.message ? e.message : String(e)) });
}
`;

let paths: { libheifPath: string; wasmPath: string } | undefined;
function libheifPaths(): { libheifPath: string; wasmPath: string } {
  if (!paths) {
    const require = createRequire(import.meta.url);
    paths = {
      libheifPath: require.resolve('libheif-js/libheif-wasm/libheif.js'),
      wasmPath: require.resolve('libheif-js/libheif-wasm/libheif.wasm'),
    };
  }
  return paths;
}

/**
 * Decodes the primary image of the HEIF at `file` to raw RGB(A), with the HEIF rotation/mirroring applied
 * once. Refuses (`too_many_pixels`) before decoding when the header's size exceeds `maxPixels`.
 * Memory: the file, libheif's YCbCr planes and the RGB(A) output, roughly `6.5 × pixels` bytes at peak
 * inside the worker, all released when it exits (the RGB(A) buffer is transferred, not copied).
 */
export function decodeHeif(file: string, maxPixels: number, signal?: AbortSignal): Promise<DecodedHeif> {
  signal?.throwIfAborted();
  return new Promise<DecodedHeif>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...libheifPaths(), file, maxPixels },
      stdout: true, // swallow anything libheif prints
      stderr: true,
    });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = (): void => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: WorkerReply) =>
      finish(() => {
        if (m.ok) {
          resolve({ width: m.width, height: m.height, channels: m.channels, data: Buffer.from(m.data) });
        } else {
          reject(new PipelineError(m.code, m.message));
        }
      }),
    );
    // A WASM abort, an out-of-memory in the worker, …: the bytes could not be decoded.
    worker.once('error', (e) =>
      finish(() =>
        reject(new PipelineError('corrupt_image', `HEIF: decoder failed: ${e.message}`, { cause: e })),
      ),
    );
    worker.once('exit', (code) =>
      finish(() =>
        reject(new PipelineError('corrupt_image', `HEIF: decoder exited (${code}) without a result`)),
      ),
    );
  });
}
