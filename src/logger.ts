import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * POSIX makes a pipe write of at most this many bytes atomic: workers sharing one stderr pipe (docker, a
 * supervisor) never interleave their lines inside such a write.
 */
const PIPE_BUF = 4096;
const encoder = new TextEncoder();
const NEWLINE = 0x0a;
/** The log sink's first encoding buffer; it grows to what a turn's lines need (at most three bytes per UTF-16 unit). */
const BATCH_START_BYTES = 4 * PIPE_BUF;
/**
 * The largest buffer the sink keeps after a turn. Generous, so a busy server does not allocate a new
 * one every turn; a burst beyond it (a flood of long error lines) does not stay in memory for good.
 */
const BATCH_KEPT_BYTES = 1 << 20;
/** For waiting out a full non-blocking pipe without spinning (Atomics.wait sleeps the thread). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `bytes` to `fd`, waiting while a non-blocking pipe is full. A destination that fails
 * otherwise (a closed pipe) loses the lines: the server keeps serving.
 */
function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * Lines for `fd`, written once per event-loop turn: the lines logged during a turn are joined into one
 * string, encoded at once when the turn ends (setImmediate), and written synchronously in writes of at
 * most PIPE_BUF bytes cut at line ends (a longer line goes alone). A server answers many requests per turn
 * under load, so this costs one encoding and a syscall per few dozen lines instead of one of each per
 * line, and no trip through libuv's thread pool (an asynchronous write per line cost more than the request
 * it logged). A reader that falls behind slows the server down instead of growing its memory without
 * bound. Lines pending when the process exits, or when pino is asked to flush, are written at once.
 */
function turnBatchedSink(fd: number): pino.DestinationStream & { flush(callback?: () => void): void } {
  let pending = '';
  let scheduled = false;
  let encoded = new Uint8Array(BATCH_START_BYTES);
  const flushNow = () => {
    scheduled = false;
    if (pending.length === 0) return;
    if (encoded.length < 3 * pending.length) encoded = new Uint8Array(3 * pending.length);
    const { written } = encoder.encodeInto(pending, encoded);
    pending = '';
    // A newline byte is never part of a longer UTF-8 character, so these cuts fall at line ends.
    let start = 0;
    while (start < written) {
      let end = written;
      if (written - start > PIPE_BUF) {
        end = encoded.lastIndexOf(NEWLINE, start + PIPE_BUF - 1) + 1;
        if (end <= start) {
          // One line longer than a write may be: it goes alone, up to its end.
          const next = encoded.indexOf(NEWLINE, start + PIPE_BUF);
          end = next === -1 || next >= written ? written : next + 1;
        }
      }
      writeAll(fd, encoded.subarray(start, end));
      start = end;
    }
    if (encoded.length > BATCH_KEPT_BYTES) encoded = new Uint8Array(BATCH_START_BYTES);
  };
  process.once('exit', flushNow);
  return {
    write(line: string) {
      pending += line;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushNow);
      }
    },
    flush(callback?: () => void) {
      flushNow();
      callback?.();
    },
  };
}

/** JSON lines on stderr, so stdout stays free for a command's own output. */
export function createLogger(level: string, destination: pino.DestinationStream | number = 2): Logger {
  return pino(
    {
      level,
      base: undefined,
      // Belt and braces: even a field logged by mistake never carries a credential.
      redact: {
        paths: ['password', 'new_password', 'otp', 'token', 'access', 'refresh', 'secret', '*.password', '*.token', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    typeof destination === 'number' ? turnBatchedSink(destination) : destination,
  );
}

/** The one line every answered request logs (docs/logs.md lists the fields). */
export interface RequestLine {
  /** Validated by the envelope: letters, digits, `.`, `_` and `-` only, so it needs no escaping. */
  reqId: string;
  method: string;
  route: string;
  status: number;
  client: string;
  ms: number;
}

const INFO = pino.levels.values.info;
/** Distinct quoted values the request log keeps (it forgets them all when full). */
const QUOTED_REMEMBERED = 1024;

/**
 * Writes request lines to `logger`'s destination, formatted here exactly as pino formats
 * `logger.info(fields, 'request')`, at the logger's level. Every request writes one, with fixed fields
 * that carry nothing secret (a validated id, the route pattern, never the raw path): pino's general
 * serialiser and its redaction would cost more than the rest of a cheap request's own work.
 */
export function createRequestLog(logger: Logger): (line: RequestLine) => void {
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  // Methods, route patterns and client addresses come from small sets: a remembered quoting is cheaper
  // than JSON.stringify, a call into V8's runtime, three times per line.
  const quoted = new Map<string, string>();
  const quote = (value: string): string => {
    let json = quoted.get(value);
    if (json === undefined) {
      json = JSON.stringify(value);
      if (quoted.size >= QUOTED_REMEMBERED) quoted.clear();
      quoted.set(value, json);
    }
    return json;
  };
  return (line) => {
    if (logger.levelVal > INFO) return;
    stream.write(
      `{"level":${INFO},"time":${Date.now()},"reqId":"${line.reqId}","method":${quote(line.method)},"route":${quote(line.route)},` +
        `"status":${line.status},"client":${quote(line.client)},"ms":${line.ms},"msg":"request"}\n`,
    );
  };
}
