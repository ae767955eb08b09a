import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { ClientAddressResolver } from '../services/client-address.ts';

/**
 * The hot path's reads and writes, done the cheap way.
 *
 * @hono/node-server writes a response whose headers are a plain object straight to the socket; a
 * `Headers` object (what Hono builds for more than one header, or for any header set afterwards) costs a
 * conversion each way, more than an authenticated read itself. Likewise `c.req.header()` builds a
 * `Headers` from the raw request, where Node has already parsed them into `incoming.headers`.
 */

/** Marks the answers jsonResponse made: a property, not a WeakSet entry, which the GC would pay for per answer. */
const STAMPED = Symbol('stamped');

/** The Node request behind a Hono request; none in app.request() tests. */
export function nodeRequest(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/**
 * The client's address for throttles and the log (contract §1): the socket's peer, or what trusted
 * proxies forwarded. Cheap enough to work out at each use: the resolver remembers forwarded chains.
 */
export function createClientAddress(resolve: ClientAddressResolver) {
  // Read straight off the socket: getConnInfo builds a whole object, and throws without one.
  return (c: Context): string => resolve(nodeRequest(c)?.socket?.remoteAddress, requestHeader(c, 'x-forwarded-for'));
}

export type ClientAddress = ReturnType<typeof createClientAddress>;

/** The request's header `name` (lower case), from Node's parsed headers when a Node request is behind it. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeRequest(c);
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** For every answer that carries a token: no cache may keep it (contract §1). */
export const NO_STORE: Record<string, string> = Object.freeze({ 'Cache-Control': 'no-store' }) as Record<string, string>;

/**
 * A JSON body serialized once, for an answer that never changes (`/healthz`'s): JSON.stringify is a call
 * into V8's runtime, and with the object it was made from cost a health check 5,200 of its 99,100
 * instructions (callgrind).
 */
export class JsonText {
  readonly text: string;
  constructor(value: unknown) {
    this.text = JSON.stringify(value);
  }
}

/** A JSON answer carrying the contract's content type and the request id, headers as a plain object. */
/** `body` is never a promise: a service's answer is awaited before it is sent (the type refuses it). */
export function jsonResponse<T>(
  c: Context,
  body: T extends PromiseLike<unknown> ? never : T,
  status = 200,
  extraHeaders?: Record<string, string>,
): Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', ...extraHeaders };
  const requestId = c.get('requestId') as string | undefined;
  if (requestId) headers['X-Request-Id'] = requestId;
  const text = body instanceof JsonText ? body.text : JSON.stringify(body);
  const response = new Response(text, { status, headers }) as Response & { [STAMPED]?: true };
  response[STAMPED] = true;
  return response;
}

/** Whether `response` already carries the request id and charset (was made by jsonResponse). */
export function isStamped(response: Response): boolean {
  return (response as Response & { [STAMPED]?: true })[STAMPED] === true;
}
