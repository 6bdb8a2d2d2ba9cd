import { rgbaToThumbHash } from 'thumbhash';
import { toBase64 } from './hash.ts';
import type { Processor, ProcessorResult } from './prepare.ts';

type SharpFactory = typeof import('sharp').default;

let loaded: Promise<SharpFactory | undefined> | undefined;

/** sharp, when it is installed (an optional peer dependency); undefined otherwise. */
export function loadSharp(): Promise<SharpFactory | undefined> {
  loaded ??= import('sharp').then(
    (m) => m.default,
    () => undefined,
  );
  return loaded;
}

async function thumbhashOf(sharp: SharpFactory, input: Uint8Array): Promise<string | undefined> {
  try {
    const { data, info } = await sharp(input)
      .rotate()
      .resize({ width: 100, height: 100, fit: 'inside', withoutEnlargement: false })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return toBase64(rgbaToThumbHash(info.width, info.height, data));
  } catch {
    return undefined;
  }
}

/** The Node processor (sharp), or undefined when sharp is not installed. */
export async function nodeProcessor(): Promise<Processor | undefined> {
  const sharp = await loadSharp();
  if (!sharp) return undefined;
  return async (blob, options, mode): Promise<ProcessorResult> => {
    const input = new Uint8Array(await blob.arrayBuffer());
    if (mode === 'thumbhash') {
      const thumbhash = await thumbhashOf(sharp, input);
      return thumbhash ? { thumbhash } : {};
    }
    let chain = sharp(input, { failOn: 'error' })
      .rotate() // EXIF orientation into the pixels; the output carries no metadata at all
      .resize({ width: options.maxEdge, height: options.maxEdge, fit: 'inside', withoutEnlargement: true });
    const quality = Math.round(options.quality * 100);
    chain =
      options.format === 'jpeg' ? chain.jpeg({ quality, mozjpeg: true }) : chain.webp({ quality, effort: 4 });
    let out: { data: Uint8Array; info: { width: number; height: number } };
    try {
      out = await chain.toBuffer({ resolveWithObject: true });
    } catch {
      // sharp cannot decode it (HEIC without HEVC in the prebuilt libvips, or a broken file).
      return { reason: 'unsupported' };
    }
    const contentType = options.format === 'jpeg' ? 'image/jpeg' : 'image/webp';
    const thumbhash = await thumbhashOf(sharp, out.data);
    return {
      output: {
        blob: new Blob([new Uint8Array(out.data)], { type: contentType }),
        contentType,
        width: out.info.width,
        height: out.info.height,
      },
      width: out.info.width,
      height: out.info.height,
      ...(thumbhash ? { thumbhash } : {}),
    };
  };
}
