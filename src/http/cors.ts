import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { requestHeader } from './wire.ts';

/**
 * CORS for browser front ends on other origins (contract §1), through hono/cors, entered only for an
 * allowed `Origin`: requests from unlisted origins, and every request without one (the apps, curl,
 * other services), pass by untouched and get no CORS header at all. Preflights are answered here, so
 * before any authentication, with the methods of the path they ask about. Registered only when
 * SIDEKICK_CORS_ORIGINS is set, so the default server pays nothing for it.
 */
export function corsMiddleware(origins: readonly string[], methodsAt: (path: string) => string[]): MiddlewareHandler {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  const answer = cors({
    origin: anyOrigin ? '*' : (origin) => origin,
    allowMethods: (_origin, c) => methodsAt(c.req.path),
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposeHeaders: ['Retry-After', 'X-Request-Id', 'WWW-Authenticate'],
    maxAge: 600,
  });
  return async (c, next) => {
    const origin = requestHeader(c, 'origin');
    if (!origin || !(anyOrigin || allowed.has(origin))) return next();
    // An OPTIONS that asks nothing of CORS is the resource's own (DRF answers it with Allow).
    if (c.req.method === 'OPTIONS' && !requestHeader(c, 'access-control-request-method')) return next();
    return answer(c, next);
  };
}
