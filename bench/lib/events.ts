/** GET /v1/events as the benchmarks read it: one SSE stream per owner, each event with when it arrived. */
import http from 'node:http';

/** Wall clock in ms with sub-ms resolution, comparable with the server's Date.now() timestamps. */
export const now = () => performance.timeOrigin + performance.now();

/** A status event's body (the fields the benchmarks read). */
export interface StatusEvent {
  imageId: string;
  status: string;
  at: string;
}

/** One SSE stream for the owner; calls `onEvent` for each status event, resolves once connected. */
export function openEvents(
  api: string,
  token: string,
  onEvent: (e: StatusEvent, receivedAt: number) => void,
): Promise<http.ClientRequest> {
  return new Promise<http.ClientRequest>((resolve, reject) => {
    const req = http.get(
      `${api}/v1/events`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /v1/events → ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const receivedAt = now();
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            // `id:` lines carry the resume point (unused here: one stream for the whole run).
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data) onEvent(JSON.parse(data) as StatusEvent, receivedAt);
          }
        });
        resolve(req);
      },
    );
    req.once('error', reject);
  });
}
