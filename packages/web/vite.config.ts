import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where `npm run dev` (vite) sends API calls: a `darkroom start` on the default port. */
const api = process.env.DARKROOM_API_URL ?? 'http://127.0.0.1:3000';

/** The web app, built into dist/ and served at `/` by the API process (packages/server/src/api/web-app.ts). */
export default defineConfig({
  root: here,
  base: '/',
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // Every asset a file of its own: the CSP allows self-hosted files, and hashed names cache forever.
    assetsInlineLimit: 0,
    // libheif (HEIC decoding, about 2 MB) is loaded lazily, only for HEIC files the browser cannot decode.
    chunkSizeWarningLimit: 2500,
  },
  server: {
    proxy: { '/v1': api, '/img': api, '/private': api, '/dev': api },
  },
});
