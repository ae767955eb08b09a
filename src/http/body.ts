import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { SidekickError } from '../errors.ts';
import type { AppContext } from './context.ts';
import { nodeRequest } from './wire.ts';

export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = () => new SidekickError('payload_too_large', 'Request body is too large.');

/** Refuses bodies over 64 KiB, whether announced by Content-Length or streamed. */
const limitBody: MiddlewareHandler = bodyLimit({
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
async function parseBody(c: AppContext): Promise<void> {
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
}

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

/**
 * Reads, size-limits and parses the request body into `c.var.body` (see parseBody). Only for methods
 * that carry a body: merely asking for one makes the node adapter build a full fetch Request (with an
 * AbortSignal).
 */
export async function readBody(c: AppContext): Promise<void> {
  const incoming = nodeRequest(c);
  if (!incoming || incoming.readableEnded) {
    // No Node request behind it (app.request() in tests): the web-stream path.
    await limitBody(c, () => parseBody(c));
    return;
  }
  // Hono's body limit re-wraps the request in a counting web stream and a second Request; reading
  // Node's own stream is several times cheaper and enforces the same limit. parseBody then finds the
  // text already in Hono's body cache.
  (c.req.bodyCache as { text?: Promise<string> }).text = readIncoming(incoming, MAX_BODY_BYTES);
  await parseBody(c);
}
