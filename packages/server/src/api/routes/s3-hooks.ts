import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { parseS3EventMessage } from '../../worker/s3-events.ts';
import { ApiError } from '../errors.ts';
import { errors } from '../schemas.ts';
import type { ApiDeps, App } from '../types.ts';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The shared secret, however the storage can send it: MinIO sends its `auth_token` verbatim as the
 * Authorization header (so `Bearer <secret>` or the bare secret), Ceph RGW only knows credentials in the
 * endpoint URL (HTTP Basic, the secret as password), and anything else can put `?token=` in the URL.
 */
function presentedSecrets(request: FastifyRequest): string[] {
  const found: string[] = [];
  const auth = request.headers.authorization?.trim();
  if (auth) {
    const [scheme, rest] = auth.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'bearer' && rest) found.push(rest);
    else if (scheme?.toLowerCase() === 'basic' && rest) {
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      found.push(decoded.slice(decoded.indexOf(':') + 1));
    } else found.push(auth);
  }
  const token = (request.query as { token?: unknown }).token;
  if (typeof token === 'string') found.push(token);
  return found;
}

/**
 * POST /v1/hooks/s3 — for S3-compatible storage that can post its bucket notifications to a webhook but
 * not to SQS (MinIO, Ceph RGW): checks the shared secret and that the body is an S3 event, then puts the
 * body on the uploads queue unchanged, where the worker takes it like any notification.
 */
export function s3HooksRoute(app: App, deps: ApiDeps): void {
  const secret = deps.config.s3WebhookSecret;
  const forward = deps.forwardS3Event;
  void app.register(async (hooks: App) => {
    // The event goes on the queue byte for byte, so the body is kept as text.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    hooks.route({
      method: ['POST', 'HEAD'],
      url: '/v1/hooks/s3',
      schema: {
        summary: 'Relay an S3 event notification from storage (MinIO, Ceph RGW) to the uploads queue',
        description:
          'Authenticated with DARKROOM_S3_WEBHOOK_SECRET: `Authorization: Bearer <secret>`, the bare secret, HTTP Basic with the secret as password, or `?token=<secret>`. HEAD answers 200 so storage can check the endpoint.',
        tags: ['hooks'],
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: {
          200: Type.Null(),
          202: Type.Object({ queued: Type.Boolean() }),
          ...errors(400, 401, 404, 503),
        },
        security: [],
      },
      handler: async (request, reply) => {
        if (secret === undefined || forward === undefined) {
          throw new ApiError(
            'not_found',
            'S3 webhooks are off; set DARKROOM_S3_WEBHOOK_SECRET to enable them',
          );
        }
        // MinIO probes the endpoint with an unauthenticated HEAD before it sends anything.
        if (request.method === 'HEAD') return reply.code(200).send(null);
        if (!presentedSecrets(request).some((given) => sameSecret(given, secret))) {
          throw new ApiError('unauthorized', 'send the S3 webhook secret: Authorization: Bearer <secret>');
        }
        const body = typeof request.body === 'string' ? request.body : '';
        const parsed = parseS3EventMessage(body);
        if (parsed.kind === 'unknown')
          throw new ApiError('invalid_event', `not an S3 event: ${parsed.reason}`);
        // A test event, or only non-create records (deletes, say): nothing for the workers.
        if (parsed.kind === 'test' || parsed.records.length === 0)
          return reply.code(202).send({ queued: false });
        try {
          await forward(body);
        } catch (err) {
          throw new ApiError(
            'queue_unavailable',
            'the uploads queue is not reachable; storage should retry',
            {
              'retry-after': '5',
            },
            { cause: err },
          );
        }
        return reply.code(202).send({ queued: true });
      },
    });
  });
}
