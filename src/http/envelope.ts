import { randomUUID } from 'node:crypto';
import { createRequestLog, type Logger } from '../logger.ts';
import type { AppContext, Handler } from './context.ts';
import { arrivedAt } from './body.ts';
import { handleError } from './errors.ts';
import type { MaybePromise } from '../services/maybe-async.ts';
import { isStamped, requestHeader, type ClientAddress } from './wire.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * What every answer goes through, found or not: a request id (the client's, if well formed), failures
 * turned into the contract's error answers, the contract's headers, and one log line.
 */
export function createEnvelope(logger: Logger, clientAddress: ClientAddress) {
  const requestLog = createRequestLog(logger);
  const failed = handleError(logger);

  /** The answer's headers and its log line. */
  function finish(c: AppContext, response: Response, requestId: string, route: string, started: number): Response {
    if (!isStamped(response)) {
      // Answers not made by jsonResponse (HTML pages, OPTIONS) get the same headers here.
      const headers = response.headers;
      headers.set('X-Request-Id', requestId);
      // Hono's c.json() says only `application/json`; the contract promises the charset too.
      if (headers.get('content-type') === 'application/json') headers.set('Content-Type', 'application/json; charset=utf-8');
    }
    // The route pattern, never the raw path: reset links carry their token in the path.
    requestLog({
      reqId: requestId,
      method: c.req.method,
      route,
      status: response.status,
      client: clientAddress(c),
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return response;
  }

  /**
   * `route` is the pattern the request matched (`/api/users/reset/:uidb64/:token`), '' when none did.
   * Work that answers at once (a read with a known credential) is answered at once, not as a promise.
   */
  return function answer(c: AppContext, work: Handler, route = ''): MaybePromise<Response> {
    // A body read before the app saw the request (see body.ts) counts in the request's time, as it did.
    const started = arrivedAt(c) ?? performance.now();
    const incoming = requestHeader(c, 'x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    let response: MaybePromise<Response>;
    try {
      response = work(c);
    } catch (error) {
      response = failed(error as Error, c);
    }
    return response instanceof Promise
      ? response.then(
          (answered) => finish(c, answered, requestId, route, started),
          (error: unknown) => finish(c, failed(error as Error, c), requestId, route, started),
        )
      : finish(c, response, requestId, route, started);
  };
}
