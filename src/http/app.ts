import { randomUUID } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Sidekick } from '../sidekick.ts';
import { accountsRoutes } from './accounts-routes.ts';
import { readBody } from './body.ts';
import type { AppEnv } from './context.ts';
import { handleError, errorResponse } from './errors.ts';
import { kitchenRoutes } from './kitchen-routes.ts';
import { SidekickError } from '../errors.ts';
import { isStamped, jsonResponse, nodeRequest, requestHeader } from './wire.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The peer's address, read straight off the socket (getConnInfo builds a whole object and throws without one). */
function clientAddress(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  return nodeRequest(c)?.socket?.remoteAddress ?? 'unknown';
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
  app.use('*', readBody as unknown as MiddlewareHandler<AppEnv>);

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
