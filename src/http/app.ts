import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Sidekick } from '../sidekick.ts';
import { accountsRoutes } from './accounts-routes.ts';
import { limitBody, MAX_BODY_BYTES, parseBody } from './body.ts';
import type { AppEnv } from './context.ts';
import { handleError, errorResponse } from './errors.ts';
import { kitchenRoutes } from './kitchen-routes.ts';
import { SidekickError } from '../errors.ts';
import { isStamped, jsonResponse, requestHeader } from './wire.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The peer's address, read straight off the socket (getConnInfo builds a whole object and throws without one). */
function clientAddress(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // No socket behind the request in app.request() tests.
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

const tooLarge = () => new SidekickError('payload_too_large', 'Request body is too large.');

/** The body as text, refused once it passes `max` bytes, announced or streamed. */
function readIncoming(incoming: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(incoming.headers['content-length']) > max) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    incoming.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > max) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    });
    incoming.once('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks, size).toString('utf8');
      // As fetch's text() does: a leading byte-order mark is not part of the text.
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    incoming.once('error', reject);
  });
}

/** The HTTP face of a Sidekick: both APIs, one error model. A factory, so tests build one each. */
export function createHttpApp(sidekick: Sidekick): Hono<AppEnv> {
  const { services, logger } = sidekick;
  const app = new Hono<AppEnv>({ strict: false });
  // Request lines carry fixed, non-secret fields only (a validated id, the route pattern, never the
  // path): they skip redaction, which would cost more than the rest of the line.
  const requestLog = logger.child({}, { redact: [] });

  app.use('*', async (c, next) => {
    const started = performance.now();
    const incoming = requestHeader(c, 'x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('clientAddress', clientAddress(c));
    await next();
    if (!isStamped(c.res)) {
      // Answers not made by jsonResponse (HTML pages, OPTIONS, Hono's own) get the same headers here.
      const headers = c.res.headers;
      headers.set('X-Request-Id', requestId);
      // Hono's c.json() says only `application/json`; the contract promises the charset too.
      if (headers.get('content-type') === 'application/json') headers.set('Content-Type', 'application/json; charset=utf-8');
    }
    // The route pattern, never the raw path: reset links carry their token in the path.
    requestLog.info(
      {
        reqId: requestId,
        method: c.req.method,
        route: routePath(c, -1),
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  });
  const parseAnyBody = parseBody as unknown as MiddlewareHandler<AppEnv>;
  app.use('*', async (c, next) => {
    // Bodyless methods skip the body middleware entirely: merely asking for a body makes the node
    // adapter build a full fetch Request (with an AbortSignal) for every authenticated read.
    if (BODYLESS.has(c.req.method)) {
      c.set('body', {});
      return next();
    }
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming || incoming.readableEnded) {
      // No Node request behind it (app.request() in tests): the web-stream path.
      await limitBody(c, async () => void (await parseAnyBody(c, next)));
      return;
    }
    // Hono's body limit re-wraps the request in a counting web stream and a second Request; reading
    // Node's own stream is several times cheaper and enforces the same limit. parseBody then finds the
    // text already in Hono's body cache.
    (c.req.bodyCache as { text?: Promise<string> }).text = readIncoming(incoming, MAX_BODY_BYTES);
    await parseAnyBody(c, next);
  });

  const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set('auth', await services.auth.authenticate(requestHeader(c, 'authorization')));
    await next();
  };

  app.get('/healthz', (c) => {
    if (!services.health()) throw new SidekickError('error', 'database unavailable');
    return jsonResponse(c, { status: 'ok' });
  });
  accountsRoutes(app, services, requireAuth);
  kitchenRoutes(app, services, requireAuth);

  app.notFound((c) => errorResponse(c, new SidekickError('not_found', 'Not found.')));
  app.onError(handleError(logger));
  return app;
}
