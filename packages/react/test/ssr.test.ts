// Server rendering in Node (no DOM): <DarkroomImage image> is complete HTML from the first byte (box,
// srcset, placeholder), <DarkroomImage id> renders its fallback, and useUpload() renders idle.
import type { ImageJson } from '@darkroom/client';
import { imgHtml } from '@darkroom/client';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { rgbaToThumbHash } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { DarkroomImage, useUpload } from '../src/index.ts';

/** A real thumbhash (base64) of an 8×6 orange-to-blue gradient. */
function gradientHash(): string {
  const rgba = new Uint8Array(8 * 6 * 4);
  for (let i = 0; i < 8 * 6; i++) rgba.set([255 - i * 5, 120, i * 5, 255], i * 4);
  return Buffer.from(rgbaToThumbHash(8, 6, rgba)).toString('base64');
}

const image: ImageJson = {
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
  variants: {
    thumb: {
      url: 'https://cdn.test/img/img_1/thumb',
      width: 320,
      height: 213,
      bytes: 1,
      contentType: 'image/webp',
    },
    large: {
      url: 'https://cdn.test/img/img_1/large',
      width: 2560,
      height: 1707,
      bytes: 1,
      contentType: 'image/webp',
    },
  },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

let started: (() => unknown) | undefined;
/** Renders the hook's state; keeps its `upload` to call after rendering. */
function Probe() {
  const u = useUpload();
  started = () => u.upload(new Blob(['x']));
  return h('output', { 'data-state': u.state, 'data-sent': u.progress.sent }, String(u.canRetry));
}

describe('server rendering', () => {
  it('<DarkroomImage image> renders the <img> with srcset, sizes, the box and the placeholder', () => {
    const html = renderToString(
      h(DarkroomImage, { image, alt: 'A heron', sizes: '50vw', className: 'photo' }),
    );
    expect(html).toMatch(/^<img /);
    expect(html).toContain(
      'srcSet="https://cdn.test/img/img_1/thumb 320w, https://cdn.test/img/img_1/large 2560w"',
    );
    expect(html).toContain('sizes="50vw"');
    expect(html).toContain('width="3000" height="2000"');
    expect(html).toContain('alt="A heron"');
    expect(html).toContain('class="photo"');
    expect(html).toContain('loading="lazy"');
    expect(html).toContain('aspect-ratio:3000 / 2000');
    expect(html).toContain('background-color:#7c7877');
    expect(html).toMatch(/background-image:url\(data:image\/png;base64,[A-Za-z0-9+/=]+\)/);
    expect(html).toContain('data-state="placeholder"');
    // The framework-free helper gives the same srcset and src.
    const plain = imgHtml(image, { alt: 'A heron', sizes: '50vw' });
    expect(plain).toContain(
      'srcset="https://cdn.test/img/img_1/thumb 320w, https://cdn.test/img/img_1/large 2560w"',
    );
    expect(plain).toContain(' src="https://cdn.test/img/img_1/large"');
    expect(html).toContain('src="https://cdn.test/img/img_1/large"');
  });

  it('<DarkroomImage id> renders its fallback until the image is fetched (effects do not run on the server)', () => {
    const html = renderToString(
      h(DarkroomImage, { id: 'img_1', alt: 'x', fallback: h('span', { className: 'loading' }, '…') }),
    );
    expect(html).toBe('<span class="loading">…</span>');
  });

  it('useUpload() renders idle without an uploader; starting an upload without one says what to do', () => {
    expect(renderToString(h(Probe))).toBe('<output data-state="idle" data-sent="0">false</output>');
    expect(() => started?.()).toThrow(/DarkroomProvider uploader=/);
  });
});
