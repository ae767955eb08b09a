import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { SidekickError } from '../errors.ts';

export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = () => new SidekickError('payload_too_large', 'Request body is too large.');

/** Refuses bodies over 64 KiB, whether announced by Content-Length or streamed. */
export const limitBody: MiddlewareHandler = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw tooLarge();
  },
});

function formToObject(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) result[key] = value;
  return result;
}

/**
 * Parses JSON or form bodies into `c.var.body`; an empty body is `{}`. Any other content type is 415,
 * malformed JSON 400 `parse_error`.
 */
export const parseBody: MiddlewareHandler<{ Variables: { body: unknown } }> = async (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') {
    c.set('body', {});
    return next();
  }
  const text = await c.req.text();
  const mediaType = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (text.length === 0) {
    c.set('body', {});
  } else if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      c.set('body', JSON.parse(text));
    } catch (error) {
      throw new SidekickError('parse_error', `JSON parse error - ${(error as Error).message}`);
    }
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    c.set('body', formToObject(text));
  } else {
    throw new SidekickError(
      'unsupported_media_type',
      `Unsupported media type "${mediaType || 'none'}" in request.`,
    );
  }
  return next();
};
