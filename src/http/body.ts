import type { IncomingMessage, RequestListener } from 'node:http';
import { SidekickError } from '../errors.ts';
import { Upload } from '../services/images.ts';
import { continueWith, type MaybePromise } from '../services/maybe-async.ts';
import type { AppContext } from './context.ts';
import { nodeRequest, requestHeader } from './wire.ts';

export const MAX_BODY_BYTES = 64 * 1024;
/**
 * How much of a too-large body is read and dropped before answering 413. Clients that send the whole
 * body before reading (Python's urllib and requests, axios in Node) lose the answer to a connection
 * reset when the server closes on unread bytes; past this much, closing is the lesser harm.
 */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;

class BodyTooLarge extends SidekickError {
  constructor() {
    super('payload_too_large', 'Request body is too large.');
  }
}

/** What readBodyFirst leaves on a request: its body's bytes, or why they could not be read (the client hung up). */
const READ_FIRST = Symbol('bodyReadFirst');
/** When a request whose body was read first arrived (performance.now()): its log line's time counts from then. */
const ARRIVED = Symbol('arrived');
type ReadFirst = IncomingMessage & { [READ_FIRST]?: Buffer | SidekickError; [ARRIVED]?: number };

const cutShort = () => new SidekickError('parse_error', 'The request body was cut short.');

/**
 * Node's request listener `listener`, handed each request whose body has a declared length within
 * MAX_BODY_BYTES only once that body is in (Node's parser holds a body to its declared length). The app
 * then reads it at once, and a request whose every check is remembered (a refresh) is answered in one
 * go: handing the body over later, through the adapter's, Hono's and the router's promises, cost a
 * refresh 9,000 of its 197,000 instructions and 2 KB of garbage (callgrind, the sampling heap profiler).
 * Other bodies (chunked, larger, uploads) stream to the app as before.
 */
export function readBodyFirst(listener: RequestListener): RequestListener {
  return (incoming: ReadFirst, outgoing) => {
    const declared = incoming.headers['content-length'];
    const length = declared === undefined ? 0 : Number(declared);
    if (!(length > 0 && length <= MAX_BODY_BYTES) || incoming.headers['transfer-encoding'] !== undefined) {
      listener(incoming, outgoing);
      return;
    }
    incoming[ARRIVED] = performance.now();
    collectBody(incoming, MAX_BODY_BYTES, (body) => {
      if (incoming[READ_FIRST] !== undefined) return;
      incoming[READ_FIRST] = body;
      listener(incoming, outgoing);
    });
  };
}

/** When the request arrived, if its body was read before the app saw it (see readBodyFirst). */
export function arrivedAt(c: AppContext): number | undefined {
  return (nodeRequest(c) as ReadFirst | undefined)?.[ARRIVED];
}

export interface BodyLimits {
  /** Largest file a multipart body may carry (SIDEKICK_UPLOAD_MAX). */
  uploadMax: number;
}

function formToObject(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) result[key] = value;
  return result;
}

/** As fetch's text() does: a leading byte-order mark is not part of the text. */
function utf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * A multipart body as DRF's MultiPartParser reads it: the last value of each field, and files as
 * Uploads. A file part with no name is an empty file input, which browsers send as such: absent.
 */
async function parseMultipart(bytes: Buffer, contentType: string, limits: BodyLimits): Promise<Record<string, unknown>> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    throw new SidekickError('parse_error', `Multipart form parse error - ${(error as Error).message}`);
  }
  const result: Record<string, unknown> = {};
  let carriesFile = false;
  for (const [key, value] of form) {
    if (typeof value === 'string') {
      result[key] = value;
    } else if (value.name !== '' || value.size > 0) {
      if (value.size > limits.uploadMax) throw new BodyTooLarge();
      carriesFile = true;
      result[key] = new Upload(value.name, new Uint8Array(await value.arrayBuffer()));
    }
  }
  // Only a file earns the larger limit (contract §1).
  if (!carriesFile && bytes.length > MAX_BODY_BYTES) throw new BodyTooLarge();
  return result;
}

