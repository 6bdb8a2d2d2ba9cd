import type { Image, ImageVariant } from '@darkroom/contract';
import { rgbaToThumbHash, thumbHashToRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { imgHtml, pictureHtml, responsiveImage, thumbhashDataUrl } from '../src/index.ts';

/** A real thumbhash (base64) of an 8×6 orange-to-blue gradient. */
function gradientHash(): string {
  const w = 8;
  const h = 6;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([255 - i * 5, 120, i * 5, 255], i * 4);
  return Buffer.from(rgbaToThumbHash(w, h, rgba)).toString('base64');
}

const variant = (
  url: string,
  width: number,
  contentType = 'image/webp',
  extra: Partial<ImageVariant> = {},
) => ({
  url,
  width,
  height: Math.round((width * 2) / 3),
  bytes: width * 10,
  contentType,
  ...extra,
});

function image(variants: Record<string, ImageVariant>, extra: Partial<Image> = {}): Image {
  return {
    id: 'img_1',
    status: 'ready',
    filename: 'heron.jpg',
    contentType: 'image/jpeg',
    bytes: 1000,
    width: 3000,
    height: 2000,
    format: 'jpeg',
    thumbhash: gradientHash(),
    dominantColor: '#7c7877',
    transparent: false,
    visibility: 'public',
    variants,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

const DEFAULTS = {
  large: variant('https://cdn.test/img/img_1/large', 2560),
  thumb: variant('https://cdn.test/img/img_1/thumb', 320),
  medium: variant('https://cdn.test/img/img_1/medium', 1280),
};

describe('responsiveImage', () => {
  it('builds srcset narrowest first, sizes, the box size and a 1280 px fallback from the default variants', () => {
    const r = responsiveImage(image(DEFAULTS), { sizes: '(max-width: 600px) 100vw, 600px' });
    expect(r).toMatchObject({
      src: 'https://cdn.test/img/img_1/medium',
      srcSet:
        'https://cdn.test/img/img_1/thumb 320w, https://cdn.test/img/img_1/medium 1280w, https://cdn.test/img/img_1/large 2560w',
      sizes: '(max-width: 600px) 100vw, 600px',
      width: 3000,
      height: 2000,
      sources: [],
      backgroundColor: '#7c7877',
      transparent: false,
    });
    expect(responsiveImage(image(DEFAULTS)).sizes).toBe('100vw');
    expect(responsiveImage(image(DEFAULTS), { fallbackWidth: 4000 }).src).toBe(DEFAULTS.large.url);
  });

  it('decodes the thumbhash into a PNG data URL of the same picture', () => {
    const url = responsiveImage(image(DEFAULTS)).placeholder;
    expect(url).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    expect(thumbhashDataUrl(gradientHash())).toBe(url);
    const decoded = thumbHashToRGBA(Buffer.from(gradientHash(), 'base64'));
    expect(decoded.w / decoded.h).toBeCloseTo(8 / 6, 0);
    expect(thumbhashDataUrl(null)).toBeUndefined();
    expect(thumbhashDataUrl('%%%not base64')).toBeUndefined();
  });

  it('keeps one candidate per width: a small image whose variants are all its own size', () => {
    const small = {
      thumb: variant('https://cdn.test/s/thumb', 200),
      medium: variant('https://cdn.test/s/medium', 200),
    };
    expect(responsiveImage(image(small, { width: 200, height: 133 })).srcSet).toBe(
      'https://cdn.test/s/thumb 200w',
    );
  });

  it('puts formats not every browser decodes in <source>s, newest first, with the older variants too', () => {
    const mixed = {
      thumb: variant('https://cdn.test/m/thumb.jpg', 320, 'image/jpeg'),
      medium: variant('https://cdn.test/m/medium', 1280, 'image/webp'),
      hero: variant('https://cdn.test/m/hero', 2560, 'image/avif'),
    };
    const r = responsiveImage(image(mixed));
    expect(r.srcSet).toBe('https://cdn.test/m/thumb.jpg 320w');
    expect(r.src).toBe('https://cdn.test/m/thumb.jpg');
    expect(r.sources).toEqual([
      {
        type: 'image/avif',
        srcSet:
          'https://cdn.test/m/thumb.jpg 320w, https://cdn.test/m/medium 1280w, https://cdn.test/m/hero 2560w',
      },
      { type: 'image/webp', srcSet: 'https://cdn.test/m/thumb.jpg 320w, https://cdn.test/m/medium 1280w' },
    ]);
  });

  it('counts a negotiated variant (one URL, several formats) as decodable wherever its widest format is', () => {
    const negotiated = {
      medium: variant('https://cdn.test/n/medium', 1280, 'image/jpeg', {
        contentTypes: ['image/jpeg', 'image/webp', 'image/avif'],
      }),
    };
    const r = responsiveImage(image(negotiated));
    expect(r.srcSet).toBe('https://cdn.test/n/medium 1280w');
    expect(r.sources).toEqual([]);
  });

  it('before ready: no src, the size from the image, the placeholder; transparent images get no colour', () => {
    const r = responsiveImage(image({}, { status: 'processing', transparent: true }));
    expect(r).toMatchObject({
      src: undefined,
      srcSet: '',
      width: 3000,
      height: 2000,
      backgroundColor: undefined,
    });
    expect(r.placeholder).toMatch(/^data:image\/png/);
    // A colour that is not #rrggbb never reaches a style attribute.
    expect(
      responsiveImage(image(DEFAULTS, { dominantColor: 'red;background:url(x)' })).backgroundColor,
    ).toBeUndefined();
  });

  it('takes the size from the largest variant when the image JSON has none', () => {
    const r = responsiveImage(image(DEFAULTS, { width: null, height: null }));
    expect(r).toMatchObject({ width: 2560, height: 1707 });
  });
});

describe('imgHtml / pictureHtml', () => {
  it('renders a responsive <img> with the box reserved and the placeholder behind it', () => {
    const html = imgHtml(image(DEFAULTS), { alt: 'A heron', sizes: '50vw', className: 'photo' });
    expect(html).toMatch(/^<img /);
    expect(html).toContain(' src="https://cdn.test/img/img_1/medium"');
    expect(html).toContain(
      ' srcset="https://cdn.test/img/img_1/thumb 320w, https://cdn.test/img/img_1/medium 1280w, https://cdn.test/img/img_1/large 2560w"',
    );
    expect(html).toContain(
      ' sizes="50vw" width="3000" height="2000" class="photo" loading="lazy" decoding="async"',
    );
    expect(html).toContain('aspect-ratio:3000/2000');
    expect(html).toContain('background-color:#7c7877;background-image:url(data:image/png;base64,');
    expect(html).toContain(' alt="A heron"');
    expect(imgHtml(image(DEFAULTS), { alt: '', placeholder: false, loading: 'eager' })).not.toContain(
      'background',
    );
  });

  it('escapes every attribute value', () => {
    const hostile = {
      thumb: variant('https://cdn.test/x?a=1&b="><script>', 320),
    };
    const html = pictureHtml(image(hostile), {
      alt: `"><img src=x onerror=alert(1)> & 'q'`,
      sizes: '"100vw',
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('"><img');
    expect(html).toContain('alt="&#34;&#62;&#60;img src=x onerror=alert(1)&#62; &#38; &#39;q&#39;"');
    expect(html).toContain('https://cdn.test/x?a=1&#38;b=&#34;&#62;&#60;script&#62; 320w');
    expect(html).toContain('sizes="&#34;100vw"');
  });

  it('wraps sources and the <img> in a <picture>', () => {
    const mixed = {
      thumb: variant('https://cdn.test/m/thumb.jpg', 320, 'image/jpeg'),
      hero: variant('https://cdn.test/m/hero', 2560, 'image/avif'),
    };
    const html = pictureHtml(image(mixed), { alt: 'x', sizes: '100vw' });
    expect(html).toMatch(
      /^<picture><source type="image\/avif" srcset="https:\/\/cdn.test\/m\/thumb.jpg 320w, https:\/\/cdn.test\/m\/hero 2560w" sizes="100vw"><img [^>]+><\/picture>$/,
    );
  });

  it('shows the placeholder as the src before the image is ready, without srcset or sizes', () => {
    const html = imgHtml(image({}, { status: 'processing' }), { alt: 'soon' });
    expect(html).toMatch(/ src="data:image\/png;base64,/);
    expect(html).not.toContain('srcset');
    expect(html).not.toContain('sizes');
  });

  it('encodes commas and spaces inside URLs so a srcset candidate stays one URL', () => {
    const r = responsiveImage(image({ thumb: variant('https://cdn.test/a b,c', 320) }));
    expect(r.srcSet).toBe('https://cdn.test/a%20b%2Cc 320w');
  });
});
