// Test page for react.test.ts: a small React app over a real Darkroom server. `?endpoint=…&token=…`.
// useUpload() drives one upload; its states land in window.states; once ready, <DarkroomImage image> and
// <DarkroomImage id> render it. Layout shifts are summed by a PerformanceObserver.
import { createUploader, type ImageJson, pictureHtml } from '@darkroom/client';
import { DarkroomImage, DarkroomProvider, useUpload } from '@darkroom/react';
import { createElement as h, useEffect } from 'react';
import { createRoot } from 'react-dom/client';

declare global {
  interface Window {
    reactReady: boolean;
    states: string[];
    layoutShift: number;
    /** Uploads the file at `path` (served by Vite's /@fs/) through useUpload(). */
    uploadPath(path: string, name: string, type: string): Promise<void>;
    retryUpload(): Promise<void>;
    cancelUpload(): Promise<void>;
    /** Puts the SDK's framework-free pictureHtml() of `image` into #plain (300 px wide). */
    renderPlain(image: ImageJson): void;
  }
}

const params = new URLSearchParams(location.search);
const uploader = createUploader({
  endpoint: params.get('endpoint') ?? '',
  token: params.get('token') ?? '',
  // One attempt, and no waiting out an outage: the retry test makes parts fail and wants the hook (not
  // the SDK) to try again.
  retry: { attempts: 1 },
  offlineGiveUpMs: 0,
});

window.states = [];
window.layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    window.layoutShift += (entry as PerformanceEntry & { value: number }).value;
}).observe({ type: 'layout-shift', buffered: true });

function App() {
  const u = useUpload({ process: false });
  useEffect(() => {
    window.uploadPath = async (path, name, type) => {
      const blob = await (await fetch(`/@fs${path}`)).blob();
      u.upload(new File([blob], name, { type }));
    };
    window.retryUpload = async () => {
      await u.retry();
    };
    window.cancelUpload = () => u.cancel();
  });
  useEffect(() => {
    window.states.push(u.state);
  }, [u.state]);
  return h(
    'main',
    null,
    h('output', {
      id: 'upload',
      'data-state': u.state,
      'data-status': u.status ?? '',
      'data-image-id': u.imageId ?? '',
      'data-sent': u.progress.sent,
      'data-total': u.progress.total,
      'data-can-retry': String(u.canRetry),
      'data-error': u.error?.code ?? '',
    }),
    u.image && u.state === 'ready'
      ? h(
          'div',
          { style: { width: '400px' } },
          h(DarkroomImage, {
            image: u.image,
            alt: 'Uploaded photo',
            sizes: '400px',
            className: 'by-image',
            style: { width: '100%' },
          }),
          h('p', { id: 'below' }, 'Text below the image'),
          h(
            'div',
            { style: { width: '200px' } },
            h(DarkroomImage, {
              id: u.image.id,
              alt: 'Fetched by id',
              sizes: '200px',
              className: 'by-id',
              style: { width: '100%' },
              fallback: h('span', { className: 'loading' }, '…'),
            }),
          ),
        )
      : null,
  );
}

window.renderPlain = (image) => {
  const plain = document.getElementById('plain')!;
  plain.innerHTML = `${pictureHtml(image, { alt: 'Plain HTML', sizes: '300px', className: 'plain', loading: 'eager' })}<p id="below-plain">Below</p>`;
  const img = plain.querySelector('img')!;
  // The helper's markup is static: a page drops the placeholder once the image has loaded.
  img.addEventListener('load', () => {
    img.dataset.state = 'loaded';
  });
};

createRoot(document.getElementById('root')!).render(h(DarkroomProvider, { uploader }, h(App)));
window.reactReady = true;
