/**
 * The colour an image is shown as before its pixels arrive (tile and details backdrops), and whether it
 * lets a backdrop show through.
 *
 * The colour is the mean of the VISIBLE pixels in OKLab (Björn Ottosson's perceptual space), each pixel
 * weighted by its opacity: transparent pixels carry no colour (they are black or anything in the file),
 * and a mean in a perceptual space is the overall colour people see, where the fullest histogram bin
 * of a dark-edged photo is its shadows (issue 17: a purple-flower photo and a transparent PNG both came
 * out `#080808`). The conversion is written out here rather than taken from a colour library because it
 * runs per pixel over a typed array, without an object per pixel; the matrices are Ottosson's published
 * ones (https://bottosson.github.io/posts/oklab/).
 */

/** Pixels at or below this opacity (of 255) count as not there at all. */
const INVISIBLE_ALPHA = 8;

/** What {@link describeColour} finds in an RGBA sample. */
export interface ColourSummary {
  /** '#rrggbb', the opacity-weighted OKLab mean of the visible pixels; null when none is visible. */
  dominantColor: string | null;
  /** True when some pixel is not fully opaque, so whatever is behind the image shows through. */
  transparent: boolean;
}

/**
 * Summarises a small RGBA sample (8 bits per channel, 4 channels, as sharp's `raw()` after
 * `ensureAlpha()` gives it).
 */
export function describeColour(rgba: Uint8Array): ColourSummary {
  let weight = 0;
  let sumL = 0;
  let sumA = 0;
  let sumB = 0;
  let transparent = false;
  for (let i = 0; i + 3 < rgba.length; i += 4) {
    const alpha = rgba[i + 3] as number;
    if (alpha < 255) transparent = true;
    if (alpha <= INVISIBLE_ALPHA) continue;
    const w = alpha / 255;
    const [l, a, b] = srgbToOklab(rgba[i] as number, rgba[i + 1] as number, rgba[i + 2] as number);
    sumL += l * w;
    sumA += a * w;
    sumB += b * w;
    weight += w;
  }
  if (weight === 0) return { dominantColor: null, transparent };
  return { dominantColor: oklabToHex(sumL / weight, sumA / weight, sumB / weight), transparent };
}

// sRGB 8-bit → linear light, precomputed: the sample has up to 10,000 pixels × 3 channels.
const TO_LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** One sRGB pixel (0-255 per channel) in OKLab. */
export function srgbToOklab(r: number, g: number, b: number): [number, number, number] {
  const lr = TO_LINEAR[r] as number;
  const lg = TO_LINEAR[g] as number;
  const lb = TO_LINEAR[b] as number;
  const l = Math.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** An OKLab colour as '#rrggbb' (clipped to the sRGB gamut: a mean of sRGB colours barely leaves it). */
export function oklabToHex(L: number, a: number, b: number): string {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  const linear = [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
  return `#${linear
    .map((c) => {
      const v = Math.min(1, Math.max(0, c));
      const srgb = v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055;
      return Math.round(srgb * 255)
        .toString(16)
        .padStart(2, '0');
    })
    .join('')}`;
}
