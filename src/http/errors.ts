import type { Context } from 'hono';
import { ERROR_CODES, SidekickError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { jsonResponse } from './wire.ts';

/** `WWW-Authenticate` challenge for a 401, as DRF sends for the first authenticator of the view. */
export function challengeFor(path: string): string {
  return path.startsWith('/api/') ? 'Bearer realm="api"' : 'Token';
}

export function errorResponse(c: Context, error: SidekickError, extraHeaders?: Record<string, string>): Response {
  const status = ERROR_CODES[error.code].status;
  const headers: Record<string, string> = { ...extraHeaders };
  if (status === 401) headers['WWW-Authenticate'] = challengeFor(c.req.path);
  if (error.retryAfter !== undefined) headers['Retry-After'] = String(error.retryAfter);
  // The rest of a refused body may still be arriving; reusing the connection would read it as a request.
  if (error.code === 'payload_too_large') headers.Connection = 'close';
  const body: Record<string, unknown> = error.fields ? { ...error.fields } : { detail: error.message, code: error.code };
  // The accounts original's app shows `error.response.data.message` for every error (contract §1).
  if (c.req.path.startsWith('/api/')) body.message = error.fields ? (Object.values(error.fields)[0]?.[0] ?? error.message) : error.message;
  return jsonResponse(c, body, status, headers);
}

/** The one place a failure becomes an HTTP answer. Nothing of an unexpected error reaches the client. */
export function handleError(logger: Logger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof SidekickError) return errorResponse(c, error);
    logger.error({ err: error, method: c.req.method, reqId: c.get('requestId') }, 'unhandled error');
    return errorResponse(c, new SidekickError('error', 'A server error occurred.'));
  };
}
