/**
 * The delivery benchmark's yardstick: node:http alone answering every request with one file's bytes, read
 * once into memory, with the headers a held variant gets. What Node itself costs per request, without
 * Darkroom. Usage: node --import tsx bench/bare-file-server.ts <file>; prints `listening <url>`.
 */
import fs from 'node:fs';
import http from 'node:http';

const body = fs.readFileSync(process.argv[2]!);
const headers = {
  'cache-control': 'public, max-age=31536000, immutable',
  'content-type': 'image/webp',
  'content-length': String(body.length),
};
const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`listening http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
