import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { Authenticated } from '../services/credentials.ts';
import { SidekickError } from '../errors.ts';
import { errorResponse } from './errors.ts';

export interface AppEnv {
  Variables: {
    body: unknown;
    auth: Authenticated;
    requestId: string;
    clientAddress: string;
  };
}

export type AppContext = Context<AppEnv>;
type Handler = (c: AppContext) => Response | Promise<Response>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Registers one resource: its handlers per method, and 405 with `Allow` for every other method,
 * as DRF answers. Paths match with or without the trailing slash (the app is not strict).
 */
export function resource(
  app: Hono<AppEnv>,
  paths: string[],
  handlers: Partial<Record<Method, Handler>>,
  middleware: MiddlewareHandler<AppEnv>[] = [],
): void {
  const allowed = Object.keys(handlers) as Method[];
  const allowHeader = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
  // Hono's overloads do not take a spread of middleware; the chain is typed by AppEnv all the same.
  const on = app.on.bind(app) as unknown as (method: string, path: string, ...chain: unknown[]) => void;
  const notAllowed: Handler = (c) => {
    if (c.req.method === 'OPTIONS') return c.body(null, 200, { Allow: allowHeader });
    return errorResponse(c, new SidekickError('method_not_allowed', `Method "${c.req.method}" not allowed.`), { Allow: allowHeader });
  };
  // A non-strict Hono app drops the request's trailing slash before matching, so routes are
  // registered without it.
  for (const path of paths.map((p) => p.replace(/\/+$/, ''))) {
    for (const method of allowed) on(method, path, ...middleware, handlers[method]!);
    // Like DRF, authentication runs before the method check: an anonymous DELETE on a GET-only
    // resource is 401, not 405.
    app.all(path, ...(middleware as []), notAllowed);
  }
}
