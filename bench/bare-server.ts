/**
 * The presign benchmark's baseline: a bare Fastify route that parses the same JSON body and answers a
 * constant JSON document of the same size as a real upload intent. Prints `listening <port>`.
 */
import Fastify from 'fastify';

const size = Number(process.env.RESPONSE_BYTES ?? 900);
const template = {
  image: { id: '00000000-0000-4000-8000-000000000000', status: 'pending' },
  upload: { method: 'put', url: '' },
};
template.upload.url = 'x'.repeat(Math.max(0, size - JSON.stringify(template).length));
const body = JSON.stringify(template);

const app = Fastify();
app.post('/v1/uploads', async (_request, reply) =>
  reply.code(201).header('content-type', 'application/json').send(body),
);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
