import { Hono } from 'hono';
import type { Sidekick } from '../sidekick.ts';
import { accountsRoutes } from './accounts-routes.ts';
import { createRouter, type AppEnv } from './context.ts';
import { corsMiddleware } from './cors.ts';
import { createEnvelope } from './envelope.ts';
import { handleError } from './errors.ts';
import { kitchenRoutes } from './kitchen-routes.ts';
import { mediaRoutes } from './media-routes.ts';
import { referenceRoutes } from './reference-routes.ts';
import { sidekickVersion } from '../version.ts';
import { SidekickError } from '../errors.ts';
import { createClientAddress, jsonResponse, JsonText, requestHeader } from './wire.ts';
import { createClientAddressResolver } from '../services/client-address.ts';
import { continueWith } from '../services/maybe-async.ts';

/** The HTTP face of a Sidekick: both APIs, one error model. A factory, so tests build one each. */
export function createHttpApp(sidekick: Sidekick): Hono<AppEnv> {
  const { services, logger, config } = sidekick;
  const app = new Hono<AppEnv>({ strict: false });
  const clientAddress = createClientAddress(createClientAddressResolver(config.trustedProxies));
  const answer = createEnvelope(logger, clientAddress);
  const router = createRouter(app, {
    answer,
    clientAddress,
    authenticate: (c) => services.auth.authenticate(requestHeader(c, 'authorization')),
    limits: { uploadMax: config.uploadMax },
  });
  // Before the routes, so it runs first; the router fills in the methods it asks for as routes register.
  if (config.corsOrigins.length > 0) app.use(corsMiddleware(config.corsOrigins, router.methodsAt));

  const healthy = new JsonText({ status: 'ok', version: sidekickVersion() });
  router.resource(['/healthz'], {
    GET: (c) =>
      continueWith(services.health.check(), (ok) => {
        if (!ok) throw new SidekickError('unavailable', 'The database cannot be read or written.');
        return jsonResponse(c, healthy);
      }),
  });
  accountsRoutes(router, services);
  kitchenRoutes(router, services);
  mediaRoutes(router, services);
  referenceRoutes(router, config);

  app.notFound((c) =>
    answer(c, () => {
      throw new SidekickError('not_found', 'Not found.');
    }),
  );
  // Every route answers through the envelope, which turns failures into answers; this is the last resort.
  app.onError(handleError(logger));
  return app;
}
