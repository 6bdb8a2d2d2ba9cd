import sharp from 'sharp';

/** A small, distinct JPEG per index (its number drawn on a coloured ground), so every upload is its own work. */
export function numberedPhoto(i: number): Promise<Buffer> {
  return sharp({
    create: { width: 400, height: 300, channels: 3, background: { r: i % 256, g: (i * 7) % 256, b: 90 } },
  })
    .composite([
      {
        input: Buffer.from(
          `<svg width="400" height="300"><text x="20" y="160" font-size="80">${i}</text></svg>`,
        ),
      },
    ])
    .jpeg({ quality: 80 })
    .toBuffer();
}

/**
 * A real PNG of Gaussian noise, which does not compress: ~3 bytes per pixel, so the default 2200×1800 stays
 * above 10 MiB (multipart-sized) and 2000×2000 is ~12 MB.
 */
export function noisePng(width = 2200, height = 1800): Promise<Buffer> {
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png({ compressionLevel: 1 })
    .toBuffer();
}
