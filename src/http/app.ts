import { randomUUID } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { routePath } from 'hono/route';
import type { Sidekick } from '../sidekick.ts';
import { accountsRoutes } from './accounts-routes.ts';
import { limitBody, parseBody } from './body.ts';
import type { AppEnv } from './context.ts';
import { handleError, errorResponse } from './errors.ts';
import { kitchenRoutes } from './kitchen-routes.ts';
import { SidekickError } from '../errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function clientAddress(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // No socket behind the request (app.request() in tests).
    return 'unknown';
  }
}

/** The HTTP face of a Sidekick: both APIs, one error model. A factory, so tests build one each. */
export function createHttpApp(sidekick: Sidekick): Hono<AppEnv> {
  const { services, logger } = sidekick;
  const app = new Hono<AppEnv>({ strict: false });

  app.use('*', async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('clientAddress', clientAddress(c));
    await next();
    c.header('X-Request-Id', requestId);
    // The route pattern, never the raw path: reset links carry their token in the path.
    logger.info(
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
  app.use('*', limitBody, parseBody);

  const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set('auth', await services.auth.authenticate(c.req.header('authorization')));
    await next();
  };

  app.get('/healthz', (c) => {
    if (!services.health()) throw new SidekickError('error', 'database unavailable');
    return c.json({ status: 'ok' });
  });
  accountsRoutes(app, services, requireAuth);
  kitchenRoutes(app, services, requireAuth);

  app.notFound((c) => errorResponse(c, new SidekickError('not_found', 'Not found.')));
  app.onError(handleError(logger));
  return app;
}
