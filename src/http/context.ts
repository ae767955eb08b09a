import type { Context, Hono } from 'hono';
import type { Authenticated } from '../services/credentials.ts';
import { continueWith, type MaybePromise } from '../services/maybe-async.ts';
import { SidekickError } from '../errors.ts';
import { readBody, type BodyLimits } from './body.ts';
import { errorResponse } from './errors.ts';
import type { ClientAddress } from './wire.ts';

export interface AppEnv {
  Variables: {
    body: unknown;
    auth: Authenticated;
    requestId: string;
  };
}

export type AppContext = Context<AppEnv>;
export type Handler = (c: AppContext) => MaybePromise<Response>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RouterParts {
  /** What every answer goes through (request id, errors, headers, the log line); see envelope.ts. */
  answer(c: AppContext, work: Handler, route: string): MaybePromise<Response>;
  /** The credential's user; at once (not a promise) when it is known, so a read can answer in one go. */
  authenticate(c: AppContext): MaybePromise<Authenticated>;
  /** The client's address (contract §1), for throttles. */
  clientAddress: ClientAddress;
  limits: BodyLimits;
}

/** `/api/users/reset/:uidb64/:token/` → a pattern matching that path with or without its trailing slash. */
const pathPattern = (path: string) =>
  new RegExp(`^${path.replace(/\/+$/, '').replace(/\./g, '\\.').replace(/:\w+/g, '[^/]+')}/?$`);

/**
 * Registers resources: one Hono handler per path that authenticates when asked, checks the method (405
 * with `Allow` otherwise, as DRF answers), reads the body of methods that carry one, and runs the
 * method's handler. One handler, not a middleware chain: Hono calls a lone handler directly, where a
 * chain costs a composed async dispatch per link on every request.
 */
export function createRouter(app: Hono<AppEnv>, parts: RouterParts) {
  const registered: { pattern: RegExp; methods: string[] }[] = [];
  return {
    clientAddress: parts.clientAddress,

    /** The methods a path allows (for CORS preflights, which never reach the resource); [] if none. */
    methodsAt(path: string): string[] {
      return registered.find((entry) => entry.pattern.test(path))?.methods ?? [];
    },

    /** Paths match with or without the trailing slash (the app is not strict). */
    resource(paths: string[], handlers: Partial<Record<Method, Handler>>, options: { authenticated?: boolean } = {}): void {
      const allowed = Object.keys(handlers) as Method[];
      const methods = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'];
      const allowHeader = methods.join(', ');
      for (const path of paths) registered.push({ pattern: pathPattern(path), methods });
      const handle: Handler = (c) => {
        const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
        const handler = handlers[method as Method];
        if (!handler) {
          if (method === 'OPTIONS') return c.body(null, 200, { Allow: allowHeader });
          return errorResponse(c, new SidekickError('method_not_allowed', `Method "${method}" not allowed.`), {
            Allow: allowHeader,
          });
        }
        return BODYLESS.has(method) ? handler(c) : continueWith(readBody(c, parts.limits), () => handler(c));
      };
      // Like DRF, authentication comes first: an anonymous DELETE on a GET-only resource is 401, not 405.
      const work: Handler = options.authenticated
        ? (c) =>
            continueWith(parts.authenticate(c), (auth) => {
              c.set('auth', auth);
              return handle(c);
            })
        : handle;
      // A non-strict Hono app drops the request's trailing slash before matching, so routes are
      // registered without it. The pattern goes into the log line, never the path: reset links carry
      // their token in the path.
      for (const path of paths) {
        const route = path.replace(/\/+$/, '');
        app.all(route, (c) => parts.answer(c, work, route));
      }
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