/**
 * Parses JSON, form or multipart bodies; an empty body is `{}`. Any other content type is 415,
 * malformed JSON or multipart 400 `parse_error`.
 */
function parseBody(bytes: Buffer, contentType: string, mediaType: string, limits: BodyLimits): MaybePromise<unknown> {
  if (bytes.length === 0) return {};
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      return JSON.parse(utf8(bytes));
    } catch (error) {
      throw new SidekickError('parse_error', `JSON parse error - ${(error as Error).message}`);
    }
  }
  if (mediaType === 'application/x-www-form-urlencoded') return formToObject(utf8(bytes));
  if (mediaType === 'multipart/form-data') return parseMultipart(bytes, contentType, limits);
  throw new SidekickError('unsupported_media_type', `Unsupported media type "${mediaType || 'none'}" in request.`);
}

/**
 * Collects the body's bytes, refused once they pass `max`, announced or streamed, and hands `done` the
 * bytes or the refusal. A refused body is still read to its end (and dropped), up to DISCARD_MAX_BYTES,
 * before the refusal answers, so a client that is still sending reads the 413 instead of a reset (the
 * answer also closes the connection). Only `done`'s first call counts (an error may follow the end).
 */
function collectBody(incoming: IncomingMessage, max: number, done: (body: Buffer | SidekickError) => void): void {
  const announced = Number(incoming.headers['content-length']);
  if (announced > max + DISCARD_MAX_BYTES) return done(new BodyTooLarge());
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  incoming.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (refused) {
      // Past the bound, answer now: the connection closes under whatever is still coming.
      if (size > max + DISCARD_MAX_BYTES) done(new BodyTooLarge());
    } else if (size > max) {
      refused = true;
      chunks.length = 0;
    } else {
      chunks.push(chunk);
    }
  });
  // `on`, not `once`: each of these comes at most once that matters (see above), and the message is
  // dropped with its listeners, where `once` would wrap each listener in two more objects.
  incoming.on('end', () => done(refused ? new BodyTooLarge() : Buffer.concat(chunks, size)));
  // A client that hangs up mid-body is no server fault: no stack in the log, and nothing left waiting.
  incoming.on('error', () => done(cutShort()));
  incoming.on('close', () => {
    if (!incoming.readableEnded) done(cutShort());
  });
}

/** collectBody's answer as a promise (a promise settles once). */
function readIncoming(incoming: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => collectBody(incoming, max, (body) => (body instanceof SidekickError ? reject(body) : resolve(body))));
}

/** The same for a web-standard body (app.request() in tests, Deno). */
async function readStream(stream: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads, size-limits and parses the request body into `c.var.body`. Only for methods that carry a
 * body: merely asking for one makes the node adapter build a full fetch Request (with an AbortSignal).
 * A multipart body may be as large as the upload limit (plus room for its other fields) until it
 * turns out to carry no file. A body read first (see readBodyFirst) is parsed at once, a JSON or form
 * body without a promise.
 */
export function readBody(c: AppContext, limits: BodyLimits): MaybePromise<void> {
  const contentType = requestHeader(c, 'content-type') ?? '';
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  const max = mediaType === 'multipart/form-data' ? limits.uploadMax + MAX_BODY_BYTES : MAX_BODY_BYTES;
  const incoming = nodeRequest(c) as ReadFirst | undefined;
  const parsed = (bytes: Buffer) =>
    continueWith(parseBody(bytes, contentType, mediaType, limits), (body) => {
      c.set('body', body);
    });
  const readFirst = incoming?.[READ_FIRST];
  if (readFirst instanceof SidekickError) throw readFirst;
  if (readFirst) return parsed(readFirst);
  // Node's own stream is several times cheaper than the web stream the adapter would wrap it in.
  const bytes = incoming && !incoming.readableEnded ? readIncoming(incoming, max) : readStream(c.req.raw.body, max);
  return bytes.then(parsed);
}
